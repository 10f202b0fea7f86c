"""Heat map -> keypoint coordinates, and back to the image (HRNet's ``get_final_preds``).

Dimensions: instance number N, keypoint number K, heat map ``H x W`` (M^LR or M^HR of any r). Coordinates
are heat-map pixels ``(N, K, 2)``, last axis (x, y) = (column, row); scores ``(N, K, 1)``.

Decoders (:class:`enhancenet_core.conventions.Decoder`):

ARGMAX
    HRNet ``get_max_preds``: integer argmax; where the map's max is ``<= 0`` the coordinates are 0 (mmpose
    uses -1). An all-zero map therefore decodes to ``(0, 0)`` with score 0 (documented, as HRNet).
ARGMAX_QUARTER
    HRNet ``get_final_preds`` post-processing: from the argmax ``(px, py)``, step 0.25 px toward the larger
    neighbour on each axis (``sign`` of the central difference, so no step on a tie), only when
    ``1 < px < W - 1`` **and** ``1 < py < H - 1``.
DARK
    DarkPose: score from the unblurred map; blur each map with the ``cv2.GaussianBlur(k, sigma=0)`` kernel and
    zero padding, rescale to the original max, ``log(max(hm, 1e-10))``, then one Newton (second-order Taylor)
    step with first differences over +-1 pixel and second differences over +-2 pixels
    (``dxx = (f(x+2) - 2 f(x) + f(x-2)) / 4``), applied only where ``1 < px < W - 2`` and ``1 < py < H - 2`` and
    the Hessian determinant is non-zero. No clipping. The input is never modified. One deliberate difference
    from DarkPose: a map whose *blurred* maximum is ``<= 0`` (a small positive peak in a negative surround) is
    not rescaled. DarkPose multiplies it by ``max / blurred max``, a negative factor (or divides by zero), which
    turns the map upside down, and its Taylor step then moves the point far from the peak (tens of pixels in
    ``test_darkpose_convention.py``); ours keeps the argmax there. DarkPose's image coordinates themselves are
    the DARKPOSE convention's (:mod:`enhancenet_core.coordinates`), not this decoder's business.
UNBIASED
    The decoder of the unbiased encoder: the same blur and log, then a Newton step with +-1 differences
    (``dxx = f(x+1) - 2 f(x) + f(x-1)``, exact for a log-quadratic peak), applied where ``1 <= px <= W - 2`` and
    ``1 <= py <= H - 2`` and the Hessian is negative definite (a real maximum); the result is clipped to
    ``[0, W - 1] x [0, H - 1]``. On noise-free unbiased targets it recovers the sub-pixel keypoint to
    < 0.01 px when the keypoint is at least 2.5σ from the border; closer, the zero-padded blur (as in DARK)
    pulls the estimate inward (measured worst case: 0.05 px at 3 px and 0.56 px at 1 px from the edge of an
    LR map with σ = 2; 0.06 px at 16 px and 4.6 px at 1 px on an HR map with σ = 8). Both refiners are independent of the convention on the map grid; the
    convention enters when mapping back (:func:`get_final_preds`).

Blur kernel: ``k`` odd, from the σ of the maps by the OpenCV rule σ = 0.3·((k − 1)·0.5 − 1) + 0.8 solved for
``k`` (:func:`kernel_size_from_sigma`: k = 11 for σ = 2, k = 51 for σ = 8); its weights are those of
``cv2.getGaussianKernel(k, 0)`` (:func:`gaussian_kernel_1d`, including OpenCV's fixed tables for k <= 7;
OpenCV 5 also tabulates k = 9, we follow OpenCV 4, which DarkPose and mmpose ran on).

Speed without changing the result: the maps are read from memory once per call, whichever public function is
called (the per-map argmax and, on each block while it is in cache, a ``min`` that with the argmax's maxima
refuses NaN and +-inf). The Newton
step reads the blurred map only in the 5 x 5 neighbourhood of the argmax, so only those 25 values are blurred
(a ``(2R + 5)^2`` patch per refined keypoint, gathered by slicing, blurred separably at the 5 x 5 outputs only). The
rescale to the original
max is a constant factor ``c >= 1`` (the kernel sums to 1 and the pad is zero, so the blurred max never exceeds
a positive original max); it cancels in every difference of the log unless the ``1e-10`` floor is hit, which
needs a blurred value below 1e-10. Maps where that happens are blurred in full and computed exactly as
DarkPose (except for the negative-maximum case above). Values are computed in float64 (DarkPose rounds the blurred map to float32; offsets differ by
~1e-5 px).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import CoordinateConvention, Decoder
from enhancenet_core.coordinates import heatmap_to_input
from enhancenet_core.transforms import PIXEL_STD, transform_preds

__all__ = [
    "blur_heatmaps",
    "decode_heatmaps",
    "gaussian_kernel_1d",
    "get_final_preds",
    "get_max_preds",
    "kernel_size_from_sigma",
]

_LOG_FLOOR = 1e-10
_NEIGH = 2  # the 5 x 5 neighbourhood read by the refiners
_BLOCK_BYTES = 1 << 20  # maps argmaxed and checked together (kept in cache between the two reads)

# cv2.getGaussianKernel(ksize, sigma <= 0) uses these fixed tables for ksize 1, 3, 5, 7 (OpenCV <= 4.x).
_SMALL_KERNELS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}


def kernel_size_from_sigma(sigma: float) -> int:
    """Odd blur kernel size for maps of Gaussian σ: solve σ = 0.3·((k − 1)·0.5 − 1) + 0.8 for k, round to odd.

    ``k = 2·round((σ − 0.8)/0.3 + 1) + 1``, at least 3: 11 for σ = 2, 51 for σ = 8 (HR maps at r = 4).
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    half = math.floor((sigma - 0.8) / 0.3 + 1 + 0.5)
    return max(3, 2 * half + 1)


