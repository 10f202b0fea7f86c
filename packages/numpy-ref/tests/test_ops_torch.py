"""Optional cross-check of the PyTorch semantics numpy-ref claims, where torch is installed.

numpy-ref never imports torch; its own venv (``nox -s tests``) has no torch, so these tests skip there and
run in the shared dev environment. The loop tests in ``test_ops.py`` are the definition either way.
"""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.conventions import ShuffleOrder
from enhancenet_numpy import ops

torch = pytest.importorskip("torch", reason="torch not installed: PyTorch-semantics cross-check skipped")
F = torch.nn.functional
RNG = np.random.default_rng(7)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize(("k", "s", "p", "op", "g", "d"), [(4, 2, 1, 0, 1, 1), (3, 4, 0, 1, 1, 1), (12, 4, 4, 0, 1, 1), (3, 2, 2, 1, 2, 2)])
def test_conv_transpose2d_equals_torch(k, s, p, op, g, d):
    x, w, b = RNG.standard_normal((2, 4, 5, 3)), RNG.standard_normal((4, 3, k, k)), RNG.standard_normal(3 * g)
    want = F.conv_transpose2d(t(x), t(w), t(b), stride=s, padding=p, output_padding=op, groups=g, dilation=d).numpy()
    np.testing.assert_allclose(ops.conv_transpose2d(x, w, b, s, p, op, g, d), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("k", "s", "p", "d", "g"), [(3, 2, 1, 1, 1), (7, 2, 3, 1, 1), (3, 1, 2, 2, 2)])
def test_conv2d_equals_torch(k, s, p, d, g):
    x, w = RNG.standard_normal((2, 4, 9, 8)), RNG.standard_normal((6, 4 // g, k, k))
    want = F.conv2d(t(x), t(w), None, stride=s, padding=p, dilation=d, groups=g).numpy()
    np.testing.assert_allclose(ops.conv2d(x, w, None, s, p, d, g), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_equals_torch(s, align_corners):
    x = RNG.standard_normal((1, 2, 5, 4))
    want = F.interpolate(t(x), scale_factor=s, mode="bilinear", align_corners=align_corners).numpy()
    np.testing.assert_allclose(ops.upsample_bilinear(x, s, align_corners), want, rtol=1e-12, atol=1e-12)


def test_nearest_and_maxpool_equal_torch():
    x = RNG.standard_normal((1, 2, 6, 4))
    np.testing.assert_array_equal(ops.upsample_nearest(x, 4), F.interpolate(t(x), scale_factor=4, mode="nearest").numpy())
    np.testing.assert_array_equal(ops.max_pool2d(x, 3, 2, 1), F.max_pool2d(t(x), 3, 2, 1).numpy())


@pytest.mark.parametrize("r", [2, 3, 4])
def test_framework_shuffle_equals_torch(r):
    x = RNG.standard_normal((2, 3 * r * r, 3, 2))
    np.testing.assert_array_equal(ops.pixel_shuffle(x, r, ShuffleOrder.FRAMEWORK), F.pixel_shuffle(t(x), r).numpy())


def test_train_mode_batch_norm_equals_torch():
    x, g, b = RNG.standard_normal((3, 4, 5, 2)) * 2 + 1, RNG.uniform(0.5, 1.5, 4), RNG.standard_normal(4)
    want = F.batch_norm(t(x), None, None, t(g), t(b), training=True, eps=1e-5).numpy()
    np.testing.assert_allclose(ops.batch_norm_batch_stats(x, g, b, 1e-5), want, rtol=1e-12, atol=1e-12)
