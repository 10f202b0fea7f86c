"""Batch-norm running statistics follow PyTorch's rule (unbiased variance), which Paddle's kernel does not."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from enhancenet_paddle.models.resnet import BN_MOMENTUM, batch_norm


@pytest.mark.parametrize("shape", [(2, 3, 1, 2), (4, 5, 3, 3), (1, 2, 2, 1)])
def test_running_statistics_match_pytorch_rule(shape: tuple[int, int, int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32) * 2.0 + 0.5
    bn = batch_norm(shape[1])
    bn.train()
    y = bn(paddle.to_tensor(x)).numpy()
    n = shape[0] * shape[2] * shape[3]
    torch_m = 1.0 - BN_MOMENTUM  # PyTorch's momentum: weight of the batch statistic
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn._mean.numpy(), torch_m * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn._variance.numpy(), (1 - torch_m) + torch_m * var * n / (n - 1), rtol=1e-5)
    # normalisation uses the biased batch variance (eps 1e-5), weight 1 and bias 0 at initialisation
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_eval_mode_uses_running_statistics_unchanged() -> None:
    bn = batch_norm(2)
    bn.eval()
    before = bn._variance.numpy().copy()
    bn(paddle.ones([2, 2, 2, 2]))
    np.testing.assert_array_equal(bn._variance.numpy(), before)