def gaussian_kernel_1d(ksize: int) -> NDArray[np.float64]:
    """``cv2.getGaussianKernel(ksize, 0)`` in NumPy: ``(ksize,)`` float64 weights summing to 1."""
    if isinstance(ksize, bool) or int(ksize) != ksize or ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"blur kernel size must be a positive odd integer, got {ksize!r}")
    ksize = int(ksize)
    if ksize in _SMALL_KERNELS:
        return np.array(_SMALL_KERNELS[ksize], dtype=np.float64)
    sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    x = np.arange(ksize, dtype=np.float64) - (ksize - 1) * 0.5
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def _check_heatmaps(heatmaps: ArrayLike) -> NDArray:
    """Shape and dtype only (no scan of the values: :func:`_checked_max_preds` does that once per public call)."""
    hm = np.asarray(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, H, W), got ndim {hm.ndim} shape {hm.shape}")
    if not np.issubdtype(hm.dtype, np.floating):
        hm = hm.astype(np.float32)
    if hm.shape[2] < 1 or hm.shape[3] < 1:
        raise ValueError(f"heatmaps must have a non-empty H x W grid, got shape {hm.shape}")
    return hm


def _checked_max_preds(heatmaps: ArrayLike) -> tuple[NDArray, NDArray[np.float64], NDArray]:
    """Shape check, per-map argmax and the refusal of NaN and +-inf: ``(hm, coords, maxvals)``.

    The maps are read from memory once: in blocks of about ``_BLOCK_BYTES`` the argmax reads a block and a
    ``min`` re-reads it while it is still in cache. ``argmax`` puts any +inf (and a NaN, which it treats as the
    largest value) into ``maxvals``; ``min`` propagates NaN and finds -inf.
    """
    hm = _check_heatmaps(heatmaps)
    n, k, h, w = hm.shape
    flat = hm.reshape(n * k, h * w)
    idx = np.empty(n * k, dtype=np.intp)
    finite = True
    step = max(1, _BLOCK_BYTES // (h * w * hm.itemsize))
    for start in range(0, n * k, step):
        block = flat[start : start + step]
        idx[start : start + step] = block.argmax(axis=1)
        finite = finite and bool(np.isfinite(block.min()))
    maxvals = np.take_along_axis(flat, idx[:, None], axis=1).reshape(n, k, 1)
    if not (finite and np.isfinite(maxvals).all()):
        bad = np.argwhere(~np.isfinite(hm))[0]
        raise ValueError(
            f"heatmaps contain NaN or infinite values (first at index (n, k, y, x) = {tuple(bad.tolist())})"
        )
    idx = idx.reshape(n, k)
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float64)
    coords *= (maxvals > 0).astype(np.float64)
    return hm, coords, maxvals


