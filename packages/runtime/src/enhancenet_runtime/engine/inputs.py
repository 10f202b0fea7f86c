"""Checks of what a user hands the command line, done before any model is built or file written.

* :func:`image_header_size`: the (width, height) an image file declares, read from its header (PNG, JPEG,
  BMP, GIF, WebP) without decoding it, so an empty file or one claiming 100000×100000 pixels is refused
  with its name instead of reaching the decoder; :data:`MAX_IMAGE_PIXELS` is the limit.
* :func:`check_image_file`: existence, a non-empty file, and the header size within the limit.
* :func:`check_boxes_for_image`: person boxes ``(x, y, w, h)`` against the image
  (:func:`check_boxes`: finite, w, h > 0, overlapping the image, at most
  :data:`MAX_BOX_TO_IMAGE` times the image's size).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_BOX_TO_IMAGE",
    "MAX_IMAGE_PIXELS",
    "check_boxes",
    "check_boxes_for_image",
    "check_image_file",
    "image_header_size",
    "person_boxes",
]

#: Largest image ``predict`` decodes (width × height): 100 megapixels (a 10000×10000 photograph).
MAX_IMAGE_PIXELS: int = 100_000_000

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` declared by the header of a PNG, JPEG, BMP, GIF or WebP file's first bytes
    (64 KiB is enough for JPEG's usual metadata), or ``None`` for another or an unreadable format."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def check_image_file(path: str | os.PathLike[str], max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int] | None:
    """Refuse a missing, empty or oversized image file before decoding it; returns its header size.

    Raises:
        FileNotFoundError: no such file. ValueError: an empty file, a header declaring a zero size or more
            than ``max_pixels`` pixels (naming the file, the size and the limit).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file {p} not found")
    with p.open("rb") as f:
        head = f.read(65536)
    if not head:
        raise ValueError(f"image file {p} is empty (0 bytes)")
    size = image_header_size(head)
    if size is None:
        return None  # another format: the decoder's own checks apply
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"image file {p}: its header declares a {w}x{h} image")
    if w * h > max_pixels:
        raise ValueError(f"image file {p}: its header declares {w}x{h} pixels, over the limit of "
                         f"{max_pixels:,} pixels (enhancenet_runtime.engine.inputs.MAX_IMAGE_PIXELS)")
    return w, h


def check_boxes_for_image(boxes: Sequence[Sequence[float]], size: tuple[int, int] | None) -> np.ndarray:
    """``(N, 4)`` boxes checked against an image of ``size = (width, height)`` (only finite, w, h > 0 when
    the size is not known from the header)."""
    if size is None:
        return check_boxes(boxes, None, None)
    return check_boxes(boxes, size[0], size[1])


MAX_BOX_TO_IMAGE: float = 4.0


def check_boxes(boxes: Sequence[Sequence[float]], width: int | None, height: int | None) -> np.ndarray:
    """Validate ``(x, y, w, h)`` person boxes against an image of ``width × height`` pixels.

    Returns:
        (N, 4) float64 boxes.

    Raises:
        ValueError: a box with a non-positive size, a non-finite value, no overlap with the image, or a width
            (height) over :data:`MAX_BOX_TO_IMAGE` times the image's (naming the box and the image size).
            Boxes that only partly leave the image are kept (as detector boxes). With ``width``/``height``
            ``None`` only the finite, positive-size checks apply.
    """
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(arr).all(axis=1)
    positive = (arr[:, 2] > 0) & (arr[:, 3] > 0)
    for i in np.flatnonzero(~(finite & positive)):
        raise ValueError(f"box #{i} {arr[i].tolist()}: expected finite x, y and positive w, h")
    if width is None or height is None:
        return arr
    outside = (arr[:, 0] >= width) | (arr[:, 1] >= height) | (arr[:, 0] + arr[:, 2] <= 0) | (arr[:, 1] + arr[:, 3] <= 0)
    for i in np.flatnonzero(outside):
        raise ValueError(f"box #{i} {arr[i].tolist()} lies outside the image ({width}x{height} pixels)")
    huge = (arr[:, 2] > MAX_BOX_TO_IMAGE * width) | (arr[:, 3] > MAX_BOX_TO_IMAGE * height)
    for i in np.flatnonzero(huge):
        raise ValueError(f"box #{i} {arr[i].tolist()} is more than {MAX_BOX_TO_IMAGE:g} times the image "
                         f"({width}x{height} pixels) wide or high")
    return arr


def person_boxes(boxes: Sequence[Sequence[float]] | np.ndarray | None, width: int, height: int) -> np.ndarray:
    """``(N, 4)`` float64 boxes (x, y, w, h) for an image of ``width × height``: ``None`` -> the whole image
    ``[[0, 0, width, height]]``; otherwise ``(4,)`` or ``(N, 4)`` boxes checked by
    :func:`check_boxes_for_image` (finite, w, h > 0, overlapping the image, at most
    :data:`MAX_BOX_TO_IMAGE` times its size). ``N = 0`` is allowed."""
    if boxes is None:
        return np.array([[0.0, 0.0, float(width), float(height)]])
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("boxes: expected (N, 4) numbers (x, y, w, h) in image pixels") from None
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        if arr.size == 0:
            return np.zeros((0, 4))
        raise ValueError(f"boxes: expected shape (N, 4) or (4,) of (x, y, w, h), got {arr.shape}")
    return check_boxes_for_image(arr, (width, height))
