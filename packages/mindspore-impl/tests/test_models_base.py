"""Base models (+ head) vs enhancenet-numpy at reduced input size, with identical canonical weights: the shared
suite (:mod:`enhancenet_runtime.suites.models`; float32 <= 1e-4 x max |map| of the float64 reference, as said in
conftest.py; bad inputs and configurations) with MindSpore's binding (conftest.py), GRAPH_MODE, and CPN, which
has no NumPy reference. HRNet needs H, W divisible by 32, hourglass by 64.
"""

from __future__ import annotations

import mindspore as ms
import numpy as np
from _helpers import assert_close_to_scale, model_with_reference_weights

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_mindspore.models import build_model
from enhancenet_numpy.models import full_forward
from enhancenet_runtime.suites.models import ModelsSuite


class TestModels(ModelsSuite):
    """Every base model (+ head) against numpy-ref; bad inputs and configurations."""


REL = 1e-4
HEAD = EnhanceNetConfig(channels=16, upscale=2)


def _check(cfg: ModelConfig, size_hw: tuple[int, int]) -> dict:
    model, params = model_with_reference_weights(cfg)
    x = np.random.default_rng(0).standard_normal((1, 3, *size_hw))
    out = model(ms.Tensor(x.astype(np.float32)))
    want_lr, want_hr = full_forward(params, x, cfg)
    assert_close_to_scale(out["lr"].asnumpy(), want_lr, REL, f"{cfg.base.name.value} M^LR")
    if cfg.head.enabled:
        assert_close_to_scale(out["hr"].asnumpy(), want_hr, REL, f"{cfg.base.name.value} M^HR")
    else:
        assert "hr" not in out
    return out


def test_simple_baseline_graph_mode(graph_mode: None) -> None:
    cfg = ModelConfig(base=BaseModelConfig(depth=18), head=HEAD, input_size=(32, 32))
    out = _check(cfg, (32, 32))
    assert ms.get_context("mode") == ms.GRAPH_MODE
    assert set(out) == {"lr", "hr", "features"}


def test_cpn_outputs() -> None:
    """CPN has no numpy reference: shapes, the intermediate GlobalNet maps and finite values."""
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), head=HEAD, input_size=(64, 64))
    model = build_model(cfg)
    model.set_train(False)
    out = model(ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)))
    assert out["features"].shape == (1, 256, 16, 16)
    assert out["lr"].shape == (1, 17, 16, 16) and out["hr"].shape == (1, 17, 32, 32)
    assert [t.shape for t in out["intermediate"]] == [(1, 17, 16, 16)] * 4
    assert all(np.isfinite(t.asnumpy()).all() for t in [out["lr"], out["hr"], *out["intermediate"]])
