"""Tests of enhancenet_core.codecs: the LR/HR codecs derived from the config, encode/decode round trips within
each convention's known bias, the flip test against a hand-written HRNet flip, and the config's flip-shift rule.

Expected numbers are written by hand from the paper and the HRNet conventions (stride 4, r = 4: M^HR at stride 1,
σ_HR = r·σ = 8; HRNet's flip shift is 1 LR pixel), never produced by the code under test.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from enhancenet_core.codecs import GaussianHeatmapCodec, generate_lr_hr_targets, heatmap_codecs
from enhancenet_core.config import (
    Config,
    ConfigError,
    EnhanceNetConfig,
    ModelConfig,
    TargetConfig,
    config_from_dict,
)
from enhancenet_core.config import (
    TestConfig as _TestConfig,  # aliased: pytest would try to collect a class named Test*
)
from enhancenet_core.conventions import CoordinateConvention, Decoder, FlipShiftRule
from enhancenet_core.decoders import get_final_preds
from enhancenet_core.flip import flip_back

LEGACY = CoordinateConvention.LEGACY
UNBIASED = CoordinateConvention.UNBIASED
PAIRS = ((1, 2), (3, 4))


def _cfg(convention=LEGACY, upscale=4, sigma=2.0, **test) -> Config:
    model = ModelConfig(num_keypoints=5, input_size=(192, 256), head=EnhanceNetConfig(upscale=upscale))
    return Config(model=model, target=TargetConfig(sigma=sigma, convention=convention), test=_TestConfig(**test))


def test_lr_and_hr_codecs_derive_sizes_sigma_and_decoder_from_the_config() -> None:
    lr, hr = heatmap_codecs(_cfg())
    assert (lr.input_size, lr.heatmap_size, lr.sigma) == ((192, 256), (48, 64), 2.0)
    assert (hr.input_size, hr.heatmap_size, hr.sigma) == ((192, 256), (192, 256), 8.0)  # r = 4: r·σ = 8 (Eq. 6)
    assert lr.stride == (4.0, 4.0) and hr.stride == (1.0, 1.0)
    assert lr.decoder is hr.decoder is Decoder.ARGMAX_QUARTER and lr.flip_shift_rule is FlipShiftRule.EXACT
    lr2, hr2 = heatmap_codecs(_cfg(upscale=2, sigma=3.0))
    assert (lr2.heatmap_size, hr2.heatmap_size, hr2.sigma) == ((48, 64), (96, 128), 6.0)
    assert hr2.stride == (2.0, 2.0)
    # UDP strides: (W_in - 1) / (W - 1)
    lr_u, hr_u = heatmap_codecs(_cfg(UNBIASED))
    assert lr_u.stride == pytest.approx((191 / 47, 255 / 63)) and hr_u.stride == (1.0, 1.0)
    # test.post_process: false is HRNet's switch to plain argmax, whatever test.decoder says
    off = heatmap_codecs(_cfg(post_process=False, decoder=Decoder.DARK))
    assert off.lr.decoder is off.hr.decoder is Decoder.ARGMAX
    assert heatmap_codecs(_cfg(decoder=Decoder.DARK)).hr.decoder is Decoder.DARK
    assert heatmap_codecs(_cfg()).of("hr") is not None
    with pytest.raises(ValueError, match="'lr' or 'hr'"):
        heatmap_codecs(_cfg()).of("mr")


@pytest.mark.parametrize(
    ("convention", "rule", "lr_px", "hr_px"),
    [
        (LEGACY, FlipShiftRule.HRNET, 1.0, 0.0),  # HRNet's 1 px at stride 4; stride-1 M^HR needs none
        (LEGACY, FlipShiftRule.EXACT, 0.75, 0.0),  # (s - 1) / s
        (LEGACY, FlipShiftRule.NONE, 0.0, 0.0),
        (UNBIASED, FlipShiftRule.HRNET, 0.0, 0.0),
        (UNBIASED, FlipShiftRule.EXACT, 0.0, 0.0),
    ],
)
def test_flip_shift_per_map(convention, rule, lr_px, hr_px) -> None:
    lr, hr = heatmap_codecs(_cfg(convention, flip_shift=rule))
    assert lr.flip_shift_pixels == lr_px and hr.flip_shift_pixels == hr_px


def test_flip_shift_at_r2_is_half_a_pixel_exact_and_one_hrnet() -> None:
    hr_exact = heatmap_codecs(_cfg(upscale=2, flip_shift=FlipShiftRule.EXACT)).hr
    hr_hrnet = heatmap_codecs(_cfg(upscale=2, flip_shift=FlipShiftRule.HRNET)).hr
    assert hr_exact.flip_shift_pixels == 0.5 and hr_hrnet.flip_shift_pixels == 1.0  # stride 2; 0.5 rounds up


def _hand_flip_back(maps: np.ndarray, shift: int) -> np.ndarray:
    """HRNet's flip_back + ``flipped[..., s:] = flipped[..., :-s]`` written as loops (channels 1<->2, 3<->4)."""
    swap = [0, 2, 1, 4, 3]
    k, w = maps.shape[1], maps.shape[3]
    out = np.empty_like(maps)
    for c in range(k):
        for x in range(w):
            out[:, c, :, x] = maps[:, swap[c], :, w - 1 - x]
    shifted = out.copy()
    for x in range(w):
        shifted[..., x] = out[..., max(x - shift, 0)]
    return shifted


