"""Each op against a naive loop written here (the loop is the readable definition), on tiny inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from enhancenet_core.conventions import ShuffleOrder
from enhancenet_numpy import ops

RNG = np.random.default_rng(1234)


def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    n, _, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    og = c_out // groups
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, c_out, ho, wo))
    for bi, o, y, xx in itertools.product(range(n), range(c_out), range(ho), range(wo)):
        g = o // og
        acc = 0.0 if b is None else b[o]
        for c, i, j in itertools.product(range(cg), range(kh), range(kw)):
            yy = y * stride - padding + i * dilation
            xj = xx * stride - padding + j * dilation
            if 0 <= yy < h and 0 <= xj < wd:
                acc += x[bi, g * cg + c, yy, xj] * w[o, c, i, j]
        out[bi, o, y, xx] = acc
    return out


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter definition: every input pixel adds its kernel-weighted copy at stride spacing."""
    n, c_in, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c_in // groups
    ho = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1
    wo = (wd - 1) * stride - 2 * padding + dilation * (kw - 1) + output_padding + 1
    out = np.zeros((n, og * groups, ho, wo))
    for bi, c, y, xx, o, i, j in itertools.product(range(n), range(c_in), range(h), range(wd), range(og), range(kh), range(kw)):
        g = c // cg
        oy = y * stride - padding + i * dilation
        ox = xx * stride - padding + j * dilation
        if 0 <= oy < ho and 0 <= ox < wo:
            out[bi, g * og + o, oy, ox] += x[bi, c, y, xx] * w[c, o, i, j]
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


