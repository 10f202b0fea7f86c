"""Base models (and base + head) against enhancenet-numpy with the same canonical weights, at reduced input sizes:
the shared suite (:mod:`enhancenet_runtime.suites.models`: float64 <= 1e-9 x scale, float32 <= 1e-5 x scale,
through the canonical file numpy -> Paddle; bad inputs and configurations) with Paddle's binding (conftest.py),
CPN, which has no NumPy reference, and Paddle's batch-norm convention.
"""

from __future__ import annotations

import numpy as np
import paddle

from enhancenet_core.config import BaseModelConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_paddle.models import build_model
from enhancenet_runtime.suites.models import ModelsSuite


class TestModels(ModelsSuite):
    """Every base model (+ head) against numpy-ref; bad inputs and configurations."""


def test_cpn_outputs() -> None:
    """CPN has no numpy-ref; check the contract: shapes, intermediates, F^LR -> M^LR through the final conv."""
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=5)
    model = build_model(cfg)
    model.eval()
    with paddle.no_grad():
        out = model(paddle.randn([2, 3, 64, 48]))
    assert tuple(out["lr"].shape) == (2, 5, 16, 12) and tuple(out["features"].shape) == (2, 256, 16, 12)
    assert tuple(out["hr"].shape) == (2, 5, 64, 48)
    assert [tuple(t.shape) for t in out["intermediate"]] == [(2, 5, 16, 12)] * 4
    refine = model.base.refine_net.final_predict
    with paddle.no_grad():
        np.testing.assert_allclose(refine[2](refine[1](out["features"])).numpy(), out["lr"].numpy(), rtol=0, atol=1e-6)


def test_batch_norm_convention() -> None:
    """Every BN: epsilon 1e-5, Paddle momentum 0.9 (PyTorch 0.1), and training updates the running mean as
    ``0.9 * running + 0.1 * batch_mean`` (so the conventions really are the same function)."""
    model = build_model(ModelConfig(base=BaseModelConfig(depth=18)))
    bns = [m for m in model.sublayers() if isinstance(m, paddle.nn.BatchNorm2D)]
    assert bns and all(m._epsilon == 1e-5 and m._momentum == 0.9 for m in bns)
    bn = bns[0]
    x = paddle.randn([4, bn.weight.shape[0], 5, 5])
    before = bn._mean.numpy().copy()
    bn.train()
    bn(x)
    want = 0.9 * before + 0.1 * x.numpy().mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn._mean.numpy(), want, rtol=1e-5, atol=1e-6)
