"""Image I/O, the top-down affine crop and input normalisation (OpenCV; the ``enhancenet-core[data]`` extra).

Images are ``(H, W, 3)`` uint8, RGB when ``color_rgb`` (HRNet's ``DATASET.COLOR_RGB``, True in every HRNet
config), else OpenCV's BGR. The network input is ``(3, H_in, W_in)`` float32, ``(x / 255 - mean) / std`` with
ImageNet's mean/std in the image's channel order as given (HRNet's ``ToTensor`` + ``Normalize``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.transforms import PIXEL_STD, get_affine_transform

try:  # the optional extra enhancenet-core[data]
    import cv2
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("enhancenet_runtime.data.image needs OpenCV: pip install 'enhancenet-core[data]'") from exc

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "crop_patch", "normalize_image", "read_image", "warp_patch"]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)  # RGB
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def read_image(path: str | os.PathLike[str], color_rgb: bool = True) -> NDArray[np.uint8]:
    """Read an image file as ``(H, W, 3)`` uint8 (RGB if ``color_rgb`` else BGR), EXIF orientation ignored
    (HRNet reads with ``IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION``: COCO keypoints refer to the stored pixels).

    Raises:
        FileNotFoundError: the file does not exist (naming it).
        ValueError: the file exists but OpenCV cannot decode it.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError(f"image file {p} not found")
    # imdecode from bytes: works for any path encoding, unlike cv2.imread.
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"image file {p} is empty (0 bytes)")
    try:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV's limit
        raise ValueError(f"image file {p} could not be decoded: {str(exc).strip().splitlines()[-1]}") from None
    if img is None:
        raise ValueError(f"image file {p} could not be decoded as an image")
    if color_rgb:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def crop_patch(
    image: NDArray[np.uint8],
    center: ArrayLike,
    scale: ArrayLike,
    rotation: float,
    input_size: Sequence[int],
    pixel_std: float = PIXEL_STD,
    convention: CoordinateConvention = CoordinateConvention.LEGACY,
) -> NDArray[np.uint8]:
    """Warp the crop window ``(center, scale, rotation)`` of ``image`` to an ``input_size`` patch (HRNet).

    Uses :func:`enhancenet_core.transforms.get_affine_transform` and ``cv2.warpAffine`` with ``INTER_LINEAR``
    and a constant zero border, as HRNet's ``JointsDataset.__getitem__``.

    Args:
        image: ``(H, W, C)`` or ``(H, W)`` image.
        center: ``(2,)`` crop centre (x, y) in image pixels.
        scale: ``(2,)`` crop size in units of ``pixel_std`` (the zoom uses ``scale[0]``).
        rotation: degrees (HRNet's sign).
        input_size: ``(width, height)`` of the patch.
        convention: the crop affine (``target.convention``: DarkPose's for DARKPOSE, else HRNet's).

    Returns:
        ``(height, width, C)`` patch of the image's dtype.
    """
    w, h = (int(v) for v in input_size)
    trans = get_affine_transform(center, scale, rotation, (w, h), pixel_std=pixel_std, convention=convention)
    return warp_patch(image, trans, (w, h))


def warp_patch(
    image: NDArray[np.uint8], trans: NDArray[np.float64], input_size: Sequence[int], bgr_to_rgb: bool = False
) -> NDArray[np.uint8]:
    """``cv2.warpAffine`` of ``image`` by the ``(2, 3)`` image -> patch affine ``trans`` into an ``input_size``
    ``(width, height)`` patch (``INTER_LINEAR``, zero border): :func:`crop_patch` when the caller already has
    the affine. ``bgr_to_rgb``: swap the channels of the patch (the same values as warping the swapped image,
    since the warp treats every channel alike, on the patch's pixels instead of the whole image's)."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got {arr.shape}")
    w, h = (int(v) for v in input_size)
    if not arr.flags.c_contiguous:  # e.g. a horizontally flipped view
        arr = np.ascontiguousarray(arr)
    patch = cv2.warpAffine(arr, trans, (w, h), flags=cv2.INTER_LINEAR)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB) if bgr_to_rgb else patch


def normalize_image(
    patch: NDArray[np.uint8],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> NDArray[np.float32]:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 ``(patch / 255 - mean) / std`` (per channel)."""
    arr = np.asarray(patch)
    if arr.ndim != 3 or arr.shape[2] != len(mean) or len(mean) != len(std):
        raise ValueError(f"patch must have shape (H, W, {len(mean)}), got {arr.shape}")
    if arr.dtype == np.uint8 and arr.shape[2] <= 4:
        # Every output value is one of 256 per channel: look them up (one pass, ~8x faster than the four
        # float32 passes and the transposing copy below; the table is computed with the same float32
        # operations, so the result is bit-identical, tested over all 256 values).
        table = _normalize_table(tuple(float(v) for v in mean), tuple(float(v) for v in std))
        planes = cv2.split(cv2.LUT(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr), table))
        return np.stack(planes)
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    out = (arr.astype(np.float32) / np.float32(255.0) - m) / s  # as torchvision ToTensor + Normalize
    return np.ascontiguousarray(out.transpose(2, 0, 1))


@functools.lru_cache(maxsize=8)
def _normalize_table(mean: tuple[float, ...], std: tuple[float, ...]) -> NDArray[np.float32]:
    """``(256, 1, C)`` float32 ``(v / 255 - mean) / std`` for every uint8 ``v`` (cv2.LUT's per-channel table),
    with :func:`normalize_image`'s float32 operations."""
    values = np.arange(256, dtype=np.float32)[:, None]
    table = (values / np.float32(255.0) - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    table = np.ascontiguousarray(table.astype(np.float32, copy=False).reshape(256, 1, len(mean)))
    table.flags.writeable = False
    return table
