"""Top-down crop geometry in HRNet's vocabulary: box -> (center, scale) -> affine matrix.

Pure NumPy (no OpenCV): image warping with these matrices lives in the data code.

Dimensions: instance number N, keypoint number K. Every point array has its last axis (x, y),
in pixels. ``output_size`` is always ``(width, height)`` as HRNet's ``IMAGE_SIZE`` / ``HEATMAP_SIZE``.

``scale`` is the box size in units of ``pixel_std`` (200 px): ``scale * pixel_std`` is the crop's
``(width, height)`` in image pixels, as in HRNet.

Matrix precision (HRNet parity). HRNet's ``get_affine_transform`` fills three source and three destination
points in float32 and calls ``cv2.getAffineTransform``. The matrix is in fact a similarity (rotation, uniform
zoom ``output_size[0] / (scale[0] * pixel_std)`` and a translation), and this module returns its exact closed
form in float64. The two differ only by the float32 rounding of the points: for COCO-sized boxes the entries
agree to ~1e-5 relative (translation entries to ~1e-4 px absolute for centres near 600 px), i.e. far below
one image pixel. Tests measure this against the three-point OpenCV construction.

Conventions (:class:`~enhancenet_core.conventions.CoordinateConvention`). LEGACY and UNBIASED use HRNet's affine:
grid centre ``(W_out/2, H_out/2)`` <-> crop centre, zoom ``W_out / (scale_x·pixel_std)``. DARKPOSE uses DarkPose's
(its ``lib/utils/transforms.py``): grid centre ``((W_out - 1)/2, (H_out - 1)/2)`` <-> crop centre, zoom
``(W_out - 1) / (scale_x·pixel_std - 1)`` (also from the widths alone). For a 192-pixel-wide patch of a 240-pixel
crop the two maps differ by up to ~1.6 px in the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import CoordinateConvention

PIXEL_STD: float = 200.0
BBOX_SCALE_FACTOR: float = 1.25

__all__ = [
    "BBOX_SCALE_FACTOR",
    "PIXEL_STD",
    "affine_transform",
    "box_to_center_scale",
    "fliplr_joints",
    "get_affine_transform",
    "get_affine_transforms",
    "transform_preds",
]


def _size_pair(size: Sequence[float] | ArrayLike, name: str) -> tuple[float, float]:
    arr = np.asarray(size, dtype=np.float64).reshape(-1)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be a positive finite (width, height) pair, got {size!r}")
    return float(arr[0]), float(arr[1])


def box_to_center_scale(
    box_xywh: ArrayLike,
    aspect_ratio: float,
    pixel_std: float = PIXEL_STD,
    scale_factor: float = BBOX_SCALE_FACTOR,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert boxes ``(x, y, w, h)`` to HRNet's ``(center, scale)`` (``_box2cs`` / ``_xywh2cs``).

    ``center = (x + w/2, y + h/2)``; the box is widened or heightened to ``aspect_ratio = W_in / H_in``;
    ``scale = (w, h) / pixel_std``, multiplied by ``scale_factor`` (HRNet: 1.25) when ``center[0] != -1``
    (HRNet's marker of a dummy box).

    Args:
        box_xywh: ``(N, 4)`` or ``(4,)`` boxes, top-left corner and size in image pixels.
        aspect_ratio: input patch width / height (e.g. 192 / 256).
        pixel_std: normaliser of ``scale`` (HRNet: 200).
        scale_factor: box enlargement (HRNet: 1.25).

    Returns:
        ``center`` and ``scale``, each ``(N, 2)`` (or ``(2,)`` for a single box), float64, last axis (x, y).
        HRNet stores them in float32; the values are the same up to that rounding.
    """
    boxes = np.asarray(box_xywh, dtype=np.float64)
    single = boxes.ndim == 1
    if boxes.shape[-1:] != (4,) or boxes.ndim not in (1, 2):
        raise ValueError(f"box_xywh must have shape (N, 4) or (4,), got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError("box_xywh contains NaN or infinite values")
    if not (np.isfinite(aspect_ratio) and aspect_ratio > 0):
        raise ValueError(f"aspect_ratio must be positive and finite, got {aspect_ratio!r}")
    if not pixel_std > 0:
        raise ValueError(f"pixel_std must be positive, got {pixel_std!r}")
    boxes = boxes.reshape(-1, 4)
    x, y, w, h = boxes.T
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=-1)
    # HRNet: if w > a*h: h = w / a;  elif w < a*h: w = h * a.
    wider = w > aspect_ratio * h
    taller = w < aspect_ratio * h
    w_fixed = np.where(taller, h * aspect_ratio, w)
    h_fixed = np.where(wider, w / aspect_ratio, h)
    scale = np.stack([w_fixed, h_fixed], axis=-1) / pixel_std
    enlarge = center[:, 0] != -1
    scale = np.where(enlarge[:, None], scale * scale_factor, scale)
    if single:
        return center[0], scale[0]
    return center, scale


