"""Tests of the coordinate conventions (enhancenet_core.coordinates)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.coordinates import (
    FlipShiftRule,
    flip_shift_pixels,
    heatmap_stride,
    heatmap_to_heatmap,
    heatmap_to_input,
    input_to_heatmap,
)

LEGACY = CoordinateConvention.LEGACY
UNBIASED = CoordinateConvention.UNBIASED


def test_strides_by_hand() -> None:
    np.testing.assert_array_equal(heatmap_stride((192, 256), (48, 64), LEGACY), [4.0, 4.0])
    np.testing.assert_allclose(heatmap_stride((192, 256), (48, 64), UNBIASED), [191 / 47, 255 / 63])
    # HR map of the input's size: stride 1 in both conventions.
    np.testing.assert_allclose(heatmap_stride((192, 256), (192, 256), LEGACY), [1.0, 1.0])
    np.testing.assert_allclose(heatmap_stride((192, 256), (192, 256), UNBIASED), [1.0, 1.0])


def test_conventions_differ_as_derived_by_hand() -> None:
    # Corners: x_in = 0 maps to 0 in both. x_in = W_in - 1 = 191 maps to 191/4 = 47.75 (LEGACY) and to
    # 191 / (191/47) = 47 = W_hm - 1 (UNBIASED): the difference is (W_in - W_hm) / W_in = 144/192 = 0.75.
    pts = np.array([[0.0, 0.0], [191.0, 255.0]])
    leg = input_to_heatmap(pts, (192, 256), (48, 64), LEGACY)
    unb = input_to_heatmap(pts, (192, 256), (48, 64), UNBIASED)
    np.testing.assert_allclose(leg, [[0, 0], [47.75, 63.75]])
    np.testing.assert_allclose(unb, [[0, 0], [47.0, 63.0]], atol=1e-12)
    np.testing.assert_allclose(leg[1] - unb[1], [0.75, 0.75], atol=1e-12)
    # In between the difference grows linearly: x * (W_hm/W_in - (W_hm-1)/(W_in-1)).
    x = np.linspace(0, 191, 7)
    xy = np.stack([x, x], -1)
    d = input_to_heatmap(xy, (192, 192), (48, 48), LEGACY) - input_to_heatmap(xy, (192, 192), (48, 48), UNBIASED)
    np.testing.assert_allclose(d[:, 0], x * (48 / 192 - 47 / 191), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    x=st.floats(-50, 400, allow_nan=False),
    y=st.floats(-50, 400, allow_nan=False),
    w_in=st.integers(8, 512),
    h_in=st.integers(8, 512),
    div=st.sampled_from([1, 2, 4, 8]),
)
def test_unbiased_round_trip_is_identity(x: float, y: float, w_in: int, h_in: int, div: int) -> None:
    hm = (max(2, w_in // div), max(2, h_in // div))
    p = np.array([x, y])
    q = heatmap_to_input(input_to_heatmap(p, (w_in, h_in), hm, UNBIASED), (w_in, h_in), hm, UNBIASED)
    np.testing.assert_allclose(q, p, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(0, 191, allow_nan=False), r=st.sampled_from([2, 4]))
def test_unbiased_flip_commutes_with_mapping(x: float, r: int) -> None:
    # Flipping the input then mapping equals mapping then flipping the map (no shift needed).
    for size in [(48, 64), (48 * r, 64 * r)]:
        a = input_to_heatmap(np.array([191 - x, 0.0]), (192, 256), size, UNBIASED)[0]
        b = size[0] - 1 - input_to_heatmap(np.array([x, 0.0]), (192, 256), size, UNBIASED)[0]
        assert a == pytest.approx(b, abs=1e-9)


def test_legacy_flip_misalignment_matches_flip_shift() -> None:
    # LEGACY: flip input, map, flip map back -> lands (s-1)/s px left; flip_shift_pixels returns exactly that.
    for size, s in [((48, 64), 4.0), ((96, 128), 2.0), ((192, 256), 1.0)]:
        x = 77.3
        back = size[0] - 1 - input_to_heatmap(np.array([191 - x, 0.0]), (192, 256), size, LEGACY)[0]
        direct = input_to_heatmap(np.array([x, 0.0]), (192, 256), size, LEGACY)[0]
        shift = flip_shift_pixels(LEGACY, (192, 256), size, FlipShiftRule.EXACT)
        assert direct - back == pytest.approx((s - 1) / s)
        assert shift == pytest.approx((s - 1) / s)
    assert flip_shift_pixels(LEGACY, (192, 256), (48, 64), FlipShiftRule.HRNET) == 1.0  # HRNet's 1 at s=4
    assert flip_shift_pixels(LEGACY, (192, 256), (96, 128), FlipShiftRule.HRNET) == 1.0  # 0.5 rounds up
    assert flip_shift_pixels(LEGACY, (192, 256), (192, 256), FlipShiftRule.HRNET) == 0.0
    assert flip_shift_pixels(UNBIASED, (192, 256), (48, 64), FlipShiftRule.EXACT) == 0.0
    assert flip_shift_pixels(UNBIASED, (192, 256), (192, 256), FlipShiftRule.HRNET) == 0.0


def test_lr_to_hr() -> None:
    # LEGACY: HR at r=4 of a stride-4 map has stride 1 -> x_hr = 4 x_lr.
    np.testing.assert_allclose(heatmap_to_heatmap([[10.0, 3.0]], (192, 256), (48, 64), (192, 256), LEGACY), [[40, 12]])
    # UNBIASED: last pixel maps to last pixel.
    np.testing.assert_allclose(
        heatmap_to_heatmap([[47.0, 63.0]], (192, 256), (48, 64), (192, 256), UNBIASED), [[191, 255]]
    )


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="heatmap_size"):
        heatmap_stride((192, 256), (1, 64), UNBIASED)
    with pytest.raises(ValueError, match="xy"):
        input_to_heatmap(np.zeros((3, 3)), (192, 256), (48, 64), LEGACY)
    with pytest.raises(ValueError):
        heatmap_stride((192, 256), (48,), LEGACY)
    with pytest.raises(ValueError):
        heatmap_stride((192, 256), (48, 64), "nonsense")  # type: ignore[arg-type]
