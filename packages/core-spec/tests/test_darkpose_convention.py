"""CoordinateConvention.DARKPOSE against an independent re-implementation of DarkPose's decoding and affine
(ilovepose/DarkPose ``lib/core/inference.py`` get_final_preds and ``lib/utils/transforms.py``; written from a reading
of that code: OpenCV three-point affine in float32, per-map loops, float32 coordinates), and the deliberate
difference of our DARK decoder on maps whose blurred maximum is negative."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="the DarkPose baseline uses OpenCV (enhancenet-core[data])")

from enhancenet_core.codecs import GaussianHeatmapCodec  # noqa: E402
from enhancenet_core.conventions import CoordinateConvention as CC  # noqa: E402
from enhancenet_core.conventions import Decoder, FlipShiftRule  # noqa: E402
from enhancenet_core.coordinates import flip_shift_pixels, heatmap_to_input, input_to_heatmap  # noqa: E402
from enhancenet_core.decoders import decode_heatmaps  # noqa: E402
from enhancenet_core.transforms import affine_transform, get_affine_transform  # noqa: E402

IN, HM = (192, 256), (48, 64)  # (W, H) patch and heat map


# ------------------------------------------------------------------------- DarkPose, re-implemented as a baseline
def _dp_affine(center, scale, output_size, inv):
    """DarkPose's get_affine_transform at rot 0: three float32 points, cv2.getAffineTransform."""
    src_w = scale[0] * 200.0
    w, h = output_size
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.asarray(center) + np.array([0.0, (src_w - 1) * -0.5])
    dst[0] = [(w - 1) * 0.5, (h - 1) * 0.5]
    dst[1] = dst[0] + np.array([0.0, (w - 1) * -0.5], np.float32)
    for pts in (src, dst):
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-d[1], d[0]], np.float32)
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def _dp_blur(hm, kernel):
    out = hm.copy()
    b = (kernel - 1) // 2
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            peak = np.max(out[i, j])
            padded = np.zeros((out.shape[2] + 2 * b, out.shape[3] + 2 * b))
            padded[b:-b, b:-b] = out[i, j]
            blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[b:-b, b:-b]
            out[i, j] = blurred * (peak / np.max(blurred))  # no guard: a negative blurred max flips the map
    return out


def _dp_taylor(hm, coord):
    px, py = int(coord[0]), int(coord[1])
    h, w = hm.shape
    if 1 < px < w - 2 and 1 < py < h - 2:
        dx = 0.5 * (hm[py, px + 1] - hm[py, px - 1])
        dy = 0.5 * (hm[py + 1, px] - hm[py - 1, px])
        dxx = 0.25 * (hm[py, px + 2] - 2 * hm[py, px] + hm[py, px - 2])
        dxy = 0.25 * (hm[py + 1, px + 1] - hm[py - 1, px + 1] - hm[py + 1, px - 1] + hm[py - 1, px - 1])
        dyy = 0.25 * (hm[py + 2, px] - 2 * hm[py, px] + hm[py - 2, px])
        if dxx * dyy - dxy**2 != 0:
            coord = coord + (-np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([dx, dy])).astype(np.float32)
    return coord


def darkpose_final_preds(hm, center, scale, kernel=11):
    """(N, K, 2) image (x, y) and (N, K, 1) maxima as DarkPose's get_final_preds (float32 maps)."""
    hm = np.asarray(hm, np.float32)
    n, k, h, w = hm.shape
    flat = hm.reshape(n, k, -1)
    idx, maxvals = flat.argmax(2), flat.max(2)[..., None]
    coords = np.stack([idx % w, np.floor(idx / w)], -1).astype(np.float32) * (maxvals > 0).astype(np.float32)
    logs = np.log(np.maximum(_dp_blur(hm, kernel).astype(np.float32), 1e-10))
    preds = np.zeros((n, k, 2))
    for i in range(n):
        trans = _dp_affine(center[i], scale[i], (w, h), inv=True)
        for j in range(k):
            c = _dp_taylor(logs[i, j], coords[i, j].copy())
            preds[i, j] = trans @ np.array([c[0], c[1], 1.0])
    return preds, maxvals


# ------------------------------------------------------------------------------------------------ the tests
def _codec(convention: CC, decoder: Decoder = Decoder.DARK) -> GaussianHeatmapCodec:
    return GaussianHeatmapCodec(IN, HM, 2.0, convention, decoder, FlipShiftRule.HRNET)