def get_affine_transforms(
    center: ArrayLike,
    scale: ArrayLike,
    rot: ArrayLike,
    output_size: Sequence[float],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
    pixel_std: float = PIXEL_STD,
    convention: CoordinateConvention = CoordinateConvention.LEGACY,
) -> NDArray[np.float64]:
    """Batched :func:`get_affine_transform`: one ``(2, 3)`` matrix per instance.

    Args:
        center: ``(N, 2)`` crop centres in image pixels, (x, y).
        scale: ``(N, 2)`` crop sizes in units of ``pixel_std``; only ``scale[:, 0]`` sets the zoom (HRNet).
        rot: ``(N,)`` or scalar rotation in degrees (HRNet's sign: positive ``rot`` rotates the crop window
            clockwise in image coordinates, i.e. the content counter-clockwise in the patch).
        output_size: ``(width, height)`` of the destination (input patch or heat map).
        shift: ``(2,)`` shift of the source centre in units of the crop size (HRNet's ``shift``).
        inv: False maps image -> destination, True maps destination -> image.
        pixel_std: HRNet's 200.
        convention: DARKPOSE: DarkPose's affine; LEGACY, UNBIASED: HRNet's (see the module docstring).

    Returns:
        ``(N, 2, 3)`` float64 matrices ``A`` with ``dst = A[:, :2] @ (x, y) + A[:, 2]``.

    Closed form (derived from HRNet's three-point construction): with ``z = W_out / (scale_x * pixel_std)``,
    ``c, s = cos, sin(rot)``, ``src0 = center + scale * pixel_std * shift`` and ``dst0 = (W_out/2, H_out/2)``:
    forward ``M = z [[c, s], [-s, c]]``, ``t = dst0 - M src0``; inverse ``M' = (1/z) [[c, -s], [s, c]]``,
    ``t' = src0 - M' dst0``. DARKPOSE: ``z = (W_out - 1) / (scale_x * pixel_std - 1)`` and
    ``dst0 = ((W_out - 1)/2, (H_out - 1)/2)``.
    """
    convention = CoordinateConvention(convention)
    center = np.asarray(center, dtype=np.float64)
    if center.ndim != 2 or center.shape[1] != 2:
        raise ValueError(f"center must have shape (N, 2), got {center.shape}")
    n = center.shape[0]
    scale = np.asarray(scale, dtype=np.float64)
    if scale.ndim == 0 or (scale.ndim == 1 and scale.shape[0] in (1, 2)):
        scale = np.broadcast_to(scale.reshape(-1), (n, 2))  # one scale (scalar or pair) for all
    if scale.shape != (n, 2):
        raise ValueError(f"scale must have shape (N, 2) matching center {center.shape}, got {scale.shape}")
    rot_arr = np.broadcast_to(np.asarray(rot, dtype=np.float64), (n,))
    w_out, h_out = _size_pair(output_size, "output_size")
    shift_arr = np.asarray(shift, dtype=np.float64).reshape(-1)
    if shift_arr.shape != (2,):
        raise ValueError(f"shift must be a pair (sx, sy), got {shift!r}")
    if not (np.all(np.isfinite(center)) and np.all(np.isfinite(scale)) and np.all(np.isfinite(rot_arr))):
        raise ValueError("center, scale and rot must be finite")
    src_size = scale * pixel_std
    if np.any(src_size[:, 0] <= 0):
        raise ValueError("scale[:, 0] must be positive (it sets the zoom)")

    if convention is CoordinateConvention.DARKPOSE:
        if w_out <= 1 or np.any(src_size[:, 0] <= 1):
            raise ValueError("DARKPOSE affine: output width and scale[:, 0] * pixel_std must exceed 1 pixel")
        zoom = (w_out - 1.0) / (src_size[:, 0] - 1.0)
        dst0 = np.array([(w_out - 1.0) * 0.5, (h_out - 1.0) * 0.5])
    else:
        zoom = w_out / src_size[:, 0]
        dst0 = np.array([w_out * 0.5, h_out * 0.5])
    rad = np.deg2rad(rot_arr)
    c, s = np.cos(rad), np.sin(rad)
    src0 = center + src_size * shift_arr
    mats = np.empty((n, 2, 3), dtype=np.float64)
    if not inv:
        lin = zoom[:, None, None] * np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], axis=1)
        trans = dst0[None, :] - np.einsum("nij,nj->ni", lin, src0)
    else:
        lin = (1.0 / zoom)[:, None, None] * np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], axis=1)
        trans = src0 - np.einsum("nij,j->ni", lin, dst0)
    mats[:, :, :2] = lin
    mats[:, :, 2] = trans
    return mats


