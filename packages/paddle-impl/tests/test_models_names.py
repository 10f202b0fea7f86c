"""Paddle state_dict names and shapes map 1:1 onto enhancenet_core.namemap.parameter_specs for every architecture
(built, not run), through the one table of :mod:`enhancenet_paddle.weights`.

SimpleBaseline-R50 and HRNet-W32 (and R18, hourglass-2) are checked by ``load_canonical(model, file, cfg)`` in
the forward tests, which compares every canonical name and shape with the name map before loading.
"""

from __future__ import annotations

import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler
from enhancenet_core.namemap import parameter_specs
from enhancenet_paddle.models import build_model
from enhancenet_paddle.weights import canonical_name, canonical_state_dict, paddle_name

SB, HR, HG, CPN = BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS, BaseModelName.CPN

ARCHITECTURES = [
    *(pytest.param(BaseModelConfig(name=SB, depth=d), id=f"simple_baseline-r{d}") for d in (18, 34, 101, 152)),
    *(pytest.param(BaseModelConfig(name=HR, width=w), id=f"hrnet-w{w}") for w in (48,)),
    *(pytest.param(BaseModelConfig(name=HG, stages=s), id=f"hourglass-{s}") for s in (2, 4, 8)),
    pytest.param(BaseModelConfig(name=HG, stages=2, hourglass_blocks=2, hourglass_channels=128), id="hourglass-b2"),
    pytest.param(BaseModelConfig(name=SB, depth=18, num_deconv_layers=2, deconv_channels=64, final_conv_kernel=3),
                 id="simple_baseline-r18-2deconv"),
]


@pytest.mark.parametrize("base", ARCHITECTURES)
def test_state_dict_is_canonical(base: BaseModelConfig) -> None:
    cfg = ModelConfig(base=base)
    model = build_model(cfg)
    got = canonical_state_dict(model)
    specs = parameter_specs(cfg)
    assert list(got) == list(specs)  # names and order
    wrong = {k: (tuple(v.shape), specs[k].shape) for k, v in got.items() if tuple(v.shape) != specs[k].shape}
    assert not wrong
    base_only = parameter_specs(ModelConfig(base=base, head=EnhanceNetConfig(enabled=False)))
    assert [k for k in got if not k.startswith("enhance.")] == list(base_only)
    # the table is a bijection: canonical -> Paddle gives back exactly Paddle's own keys, in order
    assert [paddle_name(k) for k in specs] == list(model.state_dict())


@pytest.mark.parametrize(
    "head",
    [EnhanceNetConfig(inputs=HeadInput.FEATURES, num_layers=4), EnhanceNetConfig(upsampler=Upsampler.DECONV,
     upsampler_kernel=12), EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=2, channels=64)],
)
def test_head_variants_are_canonical(head: EnhanceNetConfig) -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=SB, depth=18), head=head, num_keypoints=16)
    got = {k: tuple(v.shape) for k, v in canonical_state_dict(build_model(cfg)).items()}
    assert got == {k: s.shape for k, s in parameter_specs(cfg).items()}


def test_cpn_names_follow_the_torch_model() -> None:
    """CPN is not in the name map; its names are those of enhancenet_torch's CPN (the GengDavid port)."""
    cfg = ModelConfig(base=BaseModelConfig(name=CPN, depth=50))
    names = list(canonical_state_dict(build_model(cfg)))
    assert names[0] == "resnet.conv1.weight" and "resnet.fc.weight" not in names
    assert "global_net.predict.3.5.running_var" in names and "refine_net.final_predict.1.weight" in names
    assert "global_net.upsamples.0.1.bias" in names and "global_net.upsamples.0.0.weight" not in names
    assert [k for k in names if k.startswith("refine_net.cascade.3.")] == []  # C2 level: no bottleneck
    head = parameter_specs(cfg, feature_channels=256)
    assert [k for k in names if k.startswith("enhance.")] == list(head)


def test_name_table_examples() -> None:
    assert canonical_name("base.layer1.0.bn1._mean") == "layer1.0.bn1.running_mean"
    assert canonical_name("base.fc.0.1._variance") == "fc.0.1.running_var"
    assert canonical_name("enhance.upsample.weight") == "enhance.upsample.weight"
    assert canonical_name("bn1._mean", strip_base=False) == "bn1.running_mean"
    assert paddle_name("deconv_layers.1.running_var") == "base.deconv_layers.1._variance"
    assert paddle_name("enhance.convs.0.bias") == "enhance.convs.0.bias"
    assert paddle_name("conv1.weight", in_pose_model=False) == "conv1.weight"
