"""MindSpore parameter names map 1:1 onto enhancenet_core.namemap for every architecture (names, shapes, order)."""

from __future__ import annotations

import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, Upsampler
from enhancenet_core.namemap import RESNET_SPEC, base_parameter_specs, parameter_specs
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import canonical_name, canonical_parameters, mindspore_names

BASES = (
    [BaseModelConfig(depth=d) for d in (18, 50, 101)]
    + [BaseModelConfig(name=BaseModelName.HRNET, width=w) for w in (32, 48)]
    + [BaseModelConfig(name=BaseModelName.HOURGLASS, stages=s) for s in (2, 8)]
)
CASES = [(b, EnhanceNetConfig()) for b in BASES] + [
    (BaseModelConfig(depth=18), EnhanceNetConfig(enabled=False)),
    (BaseModelConfig(depth=18), EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12)),
    (BaseModelConfig(depth=34, deconv_kernel=3), EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV)),
]


@pytest.mark.parametrize(("base", "head"), CASES,
                         ids=lambda v: (f"{v.name.value}-{v.depth}-{v.width}-{v.stages}"
                                        if isinstance(v, BaseModelConfig) else f"{v.enabled}-{v.upsampler.value}"))
def test_names_map_one_to_one(base: BaseModelConfig, head: EnhanceNetConfig) -> None:
    cfg = ModelConfig(base=base, head=head)
    model = build_model(cfg)
    got = [(k, tuple(p.shape)) for k, p in canonical_parameters(model).items()]
    want = [(k, s.shape) for k, s in parameter_specs(cfg).items()]
    assert got == want  # same names, shapes and order
    native = [name for name, _ in model.parameters_and_names()]
    assert len(set(native)) == len(native) == len(want)
    assert sorted(canonical_name(n) for n in native) == sorted(k for k, _ in want)
    assert all(p.name == n for n, p in model.parameters_and_names())  # .ckpt names = cell paths


def test_mindspore_specific_names() -> None:
    model = build_model(ModelConfig(base=BaseModelConfig(depth=18)))
    names = mindspore_names(model)
    assert names["bn1.weight"] == "base.bn1.gamma"
    assert names["bn1.running_var"] == "base.bn1.moving_variance"
    assert names["deconv_layers.0.weight"] == "base.deconv_layers.0.weight"
    assert names["enhance.upsample.bias"] == "enhance.upsample.bias"


def test_cpn_names() -> None:
    """CPN (not in the name map): the trunk carries ResNet's canonical names under ``resnet.``, the head the map's."""
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50))
    names = {k: tuple(p.shape) for k, p in canonical_parameters(build_model(cfg)).items()}
    resnet = {f"resnet.{k}": s.shape for k, s in base_parameter_specs(BaseModelConfig(depth=50), 17).items()
              if k.startswith(("conv1.", "bn1.", "layer"))}
    assert {k: v for k, v in names.items() if k.startswith("resnet.")} == resnet
    head = {k: s.shape for k, s in parameter_specs(cfg, feature_channels=256).items()}
    assert {k: v for k, v in names.items() if k.startswith("enhance.")} == head
    assert names["global_net.laterals.0.0.weight"] == (256, 2048, 1, 1)
    assert names["global_net.upsamples.2.1.bias"] == (256,)
    assert names["global_net.predict.3.5.running_var"] == (17,)
    assert names["refine_net.cascade.0.2.downsample.1.weight"] == (256,)
    assert "refine_net.cascade.3.0.conv1.weight" not in names  # level 3 has no bottleneck
    assert names["refine_net.final_predict.1.weight"] == (17, 256, 3, 3)
    assert len(RESNET_SPEC) == 5
