"""Paddle state_dict names and shapes map 1:1 onto enhancenet_core.namemap.parameter_specs for every architecture
(built, not run), through the one table of :mod:`enhancenet_paddle.weights`: the shared suite
(:mod:`enhancenet_runtime.suites.names`, with the table's bijection checked per architecture by the binding in
conftest.py), and examples of the table.
"""

from __future__ import annotations

from enhancenet_paddle.weights import canonical_name, paddle_name
from enhancenet_runtime.suites.names import NamesSuite


class TestNames(NamesSuite):
    """Canonical names, shapes and order of every architecture, and of CPN."""


def test_name_table_examples() -> None:
    assert canonical_name("base.layer1.0.bn1._mean") == "layer1.0.bn1.running_mean"
    assert canonical_name("base.fc.0.1._variance") == "fc.0.1.running_var"
    assert canonical_name("enhance.upsample.weight") == "enhance.upsample.weight"
    assert canonical_name("bn1._mean", strip_base=False) == "bn1.running_mean"
    assert paddle_name("deconv_layers.1.running_var") == "base.deconv_layers.1._variance"
    assert paddle_name("enhance.convs.0.bias") == "enhance.convs.0.bias"
    assert paddle_name("conv1.weight", in_pose_model=False) == "conv1.weight"
