"""state_dict names and shapes == enhancenet_core.namemap.parameter_specs for every architecture (built, not run):
the shared suite (:mod:`enhancenet_runtime.suites.names`) with PyTorch's binding (conftest.py), and torch's own
load_state_dict / named_parameters behaviour."""

from __future__ import annotations

import pytest
import torch

from enhancenet_core.config import BaseModelConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_runtime.suites.names import NamesSuite
from enhancenet_torch.models import build_model

SB = BaseModelName.SIMPLE_BASELINE


class TestNames(NamesSuite):
    """Canonical names, shapes and order of every architecture, and of CPN."""


def test_load_state_dict_round_trip_and_named_parameters() -> None:
    """Canonical names on save and load; module paths (base.*) stay for named_parameters."""
    cfg = ModelConfig(base=BaseModelConfig(name=SB, depth=18))
    a, b = build_model(cfg), build_model(cfg)
    with torch.no_grad():
        for p in a.parameters():
            p.uniform_(-1, 1)
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    assert next(iter(a.named_parameters()))[0] == "base.conv1.weight"
    assert next(iter(a.state_dict())) == "conv1.weight"
    with pytest.raises(RuntimeError, match="Missing key"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "final_layer.bias"})
