"""Base models (and base + head) against enhancenet-numpy with the same canonical weights, at reduced input sizes:
the shared suite (:mod:`enhancenet_runtime.suites.models`: float64 <= 1e-9 x scale, float32 <= 1e-5 x scale;
bad inputs and configurations) with PyTorch's binding (conftest.py), and CPN, which has no NumPy reference.
"""

from __future__ import annotations

import torch

from enhancenet_core.config import BaseModelConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_runtime.suites.models import ModelsSuite
from enhancenet_torch.models import build_model


class TestModels(ModelsSuite):
    """Every base model (+ head) against numpy-ref; bad inputs and configurations."""


def test_cpn_outputs() -> None:
    """CPN has no numpy-ref; check the contract: shapes, intermediates, F^LR -> M^LR through the final conv."""
    torch.manual_seed(0)
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=5)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 48))
    assert out["lr"].shape == (2, 5, 16, 12) and out["features"].shape == (2, 256, 16, 12)
    assert out["hr"].shape == (2, 5, 64, 48)
    assert [t.shape for t in out["intermediate"]] == [(2, 5, 16, 12)] * 4
    refine = model.base.refine_net.final_predict
    with torch.no_grad():
        assert torch.allclose(refine[2](refine[1](out["features"])), out["lr"])
    names = list(model.state_dict())
    assert names[0] == "resnet.conv1.weight" and "resnet.fc.weight" not in names
    assert "global_net.predict.3.5.running_var" in names and "refine_net.final_predict.1.weight" in names
    assert [k for k in names if k.startswith("refine_net.cascade.3.")] == []  # C2 level: no bottleneck