def get_affine_transform(
    center: ArrayLike,
    scale: ArrayLike,
    rot: float,
    output_size: Sequence[float],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
    pixel_std: float = PIXEL_STD,
    convention: CoordinateConvention = CoordinateConvention.LEGACY,
) -> NDArray[np.float64]:
    """HRNet's ``get_affine_transform`` for one instance, exact float64 closed form (DarkPose's for DARKPOSE).

    Args:
        center: ``(2,)`` crop centre (x, y) in image pixels.
        scale: ``(2,)`` (or scalar) crop size in units of ``pixel_std``; the zoom uses ``scale[0]`` alone.
        rot: rotation in degrees.
        output_size: ``(width, height)`` of the destination.
        shift: HRNet's ``shift`` in units of the crop size.
        inv: False: image -> destination; True: destination -> image.
        convention: DARKPOSE: DarkPose's affine; LEGACY, UNBIASED: HRNet's.

    Returns:
        ``(2, 3)`` float64 matrix. See :func:`get_affine_transforms` for the formula and the module
        docstring for the ~1e-5 difference from HRNet's float32 three-point construction.
    """
    center_arr = np.asarray(center, dtype=np.float64).reshape(-1)
    if center_arr.shape != (2,):
        raise ValueError(f"center must have shape (2,), got {np.shape(center)}")
    scale_arr = np.asarray(scale, dtype=np.float64).reshape(-1)
    if scale_arr.shape == (1,):
        scale_arr = np.repeat(scale_arr, 2)
    if scale_arr.shape != (2,):
        raise ValueError(f"scale must be a scalar or have shape (2,), got {np.shape(scale)}")
    return get_affine_transforms(
        center_arr[None], scale_arr[None], np.array([rot], dtype=np.float64), output_size, shift, inv, pixel_std,
        convention,
    )[0]


def affine_transform(points: ArrayLike, mat: ArrayLike) -> NDArray[np.float64]:
    """Apply ``(2, 3)`` matrix (or ``(N, 2, 3)`` matrices) to points.

    Args:
        points: ``(..., 2)`` points, last axis (x, y). With ``(N, 2, 3)`` matrices, points must be
            ``(N, ..., 2)`` and instance ``n`` uses ``mat[n]``.
        mat: ``(2, 3)`` or ``(N, 2, 3)``.

    Returns:
        ``(..., 2)`` float64 transformed points.
    """
    pts = np.asarray(points, dtype=np.float64)
    m = np.asarray(mat, dtype=np.float64)
    if pts.shape[-1:] != (2,):
        raise ValueError(f"points must have last axis of size 2 (x, y), got shape {pts.shape}")
    if m.shape == (2, 3):
        return pts @ m[:, :2].T + m[:, 2]
    if m.ndim == 3 and m.shape[1:] == (2, 3):
        if pts.ndim < 2 or pts.shape[0] != m.shape[0]:
            raise ValueError(f"points {pts.shape} must start with N={m.shape[0]} to match matrices {m.shape}")
        flat = pts.reshape(m.shape[0], -1, 2)
        out = np.einsum("nij,npj->npi", m[:, :, :2], flat) + m[:, None, :, 2]
        return out.reshape(pts.shape)
    raise ValueError(f"mat must have shape (2, 3) or (N, 2, 3), got {m.shape}")


