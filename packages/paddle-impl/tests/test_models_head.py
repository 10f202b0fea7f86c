"""The EnhanceNet head: the shared suite (:mod:`enhancenet_runtime.suites.head`: every configuration against
enhancenet-numpy, float64 <= 1e-10 x scale and float32 <= 1e-5 x scale, the bilinear exception of Paddle's kernel
described in conftest.py; canonical names; bad configurations) with Paddle's binding (conftest.py), and the
Paddle operators the head relies on (PixelShuffle, bilinear / nearest interpolation, max pooling,
Conv2DTranspose) against enhancenet-core / enhancenet-numpy on every index.
"""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from enhancenet_core import pixel_shuffle as core_ps
from enhancenet_core.config import EnhanceNetConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_numpy import ops
from enhancenet_paddle.models.head import (
    BILINEAR_ALIGN_MODE,
    EnhanceNet,
    paper_to_framework_channels,
    paper_to_framework_index,
)
from enhancenet_paddle.weights import paddle_name
from enhancenet_runtime.suites.head import C_F, HeadSuite, K, head_params

H, W = 7, 6  # as the shared suite's inputs


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, C_F, H, W)), rng.standard_normal((2, K, H, W))


def _paddle_head(head: EnhanceNetConfig, params: dict[str, np.ndarray], dtype: str) -> EnhanceNet:
    layer = EnhanceNet(head, C_F, K)
    layer.to(dtype=dtype)
    layer.eval()
    state = {paddle_name(k[len(HEAD_PREFIX):], in_pose_model=False): v.astype(dtype) for k, v in params.items()}
    missing, unexpected = layer.set_state_dict(state)
    assert not missing and not unexpected
    return layer


class TestHead(HeadSuite):
    """Every head configuration against numpy-ref; canonical names; bad configurations."""


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
    layer = _paddle_head(head, head_params(head), "float64")
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


def test_head_needs_its_inputs() -> None:
    layer = EnhanceNet(EnhanceNetConfig(), C_F, K)
    with pytest.raises(ValueError, match="needs both"):
        layer(paddle.zeros([1, C_F, 4, 4]), None)
