"""The EnhanceNet head in every configuration against enhancenet-numpy with the same canonical weights, and the
Paddle operators it relies on (PixelShuffle, bilinear / nearest interpolation, max pooling, Conv2DTranspose)
against enhancenet-core / enhancenet-numpy on every index.

float64 Paddle vs float64 NumPy: max abs diff <= 1e-10 x scale; float32 Paddle vs float64 NumPy: <= 1e-5 x scale
(scale = max |M^HR| of the reference), the tolerance stated in DEVELOPERS.md. Every op used here supports
float64 on Paddle's CPU kernels, so both are run. One exception to the float64 bound: Paddle's bilinear
kernel computes the source coordinate ``(dst + 0.5) / r - 0.5`` in float32 even for float64 tensors, so for an
upscale r that is not a power of two (1/r not exact in binary) float64 agrees to ~1e-7 x scale only; those
cases use 1e-6 (r = 2, 4 stay at 1e-10 and the float32 bound is unchanged).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from enhancenet_core import pixel_shuffle as core_ps
from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.namemap import HEAD_PREFIX, head_parameter_specs
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights
from enhancenet_paddle.models.head import (
    BILINEAR_ALIGN_MODE,
    EnhanceNet,
    paper_to_framework_channels,
    paper_to_framework_index,
)
from enhancenet_paddle.weights import canonical_state_dict, paddle_name

C_F, K, H, W = 24, 5, 7, 6  # small F^LR / M^LR: odd sizes catch padding mistakes


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, C_F, H, W)), rng.standard_normal((2, K, H, W))


def _head_params(head: EnhanceNetConfig, seed: int = 1) -> dict[str, np.ndarray]:
    return init_weights(ModelConfig(head=head, num_keypoints=K), seed, np.float64, feature_channels=C_F)


def _paddle_head(head: EnhanceNetConfig, params: dict[str, np.ndarray], dtype: str) -> EnhanceNet:
    layer = EnhanceNet(head, C_F, K)
    layer.to(dtype=dtype)
    layer.eval()
    state = {paddle_name(k[len(HEAD_PREFIX):], in_pose_model=False): v.astype(dtype) for k, v in params.items()}
    missing, unexpected = layer.set_state_dict(state)
    assert not missing and not unexpected
    return layer


def _check(head: EnhanceNetConfig, tol64: float = 1e-10) -> None:
    f, m = _inputs()
    params = _head_params(head)
    want = head_forward(params, f, m, head)
    assert want.shape == (2, K, head.upscale * H, head.upscale * W)
    scale = float(np.abs(want).max())
    assert scale > 0
    for dtype, tol in (("float64", tol64), ("float32", 1e-5)):
        layer = _paddle_head(head, params, dtype)
        with paddle.no_grad():
            got = layer(paddle.to_tensor(f.astype(dtype)), paddle.to_tensor(m.astype(dtype)))
        assert str(got.dtype) == f"paddle.{dtype}"
        got_np = got.numpy().astype(np.float64)
        assert got_np.shape == want.shape
        diff = float(np.abs(got_np - want).max())
        assert diff <= tol * scale, f"{dtype}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e} for {head}"


@pytest.mark.parametrize("inputs", list(HeadInput))
def test_head_inputs(inputs: HeadInput) -> None:
    _check(EnhanceNetConfig(inputs=inputs, channels=16))


@pytest.mark.parametrize("num_layers", [2, 3, 4])
def test_head_num_layers(num_layers: int) -> None:
    _check(EnhanceNetConfig(num_layers=num_layers, channels=16))


def test_head_refuses_one_layer() -> None:
    """L counts the upsampler and Eq. 2 needs w_1 before it (Sec. 3.1): L = 1 is refused, as the config does."""
    with pytest.raises(ValueError, match=r"model\.head\.num_layers: expected a value >= 2, got 1"):
        EnhanceNet(EnhanceNetConfig(num_layers=1, channels=16), C_F, K)


@pytest.mark.parametrize("order", list(ShuffleOrder))
@pytest.mark.parametrize("upscale", [1, 2, 3, 4, 5])
def test_head_subpixel(upscale: int, order: ShuffleOrder) -> None:
    _check(EnhanceNetConfig(upscale=upscale, shuffle_order=order, channels=16))


@pytest.mark.parametrize("kernel", [3, 12])
@pytest.mark.parametrize("upscale", [2, 4])
def test_head_deconv(kernel: int, upscale: int) -> None:
    _check(EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=kernel, upscale=upscale, channels=16))


@pytest.mark.parametrize("upscale", [2, 3, 4, 5])
def test_head_bilinear_conv(upscale: int) -> None:
    exact_ratio = upscale & (upscale - 1) == 0  # 1/r exact in float32: Paddle's coordinate arithmetic is exact
    _check(EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=upscale, channels=16),
           tol64=1e-10 if exact_ratio else 1e-6)


def test_head_kernels_and_width() -> None:
    _check(EnhanceNetConfig(first_kernel=3, kernel=5, upsampler_kernel=5, channels=8))


def test_head_state_dict_is_canonical() -> None:
    for head in (EnhanceNetConfig(), EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12),
                 EnhanceNetConfig(num_layers=4, inputs=HeadInput.HEATMAPS, upsampler=Upsampler.BILINEAR_CONV)):
        layer = EnhanceNet(head, 256, 17)
        specs = head_parameter_specs(head, 256, 17)
        got = {HEAD_PREFIX + k: tuple(v.shape) for k, v in canonical_state_dict(layer).items()}
        assert got == {k: s.shape for k, s in specs.items()}
        assert list(got) == list(specs)


# ------------------------------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("upscale", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("num_keypoints", [1, 3, 17])
def test_paddle_pixel_shuffle_is_the_framework_order(upscale: int, num_keypoints: int) -> None:
    """Channel c holding the value c (plus a position code): every output index of paddle.nn.PixelShuffle
    equals enhancenet_core.pixel_shuffle in the FRAMEWORK order, and the paper path equals the PAPER order."""
    c, h, w = num_keypoints * upscale * upscale, 3, 4
    x = (np.arange(c, dtype=np.float64).reshape(1, c, 1, 1) * 1000
         + np.arange(h * w, dtype=np.float64).reshape(1, 1, h, w))
    x = np.concatenate([x, x + 10**7])  # two batch items
    got = paddle.nn.PixelShuffle(upscale)(paddle.to_tensor(x)).numpy()
    assert np.array_equal(got, core_ps.pixel_shuffle(x, upscale, ShuffleOrder.FRAMEWORK))
    paper = paddle.nn.PixelShuffle(upscale)(
        paper_to_framework_channels(paddle.to_tensor(x), num_keypoints, upscale)
    ).numpy()
    assert np.array_equal(paper, core_ps.pixel_shuffle(x, upscale, ShuffleOrder.PAPER))
    if upscale > 1:  # the two orders really differ, so the checks above could fail
        assert not np.array_equal(paper, got)


def test_paper_index_matches_eq5() -> None:
    """The folded permutation equals the reshape path and Eq. 5 (x the row, y the column, as the core spec)."""
    for r in (2, 3, 4):
        c = K * r * r
        x = np.arange(c, dtype=np.float64).reshape(1, c, 1, 1) * np.ones((1, 1, 2, 3))
        idx = paper_to_framework_index(K, r)
        assert np.array_equal(paper_to_framework_channels(paddle.to_tensor(x), K, r).numpy(), x[:, idx])
        got = F.pixel_shuffle(paddle.to_tensor(x[:, idx]), r).numpy()
        xs, ys = np.meshgrid(np.arange(2 * r), np.arange(3 * r), indexing="ij")
        for k in range(K):
            assert np.array_equal(got[0, k], K * r * (ys % r) + K * (xs % r) + k)


def test_paper_order_equals_framework_order_after_conversion() -> None:
    head = EnhanceNetConfig(upscale=3, shuffle_order=ShuffleOrder.PAPER, channels=16)
    layer = _paddle_head(head, _head_params(head), "float64")
    f, m = (paddle.to_tensor(a) for a in _inputs(3))
    with paddle.no_grad():
        before = layer(f, m).numpy()
        layer.to_framework_order()
        after = layer(f, m).numpy()
    assert layer.shuffle_order is ShuffleOrder.FRAMEWORK and not layer.permutes
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12)
    assert not np.array_equal(paper_to_framework_index(K, 3), np.arange(K * 9))


# --------------------------------------------------------------------------------- the other operators
@pytest.mark.parametrize("scale", [2, 3, 4, 5])
def test_bilinear_matches_numpy_reference(scale: int) -> None:
    x = np.random.default_rng(scale).standard_normal((2, 3, 5, 4))
    got = F.interpolate(paddle.to_tensor(x), scale_factor=scale, mode="bilinear", align_corners=False,
                        align_mode=BILINEAR_ALIGN_MODE).numpy()
    want = ops.upsample_bilinear(x, scale, align_corners=False)
    exact_ratio = scale & (scale - 1) == 0  # see the module docstring: float32 source coordinates
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 if exact_ratio else 1e-6 * np.abs(x).max())
    # Paddle's default align_mode=1 is a different function: the explicit 0 is what makes them equal
    other = F.interpolate(paddle.to_tensor(x), scale_factor=scale, mode="bilinear", align_corners=False,
                          align_mode=1).numpy()
    assert np.abs(other - want).max() > 1e-3
    corners = F.interpolate(paddle.to_tensor(x), size=[5 * scale, 4 * scale], mode="bilinear",
                            align_corners=True).numpy()  # CPN's resize
    np.testing.assert_allclose(corners, ops.upsample_bilinear(x, scale, align_corners=True), rtol=0,
                               atol=1e-6 * np.abs(x).max())


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_nearest_upsampling_and_max_pool_match_numpy(scale: int) -> None:
    x = np.random.default_rng(scale).standard_normal((2, 3, 6, 5)) - 3.0  # negative: padding must act as -inf
    got = paddle.nn.Upsample(scale_factor=scale, mode="nearest")(paddle.to_tensor(x)).numpy()
    assert np.array_equal(got, ops.upsample_nearest(x, scale))
    assert np.array_equal(F.max_pool2d(paddle.to_tensor(x), 3, 2, 1).numpy(), ops.max_pool2d(x, 3, 2, 1))
    y = np.random.default_rng(0).standard_normal((1, 2, 8, 8))
    assert np.array_equal(F.max_pool2d(paddle.to_tensor(y), 2, 2).numpy(), ops.max_pool2d(y, 2, 2))


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_layout_is_torch_layout(groups: int) -> None:
    """Conv2DTranspose stores (C_in, C_out/groups, kh, kw) and computes numpy-ref's (PyTorch's) function."""
    layer = paddle.nn.Conv2DTranspose(4, 6, 3, stride=2, padding=1, output_padding=1, groups=groups)
    assert tuple(layer.weight.shape) == (4, 6 // groups, 3, 3)
    rng = np.random.default_rng(groups)
    w, b = rng.standard_normal((4, 6 // groups, 3, 3)), rng.standard_normal(6)
    layer.to(dtype="float64")
    layer.weight.set_value(w)
    layer.bias.set_value(b)
    x = rng.standard_normal((2, 4, 5, 3))
    got = layer(paddle.to_tensor(x)).numpy()
    want = ops.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=groups)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_head_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="upscale"):
        EnhanceNet(EnhanceNetConfig(upscale=0), C_F, K)
    with pytest.raises(ValueError, match="kernel 12 and stride 1"):
        EnhanceNet(replace(EnhanceNetConfig(), upsampler=Upsampler.DECONV, upsampler_kernel=12, upscale=1), C_F, K)
    layer = EnhanceNet(EnhanceNetConfig(), C_F, K)
    with pytest.raises(ValueError, match="needs both"):
        layer(paddle.zeros([1, C_F, 4, 4]), None)