@pytest.mark.parametrize(
    ("k", "stride", "padding", "dilation", "groups"),
    [(1, 1, 0, 1, 1), (3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (7, 2, 3, 1, 1), (3, 1, 2, 2, 1), (3, 2, 0, 1, 2), (2, 1, 0, 1, 4), (4, 3, 2, 2, 2)],
)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_loop(k, stride, padding, dilation, groups, bias):
    x = RNG.standard_normal((2, 4, 9, 7))
    w = RNG.standard_normal((2 * groups if groups > 1 else 6, 4 // groups, k, k))
    b = RNG.standard_normal(w.shape[0]) if bias else None
    got = ops.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    want = naive_conv2d(x, w, b, stride, padding, dilation, groups)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def rowmajor_im2col_conv2d(x, w, b, stride, padding, dilation, groups):
    """The textbook im2col: a (N*H_out*W_out, C_in/g*kh*kw) row-major copy, one matmul per group."""
    n = x.shape[0]
    c_out, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::stride, ::stride, ::dilation, ::dilation]
    ho, wo = win.shape[2], win.shape[3]
    cols = np.ascontiguousarray(win.reshape(n, groups, cg, ho, wo, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6))
    out = np.matmul(cols.reshape(groups, n * ho * wo, cg * kh * kw), w.reshape(groups, c_out // groups, -1).transpose(0, 2, 1))
    out = out.reshape(groups, n, ho, wo, -1).transpose(1, 0, 4, 2, 3).reshape(n, c_out, ho, wo)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


@pytest.mark.parametrize(
    ("shape", "c_out", "k", "stride", "padding", "dilation", "groups"),
    [((2, 4, 9, 7), 6, 3, 2, 1, 1, 1), ((1, 3, 16, 12), 5, 7, 2, 3, 1, 1), ((2, 4, 8, 8), 6, 3, 1, 2, 2, 2),
     ((3, 37, 11, 12), 65, 3, 1, 1, 1, 1), ((2, 33, 12, 10), 17, 1, 1, 0, 1, 1), ((1, 33, 12, 10), 17, 1, 1, 0, 1, 1),
     ((2, 40, 13, 9), 130, 3, 1, 1, 1, 1)],
)
def test_conv2d_float64_bits_are_those_of_the_row_major_im2col(shape, c_out, k, stride, padding, dilation, groups):
    """The transposed im2col copy feeds BLAS the same product (same reduction order over (channel, kh, kw)), so
    float64 results are bit-identical to the textbook layout: the golden tensors do not move."""
    x = RNG.standard_normal(shape)
    w = RNG.standard_normal((c_out, shape[1] // groups, k, k))
    b = RNG.standard_normal(c_out)
    got = ops.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    want = rowmajor_im2col_conv2d(x, w, b, stride, padding, dilation, groups)
    assert got.flags.c_contiguous and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


def test_conv2d_keeps_float32_and_promotes_a_float64_bias():
    x = RNG.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert ops.conv2d(x, w, np.zeros(4, np.float32), padding=1).dtype == np.float32
    got = ops.conv2d(x, w, np.ones(4), padding=1)  # float64 bias: NumPy's promotion, as out + bias
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, naive_conv2d(x.astype(np.float64), w.astype(np.float64), np.ones(4), 1, 1, 1, 1),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("k", "stride", "padding", "output_padding", "groups", "dilation"),
    [(4, 2, 1, 0, 1, 1), (3, 2, 1, 1, 1, 1), (2, 2, 0, 0, 1, 1), (3, 4, 0, 1, 1, 1), (12, 4, 4, 0, 1, 1), (3, 1, 1, 0, 1, 1), (4, 2, 1, 1, 2, 1), (3, 2, 2, 1, 1, 2), (5, 3, 0, 2, 1, 1)],
)
def test_conv_transpose2d_matches_loop(k, stride, padding, output_padding, groups, dilation):
    x = RNG.standard_normal((2, 4, 3, 4))
    w = RNG.standard_normal((4, 6 // groups if groups > 1 else 3, k, k))
    b = RNG.standard_normal(w.shape[1] * groups)
    got = ops.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    want = naive_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv_transpose_rejects_large_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), stride=2, output_padding=2)


def test_conv2d_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        ops.conv2d(np.zeros((1, 3, 4, 4)), np.zeros((2, 4, 1, 1)))


def test_batch_norm_matches_loop():
    x = RNG.standard_normal((2, 3, 4, 5))
    g, b, m, v = RNG.uniform(0.5, 1.5, 3), RNG.standard_normal(3), RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    want = np.empty_like(x)
    for c in range(3):
        want[:, c] = (x[:, c] - m[c]) / np.sqrt(v[c] + 1e-5) * g[c] + b[c]
    np.testing.assert_allclose(ops.batch_norm(x, g, b, m, v, 1e-5), want, rtol=1e-13, atol=1e-13)


def test_batch_norm_batch_stats_matches_loop_and_the_models_switch():
    """Training mode: each channel's mean and biased variance over (N, H, W); models use it inside
    ``batch_statistics()`` only (a BN whose running statistics are the batch's gives the same output)."""
    from enhancenet_numpy.models import batch_statistics
    from enhancenet_numpy.models._layers import bn

    x = RNG.standard_normal((3, 2, 4, 5)) * 3 + 1
    g, b = RNG.uniform(0.5, 1.5, 2), RNG.standard_normal(2)
    want = np.empty_like(x)
    for c in range(2):
        vals = x[:, c].ravel()
        mu = sum(vals) / vals.size
        var = sum((v - mu) ** 2 for v in vals) / vals.size
        want[:, c] = (x[:, c] - mu) / np.sqrt(var + 1e-5) * g[c] + b[c]
    np.testing.assert_allclose(ops.batch_norm_batch_stats(x, g, b, 1e-5), want, rtol=1e-12, atol=1e-12)
    params = {"n.weight": g, "n.bias": b, "n.running_mean": np.zeros(2), "n.running_var": np.ones(2)}
    assert not np.allclose(bn(params, "n", x), want)  # evaluation mode by default
    with batch_statistics():
        np.testing.assert_allclose(bn(params, "n", x), want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(bn(params, "n", x), want)  # and again after the block


@pytest.mark.parametrize(("k", "s", "p"), [(3, 2, 1), (2, 2, 0), (3, 1, 1), (3, 3, 0)])
def test_max_pool_matches_loop(k, s, p):
    x = RNG.standard_normal((2, 2, 7, 6))
    h, w = x.shape[2:]
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    want = np.full((2, 2, ho, wo), -np.inf)
    for n, c, y, xx, i, j in itertools.product(range(2), range(2), range(ho), range(wo), range(k), range(k)):
        yy, xj = y * s - p + i, xx * s - p + j
        if 0 <= yy < h and 0 <= xj < w:
            want[n, c, y, xx] = max(want[n, c, y, xx], x[n, c, yy, xj])
    np.testing.assert_array_equal(ops.max_pool2d(x, k, s, p), want)


@pytest.mark.parametrize("s", [1, 2, 3, 8])
def test_upsample_nearest_matches_loop(s):
    x = RNG.standard_normal((1, 2, 3, 2))
    got = ops.upsample_nearest(x, s)
    for y, xx in itertools.product(range(3 * s), range(2 * s)):
        np.testing.assert_array_equal(got[:, :, y, xx], x[:, :, y // s, xx // s])


def naive_bilinear(x, s, align_corners):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h * s, w * s))

    def src(d, size_in, size_out):
        if align_corners:
            return d * (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        return max((d + 0.5) / s - 0.5, 0.0)

    for y, xx in itertools.product(range(h * s), range(w * s)):
        sy, sx = src(y, h, h * s), src(xx, w, w * s)
        y0, x0 = min(int(np.floor(sy)), h - 1), min(int(np.floor(sx)), w - 1)
        y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
        ly, lx = sy - y0, sx - x0
        out[:, :, y, xx] = (
            (1 - ly) * (1 - lx) * x[:, :, y0, x0]
            + (1 - ly) * lx * x[:, :, y0, x1]
            + ly * (1 - lx) * x[:, :, y1, x0]
            + ly * lx * x[:, :, y1, x1]
        )
    return out


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("align_corners", [False, True])
def test_upsample_bilinear_matches_loop(s, align_corners):
    x = RNG.standard_normal((1, 2, 4, 3))
    np.testing.assert_allclose(ops.upsample_bilinear(x, s, align_corners), naive_bilinear(x, s, align_corners), rtol=1e-13, atol=1e-13)


def test_upsample_bilinear_known_values():
    """PyTorch's documented behaviour: [0, 1] x2 -> [0, .25, .75, 1] (align_corners=False), thirds with True."""
    x = np.array([0.0, 1.0]).reshape(1, 1, 1, 2)
    np.testing.assert_allclose(ops.upsample_bilinear(x, 2, False)[0, 0, 0], [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(ops.upsample_bilinear(x, 2, True)[0, 0, 0], [0, 1 / 3, 2 / 3, 1])


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_framework_order_matches_loop(r):
    k, h, w = 2, 3, 2
    x = RNG.standard_normal((1, k * r * r, h, w))
    got = ops.pixel_shuffle(x, r, ShuffleOrder.FRAMEWORK)
    for kk, y, xx in itertools.product(range(k), range(h * r), range(w * r)):
        i, j = y % r, xx % r
        assert got[0, kk, y, xx] == x[0, kk * r * r + i * r + j, y // r, xx // r]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_keep_dtype(dtype):
    x = RNG.standard_normal((1, 4, 6, 6)).astype(dtype)
    w = RNG.standard_normal((4, 4, 3, 3)).astype(dtype)
    p = np.ones(4, dtype)
    assert ops.conv2d(x, w, p, padding=1).dtype == dtype
    assert ops.conv_transpose2d(x, w, p, stride=2, padding=1, output_padding=1).dtype == dtype
    assert ops.batch_norm(x, p, p, p, p).dtype == dtype
    assert ops.upsample_bilinear(x, 2).dtype == dtype
    assert ops.relu(x).dtype == dtype
    assert ops.max_pool2d(x, 2).dtype == dtype
