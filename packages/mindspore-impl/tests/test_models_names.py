"""MindSpore parameter names map 1:1 onto enhancenet_core.namemap for every architecture (names, shapes, order):
the shared suite (:mod:`enhancenet_runtime.suites.names`, with the native names checked per architecture by the
binding in conftest.py), and examples of MindSpore's own names."""

from __future__ import annotations

from enhancenet_core.config import BaseModelConfig, ModelConfig
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import mindspore_names
from enhancenet_runtime.suites.names import NamesSuite


class TestNames(NamesSuite):
    """Canonical names, shapes and order of every architecture, and of CPN."""


def test_mindspore_specific_names() -> None:
    model = build_model(ModelConfig(base=BaseModelConfig(depth=18)))
    names = mindspore_names(model)
    assert names["bn1.weight"] == "base.bn1.gamma"
    assert names["bn1.running_var"] == "base.bn1.moving_variance"
    assert names["deconv_layers.0.weight"] == "base.deconv_layers.0.weight"
    assert names["enhance.upsample.bias"] == "enhance.upsample.bias"