def test_flip_back_equals_hrnet_flip_and_shift() -> None:
    rng = np.random.default_rng(0)
    # keep the HR map small: r = 1, HR = LR size, stride 4; HRNet's rule named (the default is EXACT)
    lr = heatmap_codecs(_cfg(upscale=1, flip_shift=FlipShiftRule.HRNET)).lr
    maps = rng.random((2, 5, 64, 48), np.float32)
    before = maps.copy()
    np.testing.assert_array_equal(lr.flip_back(maps, PAIRS), _hand_flip_back(maps, 1))
    np.testing.assert_array_equal(maps, before)  # never modified
    none = dataclasses.replace(lr, flip_shift_rule=FlipShiftRule.NONE)
    np.testing.assert_array_equal(none.flip_back(maps, PAIRS), _hand_flip_back(maps, 0))
    # EXACT: 0.75 px, linear interpolation between the columns x - 1 and x (x >= 1)
    exact = dataclasses.replace(lr, flip_shift_rule=FlipShiftRule.EXACT).flip_back(maps, PAIRS)
    plain = flip_back(maps, PAIRS)
    np.testing.assert_allclose(exact[..., 1:], 0.25 * plain[..., 1:] + 0.75 * plain[..., :-1], rtol=0, atol=1e-6)
    hr4 = heatmap_codecs(_cfg()).hr  # stride 1: no shift
    big = rng.random((1, 5, 256, 192), np.float32)
    np.testing.assert_array_equal(hr4.flip_back(big, PAIRS), flip_back(big, PAIRS))


# Joints in the (192, 256) patch, at least 2.5 σ_HR = 20 px from every border (the UNBIASED decoder's exact zone).
JOINTS = np.array([[[60.3, 100.6], [95.0, 128.0], [130.77, 41.2], [21.5, 230.1], [170.2, 210.9]]])
VIS = np.ones((1, 5))


@pytest.mark.parametrize("key", ["lr", "hr"])
def test_legacy_round_trip_lands_within_half_a_stride(key: str) -> None:
    """LEGACY draws the peak on the integer pixel int(x/s + 0.5) and argmax reads it back: error <= s/2 per axis
    (2 px on the stride-4 M^LR, 0.5 px on the stride-1 M^HR)."""
    codec = dataclasses.replace(heatmap_codecs(_cfg()).of(key), decoder=Decoder.ARGMAX)
    target, weight = codec.encode(JOINTS, VIS)
    assert target.shape == (1, 5, *codec.heatmap_size[::-1]) and np.array_equal(weight, np.ones((1, 5), np.float32))
    patch, score = codec.decode(target)
    half = codec.stride[0] / 2
    assert np.all(np.abs(patch - JOINTS) <= half + 1e-9)
    np.testing.assert_allclose(score[..., 0], 1.0)  # the Gaussian's peak value
    assert np.abs(patch - JOINTS).max() > 0.1  # the bias is real (the joints are sub-pixel)


