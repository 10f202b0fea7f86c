"""state_dict names and shapes == enhancenet_core.namemap.parameter_specs for every architecture (built, not run)."""

from __future__ import annotations

import pytest
import torch

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler
from enhancenet_core.namemap import parameter_specs
from enhancenet_torch.models import build_model, canonical_state_dict

SB, HR, HG = BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS

ARCHITECTURES = [
    *(pytest.param(BaseModelConfig(name=SB, depth=d), id=f"simple_baseline-r{d}") for d in (18, 34, 50, 101, 152)),
    *(pytest.param(BaseModelConfig(name=HR, width=w), id=f"hrnet-w{w}") for w in (32, 48)),
    *(pytest.param(BaseModelConfig(name=HG, stages=s), id=f"hourglass-{s}") for s in (2, 4, 8)),
    pytest.param(BaseModelConfig(name=HG, stages=2, hourglass_blocks=2, hourglass_channels=128), id="hourglass-b2"),
    pytest.param(BaseModelConfig(name=SB, depth=18, num_deconv_layers=2, deconv_channels=64, final_conv_kernel=3),
                 id="simple_baseline-r18-2deconv"),
]


@pytest.mark.parametrize("base", ARCHITECTURES)
def test_state_dict_is_canonical(base: BaseModelConfig) -> None:
    cfg = ModelConfig(base=base)
    got = canonical_state_dict(build_model(cfg))
    specs = parameter_specs(cfg)
    assert list(got) == list(specs)  # names and order
    wrong = {k: (tuple(v.shape), specs[k].shape) for k, v in got.items() if tuple(v.shape) != specs[k].shape}
    assert not wrong
    base_only = parameter_specs(ModelConfig(base=base, head=EnhanceNetConfig(enabled=False)))
    assert [k for k in got if not k.startswith("enhance.")] == list(base_only)


@pytest.mark.parametrize(
    "head",
    [EnhanceNetConfig(inputs=HeadInput.FEATURES, num_layers=4), EnhanceNetConfig(upsampler=Upsampler.DECONV,
     upsampler_kernel=12), EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=2, channels=64)],
)
def test_head_variants_are_canonical(head: EnhanceNetConfig) -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=SB, depth=18), head=head, num_keypoints=16)
    got = {k: tuple(v.shape) for k, v in canonical_state_dict(build_model(cfg)).items()}
    assert got == {k: s.shape for k, s in parameter_specs(cfg).items()}


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