def _peaked_maps(rng, n=6, k=17, margin=4.0):
    """Gaussian peaks (σ = 2) at sub-pixel positions plus small noise: (N, K, 64, 48) float32, and the peaks."""
    mu = rng.uniform(margin, [HM[0] - 1 - margin, HM[1] - 1 - margin], size=(n, k, 2))
    x, y = np.arange(HM[0]), np.arange(HM[1])[:, None]
    g = np.exp(-((x - mu[..., 0, None, None]) ** 2 + (y - mu[..., 1, None, None]) ** 2) / 8.0)
    return (g + rng.normal(0, 0.01, g.shape)).astype(np.float32), mu


@pytest.mark.parametrize("box_w", [240.0, 1125.0])  # a 192-pixel box x1.25, and a 900x1000 box x1.25
def test_darkpose_convention_gives_darkpose_image_coordinates(box_w: float) -> None:
    rng = np.random.default_rng(0)
    maps, _ = _peaked_maps(rng)
    n = maps.shape[0]
    center = rng.uniform(200, 700, size=(n, 2))
    scale = np.tile([box_w / 200, box_w / 200 * 256 / 192], (n, 1))
    want, want_max = darkpose_final_preds(maps, center, scale)
    got, got_max = _codec(CC.DARKPOSE).decode_to_image(maps, center, scale)
    assert np.abs(got - want).max() <= 1e-3
    np.testing.assert_array_equal(got_max[..., 0], want_max[..., 0])
    # the other conventions (HRNet's affine) are off by up to 1.6 px at 256x192 (more for larger boxes)
    legacy, _ = _codec(CC.UNBIASED).decode_to_image(maps, center, scale)
    assert np.abs(legacy - want).max() > 0.5


def test_darkpose_grids_are_centre_aligned_with_one_stride() -> None:
    # DarkPose puts a joint on the patch and on the heat map with the affine of each grid: our patch <-> heat map
    # mapping must be their composition (the y axis carries an offset at 256x192 -> 64x48).
    center, scale = np.array([320.0, 240.0]), np.array([1.2, 1.6])
    img_pts = np.random.default_rng(1).uniform(150, 450, size=(20, 2))
    to_patch = _dp_affine(center, scale, IN, inv=False)
    to_map = _dp_affine(center, scale, HM, inv=False)
    patch = img_pts @ to_patch[:, :2].T + to_patch[:, 2]
    on_map = img_pts @ to_map[:, :2].T + to_map[:, 2]
    assert np.abs(input_to_heatmap(patch, IN, HM, CC.DARKPOSE) - on_map).max() < 1e-3
    assert np.abs(heatmap_to_input(on_map, IN, HM, CC.DARKPOSE) - patch).max() < 1e-3
    ours = affine_transform(img_pts, get_affine_transform(center, scale, 0.0, IN, convention=CC.DARKPOSE))
    assert np.abs(ours - patch).max() < 1e-3
    assert np.abs(input_to_heatmap(patch, IN, HM, CC.UNBIASED) - on_map)[:, 1].max() > 0.1  # not UNBIASED on y


def test_darkpose_encode_decode_round_trip_and_no_flip_shift() -> None:
    codec = _codec(CC.DARKPOSE, Decoder.UNBIASED)
    joints = np.array([[[40.3, 60.7], [100.0, 128.2], [150.9, 200.4]]])
    target, weight = codec.encode(joints, np.ones((1, 3)))
    assert weight.tolist() == [[1.0, 1.0, 1.0]]
    decoded, _ = codec.decode(target)
    assert np.abs(decoded - joints).max() < 0.05
    assert flip_shift_pixels(CC.DARKPOSE, IN, HM, FlipShiftRule.HRNET) == 0.0


def test_negative_blurred_maximum_is_a_documented_difference() -> None:
    # a small positive peak next to a strongly negative region: its blurred maximum is negative. DarkPose rescales
    # by a negative factor (flipping the map) and its Taylor step moves the point; ours keeps the argmax.
    hm = np.full((1, 1, HM[1], HM[0]), -1.0, np.float32)
    hm[0, 0, 30, 20] = 0.05
    hm[0, 0, 30, 21] = 0.04
    hm[0, 0, 31, 20] = -3.0
    center, scale = np.array([[100.0, 100.0]]), np.array([[1.2, 1.6]])
    blurred = _dp_blur(hm.astype(np.float64), 11)
    assert blurred.max() > 0  # DarkPose's factor peak / (negative blurred max) < 0 turned the map over
    want, _ = darkpose_final_preds(hm, center, scale)
    on_map, _ = decode_heatmaps(hm, Decoder.DARK, CC.DARKPOSE, sigma=2.0)
    assert on_map[0, 0].tolist() == [20.0, 30.0]  # ours: the argmax, unrefined
    got, _ = _codec(CC.DARKPOSE).decode_to_image(hm, center, scale)
    moved = np.abs(got - want).max()
    assert moved > 0.1, moved  # DarkPose's point moved away from the argmax