def get_max_preds(heatmaps: ArrayLike) -> tuple[NDArray[np.float64], NDArray]:
    """HRNet ``get_max_preds``: integer argmax per map.

    Args:
        heatmaps: ``(N, K, H, W)``.

    Returns:
        ``coords`` ``(N, K, 2)`` float64 heat-map pixels (x, y), 0 where the map's max is ``<= 0``;
        ``maxvals`` ``(N, K, 1)`` in the maps' dtype.
    """
    _, coords, maxvals = _checked_max_preds(heatmaps)
    return coords, maxvals


def blur_heatmaps(heatmaps: ArrayLike, ksize: int) -> NDArray[np.float64]:
    """Full DarkPose blur: zero padding, ``cv2.GaussianBlur(k, 0)`` kernel, rescaled to each map's max.

    Args:
        heatmaps: ``(N, K, H, W)``.
        ksize: odd kernel size.

    Returns:
        ``(N, K, H, W)`` float64 blurred maps (a new array). Maps whose blurred max is ``<= 0`` are not
        rescaled. Used for the rare maps that touch DarkPose's log floor, and as a readable reference.
    """
    hm = np.asarray(heatmaps, dtype=np.float64)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, K, H, W), got {hm.shape}")
    kern = gaussian_kernel_1d(ksize)
    rad = (ksize - 1) // 2
    _, _, h, w = hm.shape

    def band(size: int) -> NDArray[np.float64]:
        d = np.arange(size)[None, :] - np.arange(size)[:, None] + rad  # kernel index of (out, in)
        return np.where((d >= 0) & (d < ksize), kern[np.clip(d, 0, ksize - 1)], 0.0)

    out = band(h) @ hm @ band(w).T
    orig_max = hm.max(axis=(2, 3), keepdims=True)
    new_max = out.max(axis=(2, 3), keepdims=True)
    factor = np.where(new_max > 0, orig_max / np.where(new_max > 0, new_max, 1.0), 1.0)
    return out * factor


def _local_blurred(hm: NDArray, ni: NDArray, ki: NDArray, px: NDArray, py: NDArray, ksize: int) -> NDArray[np.float64]:
    """Zero-padded blurred (unscaled) values in the 5 x 5 neighbourhood of ``(px, py)`` of maps ``(ni, ki)``.

    ``ni, ki, px, py``: ``(M,)``. Returns ``(M, 5, 5)`` [dy, dx]: the ``(P, P)`` patch around each point
    (``P = ksize + 4``, zero outside the map) blurred along x at 5 columns, then along y at 5 rows.
    """
    h, w = hm.shape[2:]
    reach = _NEIGH + (ksize - 1) // 2
    p = 2 * reach + 1
    patch = np.zeros((p, ni.size, p))  # [column, m, row]: the x pass below reads whole contiguous column slabs
    # one slice per keypoint: ~5x faster than one 4-array fancy index over all (M, P, P) values
    where = zip(ni.tolist(), ki.tolist(), (py - reach).tolist(), (px - reach).tolist(), strict=True)
    for i, (n, k, r, c) in enumerate(where):
        r0, c0 = max(r, 0), max(c, 0)
        block = hm[n, k, r0 : min(r + p, h), c0 : min(c + p, w)]
        patch[c0 - c : c0 - c + block.shape[1], i, r0 - r : r0 - r + block.shape[0]] = block.T
    # separable blur at the 5 x 5 outputs, accumulated in kernel order with elementwise IEEE operations (no BLAS:
    # the same bits on every machine, which the golden tensors rely on)
    kern = gaussian_kernel_1d(ksize).tolist()
    side = 2 * _NEIGH + 1
    xb = patch[:side] * kern[0]  # (5, M, P): [dx, m, row]
    tmp = np.empty_like(xb)
    for t in range(1, ksize):
        xb += np.multiply(patch[t : t + side], kern[t], out=tmp)
    yb = xb[:, :, :side] * kern[0]  # (5, M, 5): [dx, m, dy]
    for t in range(1, ksize):
        yb += xb[:, :, t : t + side] * kern[t]
    return yb.transpose(1, 2, 0)  # [m, dy, dx]


