"""Tests of the flip test helpers (enhancenet_core.flip)."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.config import COCO_FLIP_PAIRS
from enhancenet_core.conventions import CoordinateConvention, Decoder
from enhancenet_core.coordinates import FlipShiftRule, flip_shift_pixels
from enhancenet_core.decoders import decode_heatmaps
from enhancenet_core.flip import flip_back, flip_shift
from enhancenet_core.targets import generate_targets

LEGACY = CoordinateConvention.LEGACY
UNBIASED = CoordinateConvention.UNBIASED


def test_flip_back_matches_hrnet_loop() -> None:
    hm = np.random.default_rng(0).normal(size=(2, 17, 6, 5)).astype(np.float32)
    before = hm.copy()
    ref = hm[:, :, :, ::-1].copy()
    for a, b in COCO_FLIP_PAIRS:
        tmp = ref[:, a].copy()
        ref[:, a] = ref[:, b]
        ref[:, b] = tmp
    out = flip_back(hm, COCO_FLIP_PAIRS)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(hm, before)
    np.testing.assert_array_equal(flip_back(out, COCO_FLIP_PAIRS), hm)


def test_integer_shift_is_hrnet() -> None:
    hm = np.random.default_rng(1).normal(size=(2, 3, 4, 7))
    ref = hm.copy()
    ref[..., 1:] = hm[..., :-1]  # HRNet: column 0 keeps its value
    out = flip_shift(hm, 1)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out[..., 0], hm[..., 0])
    np.testing.assert_array_equal(flip_shift(hm, 0), hm)
    np.testing.assert_array_equal(flip_shift(hm, -2)[..., :5], hm[..., 2:])


def test_fractional_shift_interpolates() -> None:
    hm = np.arange(6, dtype=np.float64)[None, None, None, :] ** 2
    out = flip_shift(hm, 0.75)
    # out[x] = (1-f) hm[floor(x-0.75)] + f hm[floor+1], x - 0.75 = 1.25 at x = 2 -> 0.75*1 + 0.25*4
    assert out[0, 0, 0, 2] == pytest.approx(0.75 * 1 + 0.25 * 4)
    assert out[0, 0, 0, 0] == 0.0  # clamped to column 0


@pytest.mark.parametrize(("size", "sigma"), [((48, 64), 2.0), ((96, 128), 4.0), ((192, 256), 8.0)])
def test_flip_test_realigns_legacy_and_unbiased(size, sigma) -> None:
    """Simulate the flip test with ideal networks: target of the flipped patch, flipped back, shifted.

    After the derived shift the flipped-back map's decoded keypoint agrees with the direct one.
    """
    x = np.array([[[70.3, 100.6]]])
    flipped_x = x.copy()
    flipped_x[..., 0] = 191 - x[..., 0]
    for conv, decoder in ((LEGACY, Decoder.ARGMAX), (UNBIASED, Decoder.UNBIASED)):
        direct, _ = generate_targets(x, np.ones((1, 1)), (192, 256), size, sigma, conv)
        flipped, _ = generate_targets(flipped_x, np.ones((1, 1)), (192, 256), size, sigma, conv)
        back = flip_back(flipped, [])
        shift = flip_shift_pixels(conv, (192, 256), size, FlipShiftRule.EXACT)
        fixed = flip_shift(back, shift)
        c_direct, _ = decode_heatmaps(direct, decoder, conv, sigma=sigma)
        c_back, _ = decode_heatmaps(back, decoder, conv, sigma=sigma)
        c_fixed, _ = decode_heatmaps(fixed, Decoder.UNBIASED, conv, sigma=sigma)
        s = 192 / size[0]
        if conv is UNBIASED:
            assert shift == 0.0
            np.testing.assert_allclose(c_back, c_direct, atol=1e-3)
        else:
            # the mis-alignment of the unshifted map: (s-1)/s up to integer rounding of both targets (<= 1 px)
            assert shift == pytest.approx((s - 1) / s)
            assert abs((c_direct - c_back)[0, 0, 0]) <= 1.0
            # after the exact shift, the sub-pixel peak of the (continuous) shifted map sits within the rounding
            # error of the integer target centres
            assert abs((c_fixed - c_direct)[0, 0, 0]) <= 0.5 + 1e-6
    assert flip_shift_pixels(LEGACY, (192, 256), (48, 64), FlipShiftRule.HRNET) == 1.0


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        flip_back(np.zeros((2, 3, 4)), [])
    with pytest.raises(ValueError, match="flip_pairs"):
        flip_back(np.zeros((1, 3, 4, 4)), [(0, 5)])
    with pytest.raises(ValueError):
        flip_shift(np.zeros((1, 1, 2, 2)), float("nan"))


def _ideal_legacy_map(x_in: np.ndarray, size: tuple[int, int], stride: float, sigma: float) -> np.ndarray:
    """(1, n, H, W) maps of an ideal LEGACY network: a Gaussian at the continuous map position ``x_in / stride``
    (row fixed at the centre), one channel per input x; symmetric about its peak by construction."""
    w, h = size
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    cx = np.asarray(x_in, dtype=np.float64) / stride
    gx = np.exp(-((xs[None, :] - cx[:, None]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((ys - (h - 1) / 2) ** 2) / (2 * sigma**2))
    return (gx[:, None, :] * gy[None, :, None])[None]


@pytest.mark.parametrize("r", [2, 3, 4, 5])
def test_exact_rule_removes_the_flip_bias_of_hr_maps_at_every_r(r: int) -> None:
    """The flip test of an ideal network on M^HR (stride 4/r at 192x256, r·σ = 2r): the average of the direct map
    and the flipped-back, shifted map must decode where the direct map does. HRNet's rule rounds the shift
    (s_hr - 1)/s_hr to whole pixels (r = 2: 0.5 -> 1, r = 3: 0.25 -> 0, r = 5: -0.25 -> 0) and leaves half the
    rounding error, (round - exact) * s_hr / 2 input pixels, as a bias; the exact rule leaves none."""
    size_in = (192, 256)
    size = (48 * r, 64 * r)
    stride = 4.0 / r
    sigma = 2.0 * r
    x_in = np.linspace(60.0, 130.0, 15)  # points across the interior, at every sub-pixel phase
    direct = _ideal_legacy_map(x_in, size, stride, sigma)
    back = flip_back(_ideal_legacy_map(size_in[0] - 1 - x_in, size, stride, sigma), [])
    c_direct, _ = decode_heatmaps(direct, Decoder.DARK, LEGACY, sigma=sigma)
    bias = {}
    for rule in (FlipShiftRule.EXACT, FlipShiftRule.HRNET):
        shift = flip_shift_pixels(LEGACY, size_in, size, rule)
        merged = 0.5 * (direct + flip_shift(back, shift))
        c, _ = decode_heatmaps(merged, Decoder.DARK, LEGACY, sigma=sigma)
        bias[rule] = (c - c_direct)[0, :, 0] * stride  # input pixels
        np.testing.assert_allclose((c - c_direct)[0, :, 1], 0.0, atol=1e-9)  # the flip never moves y
    exact = (stride - 1.0) / stride
    assert flip_shift_pixels(LEGACY, size_in, size, FlipShiftRule.EXACT) == pytest.approx(exact)
    np.testing.assert_allclose(bias[FlipShiftRule.EXACT], 0.0, atol=0.02)
    hrnet_bias = (float(np.floor(exact + 0.5)) - exact) * stride / 2.0
    np.testing.assert_allclose(bias[FlipShiftRule.HRNET], hrnet_bias, atol=0.02)
    assert {2: 0.5, 3: -1 / 6, 4: 0.0, 5: 0.1}[r] == pytest.approx(hrnet_bias)  # input px, by hand