@pytest.mark.parametrize("key", ["lr", "hr"])
def test_unbiased_round_trip_is_sub_pixel_exact(key: str) -> None:
    codec = dataclasses.replace(heatmap_codecs(_cfg(UNBIASED)).of(key), decoder=Decoder.UNBIASED)
    target, _ = codec.encode(JOINTS, VIS)
    patch, _ = codec.decode(target)
    np.testing.assert_allclose(patch, JOINTS, atol=0.05)


def test_decode_to_image_is_get_final_preds_with_the_maps_sigma() -> None:
    """The evaluation's old call (σ for M^LR, r·σ for M^HR, DARK kernel from it) gives the same numbers."""
    rng = np.random.default_rng(3)
    codecs = heatmap_codecs(_cfg(decoder=Decoder.DARK))
    center, scale = rng.uniform(100, 300, (1, 2)), rng.uniform(0.5, 2.0, (1, 2))
    for codec, sigma in ((codecs.lr, 2.0), (codecs.hr, 8.0)):
        maps, _ = codec.encode(JOINTS, VIS)
        maps = maps + rng.uniform(0, 0.02, maps.shape).astype(np.float32)
        want = get_final_preds(maps, center, scale, Decoder.DARK, LEGACY, (192, 256), sigma=sigma)
        got = codec.decode_to_image(maps, center, scale)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_generate_lr_hr_targets_is_both_encoders() -> None:
    cfg = _cfg(UNBIASED, upscale=2)
    lr, lr_w, hr, hr_w = generate_lr_hr_targets(JOINTS, VIS, cfg.model, cfg.target, joints_weight=np.arange(5.0))
    assert lr.shape == (1, 5, 64, 48) and hr.shape == (1, 5, 128, 96)
    np.testing.assert_array_equal(lr_w, [[0, 1, 2, 3, 4]])
    codecs = heatmap_codecs(cfg)
    np.testing.assert_array_equal(hr, codecs.hr.encode(JOINTS, VIS)[0])
    np.testing.assert_array_equal(lr, codecs.lr.encode(JOINTS, VIS)[0])
    np.testing.assert_array_equal(hr_w, lr_w)


def test_bad_maps_and_settings_are_refused() -> None:
    lr = heatmap_codecs(_cfg()).lr
    with pytest.raises(ValueError, match=r"\(N, K, 64, 48\)"):
        lr.decode(np.zeros((1, 5, 32, 24)))
    with pytest.raises(ValueError, match=r"\(N, K, 64, 48\)"):
        lr.flip_back(np.zeros((5, 64, 48)), PAIRS)
    with pytest.raises(ValueError, match="sigma"):
        dataclasses.replace(lr, sigma=0.0)
    with pytest.raises(ValueError, match="heatmap_size"):
        GaussianHeatmapCodec((192, 256), (48, 0), 2.0, LEGACY, Decoder.ARGMAX, FlipShiftRule.HRNET)
    with pytest.raises(ValueError):
        GaussianHeatmapCodec((192, 256), (48, 64), 2.0, LEGACY, Decoder.ARGMAX, "sideways")


def test_config_flip_shift_rule() -> None:
    assert _TestConfig().flip_shift is FlipShiftRule.EXACT  # the one default: no flip bias on any map at any r
    assert config_from_dict({"test": {"flip_shift": "hrnet"}}).test.flip_shift is FlipShiftRule.HRNET
    assert config_from_dict({"test": {"flip_shift": "none"}}).test.flip_shift is FlipShiftRule.NONE
    with pytest.raises(ConfigError, match=r"test\.flip_shift.*hrnet"):
        config_from_dict({"test": {"flip_shift": "sideways"}})
    with pytest.raises(ConfigError, match=r"test\.shift_heatmap"):  # the old boolean is gone
        config_from_dict({"test": {"shift_heatmap": True}})