def _log_neighbourhood(
    hm: NDArray,
    ni: NDArray,
    ki: NDArray,
    px: NDArray,
    py: NDArray,
    ksize: int,
    used: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """``log(max(c · blur, 1e-10))`` on the 5 x 5 neighbourhoods ``(M, 5, 5)``, up to a per-map constant (see the
    module doc). ``used``: ``(5, 5)`` the neighbours the refiner reads; only they decide whether the floor is hit.
    """
    local = _local_blurred(hm, ni, ki, px, py, ksize)
    floor_hit = np.any((local < _LOG_FLOOR) & used, axis=(1, 2))
    logs = np.log(np.maximum(local, _LOG_FLOOR))
    if np.any(floor_hit):
        sel = np.nonzero(floor_hit)[0]
        full = blur_heatmaps(hm[ni[sel], ki[sel]][:, None], ksize)[:, 0]  # (S, H, W), rescaled exactly as DarkPose
        h, w = hm.shape[2:]
        span = np.arange(-_NEIGH, _NEIGH + 1)
        rr = np.clip(py[sel][:, None] + span, 0, h - 1)
        cc = np.clip(px[sel][:, None] + span, 0, w - 1)
        vals = full[np.arange(sel.size)[:, None, None], rr[:, :, None], cc[:, None, :]]
        logs[sel] = np.log(np.maximum(vals, _LOG_FLOOR))
    return logs


def _newton_step(
    f: NDArray[np.float64], wide_second: bool
) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
]:
    """Gradient and Hessian at the centre of ``f`` ``(..., 5, 5)`` [dy, dx]; returns ``(ox, oy, dxx, dyy, det)``."""
    c = _NEIGH
    f0 = f[..., c, c]
    dx = 0.5 * (f[..., c, c + 1] - f[..., c, c - 1])
    dy = 0.5 * (f[..., c + 1, c] - f[..., c - 1, c])
    if wide_second:
        dxx = 0.25 * (f[..., c, c + 2] - 2 * f0 + f[..., c, c - 2])
        dyy = 0.25 * (f[..., c + 2, c] - 2 * f0 + f[..., c - 2, c])
    else:
        dxx = f[..., c, c + 1] - 2 * f0 + f[..., c, c - 1]
        dyy = f[..., c + 1, c] - 2 * f0 + f[..., c - 1, c]
    dxy = 0.25 * (f[..., c + 1, c + 1] - f[..., c - 1, c + 1] - f[..., c + 1, c - 1] + f[..., c - 1, c - 1])
    det = dxx * dyy - dxy * dxy
    safe = np.where(det != 0, det, 1.0)
    # offset = -H^{-1} g with H^{-1} = [[dyy, -dxy], [-dxy, dxx]] / det
    ox = -(dyy * dx - dxy * dy) / safe
    oy = -(-dxy * dx + dxx * dy) / safe
    return ox, oy, dxx, dyy, det


def decode_heatmaps(
    heatmaps: ArrayLike,
    decoder: Decoder,
    convention: CoordinateConvention = CoordinateConvention.LEGACY,
    sigma: float | None = None,
    dark_kernel: int | None = None,
) -> tuple[NDArray[np.float64], NDArray]:
    """Decode ``(N, K, H, W)`` heat maps to heat-map pixel coordinates.

    Args:
        heatmaps: ``(N, K, H, W)`` float maps (LR or HR). Never modified. NaN/inf raise ``ValueError``.
        decoder: :class:`Decoder` (see the module docstring).
        convention: the grid convention of the maps. The returned coordinates are on the map's own pixel grid
            in either convention; :func:`get_final_preds` applies the convention when mapping back.
        sigma: Gaussian σ of *these* maps (σ for M^LR, r·σ for M^HR); sets the DARK / UNBIASED blur kernel.
        dark_kernel: explicit odd blur kernel size (overrides ``sigma``), e.g. DarkPose's 11.

    Returns:
        ``coords`` ``(N, K, 2)`` float64 (x, y) heat-map pixels and ``maxvals`` ``(N, K, 1)`` (unblurred max).
    """
    decoder = Decoder(decoder)
    CoordinateConvention(convention)
    hm, coords, maxvals = _checked_max_preds(heatmaps)
    return _refine(hm, coords, maxvals, decoder, sigma, dark_kernel)