def transform_preds(
    coords: ArrayLike,
    center: ArrayLike,
    scale: ArrayLike,
    output_size: Sequence[float],
    pixel_std: float = PIXEL_STD,
    convention: CoordinateConvention = CoordinateConvention.LEGACY,
) -> NDArray[np.float64]:
    """Map heat-map (or patch) coordinates back to the image, as HRNet's ``transform_preds`` (DarkPose's under
    DARKPOSE).

    Uses the inverse of :func:`get_affine_transform` with ``rot = 0``; ``output_size`` is the size of the
    grid the coordinates live on (the heat map's ``(W, H)`` for heat-map coordinates).

    Args:
        coords: ``(N, K, 2)`` (or ``(K, 2)`` with ``(2,)`` centre/scale) coordinates, last axis (x, y).
        center: ``(N, 2)`` crop centres.
        scale: ``(N, 2)`` crop scales.
        output_size: ``(width, height)`` of the coordinate grid.
        convention: the affine (:func:`get_affine_transforms`).

    Returns:
        ``(N, K, 2)`` float64 image coordinates (same leading shape as ``coords``).
    """
    xy = np.asarray(coords, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    single = xy.ndim == 2 and c.ndim == 1
    if single:
        xy, c = xy[None], c[None]
        scale = np.asarray(scale, dtype=np.float64).reshape(1, -1)
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise ValueError(f"coords must have shape (N, K, 2), got {np.shape(coords)}")
    if c.shape != (xy.shape[0], 2):
        raise ValueError(f"center must have shape (N, 2) = ({xy.shape[0]}, 2), got {c.shape}")
    mats = get_affine_transforms(c, scale, 0.0, output_size, inv=True, pixel_std=pixel_std, convention=convention)
    out = affine_transform(xy, mats)
    return out[0] if single else out


def fliplr_joints(
    joints: ArrayLike,
    joints_vis: ArrayLike,
    width: float,
    flip_pairs: Sequence[Sequence[int]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mirror joints horizontally in an image of ``width`` pixels and swap left/right (HRNet).

    ``x -> width - 1 - x`` (pixel-index mirror), the rows of each pair in ``flip_pairs`` are swapped in
    both ``joints`` and ``joints_vis``, and the returned joints are multiplied by ``joints_vis`` (HRNet
    zeroes the coordinates of invisible joints). The inputs are not modified.

    Args:
        joints: ``(K, 3)`` or ``(K, 2)`` joints, columns (x, y[, z]).
        joints_vis: ``(K,)``, ``(K, 1)`` or same shape as ``joints`` visibility.
        width: image width in pixels.
        flip_pairs: pairs ``(i, j)`` of left/right joint indices.

    Returns:
        ``(joints * joints_vis, joints_vis)`` flipped, float64, shapes as given.
    """
    j = np.array(joints, dtype=np.float64, copy=True)
    v = np.array(joints_vis, dtype=np.float64, copy=True)
    if j.ndim != 2 or j.shape[1] not in (2, 3):
        raise ValueError(f"joints must have shape (K, 2) or (K, 3), got {j.shape}")
    k = j.shape[0]
    if v.shape[0] != k or v.ndim > 2:
        raise ValueError(f"joints_vis must have shape (K,), (K, 1) or (K, C) with K={k}, got {v.shape}")
    perm = np.arange(k)
    for pair in flip_pairs:
        a, b = int(pair[0]), int(pair[1])
        if not (0 <= a < k and 0 <= b < k):
            raise ValueError(f"flip_pairs entry {tuple(pair)} out of range for K={k}")
        perm[a], perm[b] = b, a
    j[:, 0] = width - j[:, 0] - 1
    j = j[perm]
    v = v[perm]
    vis_b = v if v.ndim == 2 else v[:, None]
    return j * vis_b, v
