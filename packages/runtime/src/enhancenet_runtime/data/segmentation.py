"""COCO ``segmentation`` fields <-> binary masks, without pycocotools (used for ``iscrowd`` regions).

COCO stores a segmentation in one of three forms; all decode to an ``(H, W)`` bool mask:

* polygons ``[[x1, y1, x2, y2, ...], ...]`` in pixel coordinates: filled with OpenCV (``fillPoly`` on
  1/16-px fixed-point vertices, the pixel-centre convention). pycocotools rasterises polygons by its own
  upsampled scan, so pixels on the outline may differ from it (interior pixels agree);
* uncompressed RLE ``{"counts": [n0, n1, ...], "size": [H, W]}``: run lengths over the mask in column-major
  (Fortran) order, starting with a run of zeros (what COCO uses for ``iscrowd`` annotations);
* compressed RLE ``{"counts": "<string>", "size": [H, W]}``: pycocotools' ``rleToString`` encoding (6-bit
  groups offset by 48, runs after the second stored as differences), decoded exactly.

:func:`encode_rle` writes the uncompressed form. A malformed field raises a one-line ``ValueError`` that names
``where`` (the annotation) and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["decode_rle_string", "decode_segmentation", "encode_rle"]

_SHIFT = 4


def encode_rle(mask: NDArray) -> dict[str, Any]:
    """``(H, W)`` mask -> uncompressed COCO RLE ``{"counts": [...], "size": [H, W]}`` (column-major runs)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {m.shape}")
    flat = m.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:  # counts start with a run of zeros
        runs = [0, *runs]
    return {"counts": [int(r) for r in runs], "size": [int(m.shape[0]), int(m.shape[1])]}


def decode_rle_string(s: str, where: str = "segmentation") -> list[int]:
    """pycocotools' compressed RLE string -> run lengths."""
    data = np.frombuffer(s.encode("ascii", errors="replace"), dtype=np.uint8).astype(np.int64) - 48
    if data.size and (data.min() < 0 or data.max() > 63):
        raise ValueError(f"{where}: compressed RLE counts hold characters outside '0'..'o'")
    counts: list[int] = []
    p = 0
    while p < data.size:  # one loop step per run (runs, not pixels)
        x = k = 0
        more = True
        while more:
            if p >= data.size:
                raise ValueError(f"{where}: compressed RLE counts end inside a number")
            c = int(data[p])
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _rle_mask(counts: Sequence[int], h: int, w: int, where: str) -> NDArray[np.bool_]:
    runs = np.asarray(counts, dtype=np.int64)
    if runs.ndim != 1 or (runs.size and runs.min() < 0) or int(runs.sum()) != h * w:
        raise ValueError(f"{where}: RLE counts must be non-negative runs summing to H*W = {h * w}")
    values = (np.arange(runs.size) % 2).astype(bool)
    return np.repeat(values, runs).reshape((h, w), order="F")


def decode_segmentation(seg: Any, height: int, width: int, where: str = "segmentation") -> NDArray[np.bool_]:
    """A COCO ``segmentation`` (polygons, RLE or compressed RLE) -> ``(height, width)`` bool mask."""
    if isinstance(seg, Mapping):
        size = seg.get("size")
        counts = seg.get("counts")
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise ValueError(f"{where}: RLE needs 'size' [H, W], got {size!r}")
        h, w = int(size[0]), int(size[1])
        if isinstance(counts, bytes):  # pycocotools' own encode returns bytes
            counts = counts.decode("ascii", errors="replace")
        if isinstance(counts, str):
            counts = decode_rle_string(counts, where)
        elif not isinstance(counts, (list, tuple)):
            raise ValueError(f"{where}: RLE 'counts' must be a list or a string, got {type(counts).__name__}")
        mask = _rle_mask(counts, h, w, where)
        if (h, w) != (height, width):  # an RLE of another size: resize (nearest), as the image was
            mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        return mask
    if isinstance(seg, (list, tuple)):
        canvas = np.zeros((height, width), np.uint8)
        polys = []
        for j, poly in enumerate(seg):
            pts = np.asarray(poly, dtype=np.float64)
            if pts.ndim != 1 or pts.size < 6 or pts.size % 2 or not np.all(np.isfinite(pts)):
                raise ValueError(f"{where}[{j}]: a polygon must be a flat list of >= 3 finite (x, y) pairs")
            polys.append(np.round(pts.reshape(-1, 2) * (1 << _SHIFT)).astype(np.int32))
        if polys:
            cv2.fillPoly(canvas, polys, 1, lineType=cv2.LINE_8, shift=_SHIFT)
        return canvas > 0
    raise ValueError(f"{where}: expected polygons (a list) or an RLE (a mapping), got {type(seg).__name__}")