def _refine(
    hm: NDArray,
    coords: NDArray[np.float64],
    maxvals: NDArray,
    decoder: Decoder,
    sigma: float | None,
    dark_kernel: int | None,
) -> tuple[NDArray[np.float64], NDArray]:
    """The sub-pixel step of ``decoder`` on checked maps and their argmax (``coords`` is updated in place)."""
    if decoder is Decoder.ARGMAX or hm.size == 0:
        return coords, maxvals
    h, w = hm.shape[2:]
    px = coords[..., 0].astype(np.int64)
    py = coords[..., 1].astype(np.int64)
    if decoder is Decoder.ARGMAX_QUARTER:
        ok = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
        ni, ki = np.nonzero(ok)
        x, y = px[ok], py[ok]
        diff_x = hm[ni, ki, y, x + 1].astype(np.float64) - hm[ni, ki, y, x - 1]
        diff_y = hm[ni, ki, y + 1, x].astype(np.float64) - hm[ni, ki, y - 1, x]
        coords[ok, 0] += np.sign(diff_x) * 0.25
        coords[ok, 1] += np.sign(diff_y) * 0.25
        return coords, maxvals

    if dark_kernel is None:
        if sigma is None:
            raise ValueError(f"decoder {decoder.value!r} needs sigma (of these maps) or dark_kernel")
        dark_kernel = kernel_size_from_sigma(sigma)
    gaussian_kernel_1d(dark_kernel)  # validate
    if decoder is Decoder.DARK:
        refine = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    else:
        refine = (px >= 1) & (px <= w - 2) & (py >= 1) & (py <= h - 2)
    if not np.any(refine):
        return coords, maxvals
    used = np.zeros((2 * _NEIGH + 1, 2 * _NEIGH + 1), dtype=bool)
    if decoder is Decoder.DARK:
        used[_NEIGH, :] = used[:, _NEIGH] = True  # the +-2 cross
    used[_NEIGH - 1 : _NEIGH + 2, _NEIGH - 1 : _NEIGH + 2] = True  # the 3 x 3 block
    ni, ki = np.nonzero(refine)
    logs = _log_neighbourhood(hm, ni, ki, px[ni, ki], py[ni, ki], int(dark_kernel), used)
    ox, oy, dxx, _, det = _newton_step(logs, wide_second=decoder is Decoder.DARK)
    if decoder is Decoder.DARK:
        apply = det != 0
        coords[ni, ki, 0] += np.where(apply, ox, 0.0)
        coords[ni, ki, 1] += np.where(apply, oy, 0.0)
    else:
        apply = (det > 0) & (dxx < 0)
        coords[ni, ki, 0] += np.where(apply, ox, 0.0)
        coords[ni, ki, 1] += np.where(apply, oy, 0.0)
        np.clip(coords[..., 0], 0, w - 1, out=coords[..., 0])
        np.clip(coords[..., 1], 0, h - 1, out=coords[..., 1])
    return coords, maxvals


def get_final_preds(
    heatmaps: ArrayLike,
    center: ArrayLike,
    scale: ArrayLike,
    decoder: Decoder,
    convention: CoordinateConvention,
    input_size: Sequence[int],
    sigma: float | None = None,
    dark_kernel: int | None = None,
    pixel_std: float = PIXEL_STD,
) -> tuple[NDArray[np.float64], NDArray]:
    """Decode heat maps of any size (M^LR, or M^HR of any r) and map them to image coordinates.

    heat map -> input patch by the convention (:func:`enhancenet_core.coordinates.heatmap_to_input`, stride from
    the maps' own size), then input patch -> image by the inverse crop affine (``center``, ``scale``,
    ``input_size``; DarkPose's affine under DARKPOSE). For LEGACY maps with the input's aspect ratio this equals
    HRNet's ``transform_preds(coords, center, scale, heatmap_size)``; for DARKPOSE maps, DarkPose's
    ``transform_preds(coords, center, scale, heatmap_size)`` (its own affine, composed exactly).

    Args:
        heatmaps: ``(N, K, H, W)``.
        center: ``(N, 2)`` crop centres; scale: ``(N, 2)`` crop scales (units of ``pixel_std``).
        decoder, convention, sigma, dark_kernel: see :func:`decode_heatmaps`.
        input_size: ``(W_in, H_in)`` of the input patch.

    Returns:
        ``preds`` ``(N, K, 2)`` float64 image (x, y) and ``maxvals`` ``(N, K, 1)``.
    """
    decoder = Decoder(decoder)
    CoordinateConvention(convention)
    hm, coords, maxvals = _checked_max_preds(heatmaps)
    coords, maxvals = _refine(hm, coords, maxvals, decoder, sigma, dark_kernel)
    heatmap_size = (hm.shape[3], hm.shape[2])
    patch = heatmap_to_input(coords, input_size, heatmap_size, convention)
    preds = transform_preds(patch, center, scale, input_size, pixel_std=pixel_std, convention=convention)
    return preds, maxvals
