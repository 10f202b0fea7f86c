"""MindSpore layers vs enhancenet-numpy: PyTorch-semantics deconvolution, upsampling, max pooling, pixel shuffle."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from enhancenet_core.complexity import deconv_padding
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.pixel_shuffle import channel_index
from enhancenet_mindspore.models.layers import ConvTranspose2d, MaxPool2d, Upsample, torch_deconv_padding
from enhancenet_numpy import ops as nops

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (12, 2), (12, 3), (12, 4),
                                                (12, 5), (4, 2), (2, 2)])
def test_conv_transpose_matches_torch_semantics(kernel: int, stride: int) -> None:
    p, op = deconv_padding(kernel, stride) if (kernel, stride) not in ((4, 2), (2, 2)) else ((1, 0) if kernel == 4
                                                                                            else (0, 0))
    x = RNG.standard_normal((2, 4, 5, 7)).astype(np.float32)
    w = RNG.standard_normal((4, 3, kernel, kernel)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    layer = ConvTranspose2d(4, 3, kernel, stride, padding=p, output_padding=op, bias=True)
    assert tuple(layer.weight.shape) == (4, 3, kernel, kernel)  # (C_in, C_out, kh, kw) as PyTorch
    layer.weight.set_data(ms.Tensor(w))
    layer.bias.set_data(ms.Tensor(b))
    got = layer(ms.Tensor(x)).asnumpy()
    want = nops.conv_transpose2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride=stride,
                                 padding=p, output_padding=op)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())


def test_mindspore_output_padding_differs_from_torch() -> None:
    """The reason ConvTranspose2d exists: MindSpore's own output_padding appends zeros after the bias."""
    x = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    w = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    native = nn.Conv2dTranspose(1, 1, 3, stride=2, pad_mode="pad", padding=1, output_padding=1)
    native.weight.set_data(ms.Tensor(w))
    want = nops.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1)
    assert np.abs(native(ms.Tensor(x)).asnumpy() - want).max() > 1e-3
    assert torch_deconv_padding(1, 1) == ((1, 0, 1, 0), 0)
    assert torch_deconv_padding(0, 1) == ((0, 0, 0, 0), 1)


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_bilinear_half_pixel(r: int) -> None:
    x = RNG.standard_normal((2, 3, 5, 7)).astype(np.float32)
    got = Upsample(r, "bilinear")(ms.Tensor(x)).asnumpy()
    want = nops.upsample_bilinear(x.astype(np.float64), r, align_corners=False)
    np.testing.assert_allclose(got, want, atol=1e-6 * np.abs(want).max() * 10)


@pytest.mark.parametrize("r", [2, 4, 8])
def test_nearest(r: int) -> None:
    x = RNG.standard_normal((2, 3, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(Upsample(r, "nearest")(ms.Tensor(x)).asnumpy(), nops.upsample_nearest(x, r))


@pytest.mark.parametrize(("kernel", "stride", "padding", "nonneg"), [(3, 2, 1, True), (3, 2, 1, False), (2, 2, 0, False)])
def test_max_pool(kernel: int, stride: int, padding: int, nonneg: bool) -> None:
    x = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
    if nonneg:
        x = np.maximum(x, 0)
    got = MaxPool2d(kernel, stride, padding, nonnegative_input=nonneg)(ms.Tensor(x)).asnumpy()
    np.testing.assert_array_equal(got, nops.max_pool2d(x, kernel, stride, padding))


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5])
def test_pixel_shuffle_is_framework_order_on_every_index(r: int) -> None:
    k, h, w = 3, 4, 5
    x = np.arange(k * r * r * h * w, dtype=np.float32).reshape(1, k * r * r, h, w)  # value = flat index
    out = nn.PixelShuffle(r)(ms.Tensor(x)).asnumpy()[0]
    kk, yy, xx = np.meshgrid(np.arange(k), np.arange(h * r), np.arange(w * r), indexing="ij")
    c = channel_index(kk, yy % r, xx % r, k, r, ShuffleOrder.FRAMEWORK)
    np.testing.assert_array_equal(out, x[0][c, yy // r, xx // r])
    if r > 1:
        c_paper = channel_index(kk, yy % r, xx % r, k, r, ShuffleOrder.PAPER)
        assert not np.array_equal(out, x[0][c_paper, yy // r, xx // r])
