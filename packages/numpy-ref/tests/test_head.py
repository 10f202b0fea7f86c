"""The EnhanceNet head: sub-pixel == deconvolution with a kr x kr kernel (Sec. 3.3), inputs, sizes, orders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.pixel_shuffle import pixel_shuffle
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights, reorder_subpixel

RNG = np.random.default_rng(99)


def subpixel_as_deconv(w_sp: np.ndarray, num_keypoints: int, r: int, order: ShuffleOrder) -> np.ndarray:
    """Deconv weights (C, K, k·r, k·r) computing the same map as conv(w_sp, pad k//2) + PS (odd k).

    Output pixel (h·r + i, w·r + j) of keypoint o is channel ch(o, i, j) of the sub-pixel conv at (h, w),
    i.e. sum over (c, a, b) of w_sp[ch, c, a, b]·x[c, h + a − p, w + b − p]. A stride-r deconvolution with
    padding P = p·r adds x[c, h', w']·W[c, o, Y − h'·r + P, X − w'·r + P]; matching terms gives
    W[c, o, (k − 1 − a)·r + i, (k − 1 − b)·r + j] = w_sp[ch(o, i, j), c, a, b].
    """
    kr2, c, k, _ = w_sp.shape
    # ch(o, i, j): which conv channel the shuffle puts at keypoint o, offset (i, j) -- read off PS itself.
    index = np.arange(kr2, dtype=np.float64).reshape(1, kr2, 1, 1)
    ch = pixel_shuffle(index, r, order)[0].astype(np.int64)  # (K, r, r)
    wd = np.zeros((c, num_keypoints, k * r, k * r))
    for a in range(k):
        for b in range(k):
            # block of the deconv kernel fed by tap (a, b): rows (k-1-a)*r + i, cols (k-1-b)*r + j
            block = w_sp[ch, :, a, b]  # (K, r, r, C)
            wd[:, :, (k - 1 - a) * r : (k - a) * r, (k - 1 - b) * r : (k - b) * r] = block.transpose(3, 0, 1, 2)
    return wd


@pytest.mark.parametrize("order", list(ShuffleOrder))
@pytest.mark.parametrize("r", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 3])
def test_subpixel_equals_large_kernel_deconvolution(order, r, k):
    num_keypoints, c, h, w = 3, 5, 4, 6
    x = RNG.standard_normal((2, c, h, w))
    w_sp = RNG.standard_normal((num_keypoints * r * r, c, k, k))
    bias = RNG.standard_normal(num_keypoints * r * r)
    sub = ops.pixel_shuffle(ops.conv2d(x, w_sp, bias, padding=k // 2), r, order)
    wd = subpixel_as_deconv(w_sp, num_keypoints, r, order)
    deconv = ops.conv_transpose2d(x, wd, None, stride=r, padding=(k // 2) * r)
    # The sub-pixel bias is periodic over (i, j); the deconvolution's is per keypoint: add the period map.
    bias_map = ops.pixel_shuffle(np.broadcast_to(bias.reshape(1, -1, 1, 1), (1, bias.size, h, w)).copy(), r, order)
    assert deconv.shape == sub.shape == (2, num_keypoints, r * h, r * w)
    np.testing.assert_allclose(deconv + bias_map, sub, rtol=1e-12, atol=1e-12)


def _cfg(**head) -> ModelConfig:
    return ModelConfig(head=EnhanceNetConfig(**head), num_keypoints=3)


def _head_params(cfg: ModelConfig, fc: int, seed: int = 0) -> dict[str, np.ndarray]:
    return init_weights(cfg, seed, feature_channels=fc)


@pytest.mark.parametrize(
    "head",
    [
        {"upsampler": Upsampler.SUBPIXEL, "upscale": r} for r in (1, 2, 3, 4, 5)
    ]
    + [{"upsampler": Upsampler.DECONV, "upsampler_kernel": k, "upscale": r} for k, r in ((3, 4), (12, 4), (3, 1), (3, 5), (4, 2))]
    + [{"upsampler": Upsampler.BILINEAR_CONV, "upscale": r} for r in (1, 3, 4)],
)
@pytest.mark.parametrize("layers", [2, 3, 4])
def test_output_is_exactly_r_times_larger(head, layers):
    cfg = _cfg(channels=6, num_layers=layers, **head)
    fc, h, w = 4, 5, 3
    p = _head_params(cfg, fc)
    out = head_forward(p, RNG.standard_normal((2, fc, h, w)), RNG.standard_normal((2, 3, h, w)), cfg.head)
    r = cfg.head.upscale
    assert out.shape == (2, 3, r * h, r * w)
    assert np.isfinite(out).all() and out.std() > 0


def test_one_layer_head_is_refused():
    """L counts the upsampler and Eq. 2 needs w_1 before it (Sec. 3.1): L = 1 is refused by the forward pass and
    by the name map, with the config's message."""
    good = _cfg(channels=6)
    p = _head_params(good, 4)
    one = EnhanceNetConfig(channels=6, num_layers=1)
    f, m = RNG.standard_normal((1, 4, 3, 3)), RNG.standard_normal((1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"model\.head\.num_layers: expected a value >= 2, got 1"):
        head_forward(p, f, m, one)
    with pytest.raises(ValueError, match=r"model\.head\.num_layers"):
        _head_params(ModelConfig(head=one, num_keypoints=3), 4)


def test_input_selection_and_concat_order():
    """F alone ignores M, M alone ignores F, and F+M feeds [F, M] in that order (Eq. 1)."""
    fc, h, w = 4, 3, 3
    f, m = RNG.standard_normal((1, fc, h, w)), RNG.standard_normal((1, 3, h, w))
    f2, m2 = RNG.standard_normal(f.shape), RNG.standard_normal(m.shape)
    cfg_f = _cfg(inputs=HeadInput.FEATURES, channels=4)
    p = _head_params(cfg_f, fc)
    np.testing.assert_array_equal(head_forward(p, f, m, cfg_f.head), head_forward(p, f, m2, cfg_f.head))
    assert not np.allclose(head_forward(p, f, m, cfg_f.head), head_forward(p, f2, m, cfg_f.head))
    cfg_m = _cfg(inputs=HeadInput.HEATMAPS, channels=4)
    p = _head_params(cfg_m, fc)
    np.testing.assert_array_equal(head_forward(p, f, m, cfg_m.head), head_forward(p, None, m, cfg_m.head))
    cfg_b = _cfg(inputs=HeadInput.BOTH, channels=4)
    p = _head_params(cfg_b, fc)
    assert p["enhance.convs.0.weight"].shape[1] == fc + 3
    # zero the filters reading M: the output must then depend on F only -> columns [0, fc) are F.
    p0 = dict(p)
    w0 = p0["enhance.convs.0.weight"].copy()
    w0[:, fc:] = 0
    p0["enhance.convs.0.weight"] = w0
    np.testing.assert_array_equal(head_forward(p0, f, m, cfg_b.head), head_forward(p0, f, m2, cfg_b.head))
    with pytest.raises(ValueError, match="needs M"):
        head_forward(p, f, None, cfg_b.head)


def test_relu_between_layers_and_none_after_last():
    """A large negative first-layer bias kills every unit (ReLU), leaving only the last layer's bias."""
    cfg = _cfg(channels=4, num_layers=2, upscale=2)
    p = dict(_head_params(cfg, 2))
    p["enhance.convs.0.bias"] = np.full(4, -1e6)
    out = head_forward(p, RNG.standard_normal((1, 2, 3, 3)), RNG.standard_normal((1, 3, 3, 3)), cfg.head)
    expected = ops.pixel_shuffle(np.broadcast_to(p["enhance.upsample.bias"].reshape(1, -1, 1, 1), (1, 12, 3, 3)).copy(), 2, cfg.head.shuffle_order)
    np.testing.assert_allclose(out, expected)
    assert (out < 0).any()  # no activation after the last layer


@pytest.mark.parametrize("r", [2, 3, 4])
def test_reordering_the_last_conv_between_shuffle_orders_keeps_the_heat_maps(r):
    cfg = _cfg(channels=4, upscale=r, shuffle_order=ShuffleOrder.FRAMEWORK)
    p = _head_params(cfg, 2)
    f, m = RNG.standard_normal((1, 2, 3, 4)), RNG.standard_normal((1, 3, 3, 4))
    p2, cfg2 = reorder_subpixel(p, cfg, ShuffleOrder.PAPER)
    assert cfg2.head.shuffle_order == ShuffleOrder.PAPER
    assert not np.array_equal(p2["enhance.upsample.weight"], p["enhance.upsample.weight"])
    np.testing.assert_array_equal(head_forward(p, f, m, cfg.head), head_forward(p2, f, m, cfg2.head))
    # the same weights read in the wrong order give different maps
    wrong = dataclasses.replace(cfg.head, shuffle_order=ShuffleOrder.PAPER)
    assert not np.allclose(head_forward(p, f, m, cfg.head), head_forward(p, f, m, wrong))


def test_float32_head_close_to_float64():
    cfg = _cfg(channels=8)
    p64 = _head_params(cfg, 4)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    f, m = RNG.standard_normal((2, 4, 6, 5)), RNG.standard_normal((2, 3, 6, 5))
    o64 = head_forward(p64, f, m, cfg.head)
    o32 = head_forward(p32, f.astype(np.float32), m.astype(np.float32), cfg.head)
    assert o32.dtype == np.float32
    assert np.abs(o32 - o64).max() <= 1e-5 * np.abs(o64).max()
