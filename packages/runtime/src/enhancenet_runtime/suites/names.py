"""Every framework's models carry exactly the canonical tensor names and shapes of
:func:`enhancenet_core.namemap.parameter_specs`, in the canonical order, for every architecture (built, not run),
and CPN (not in the name map) carries those of the PyTorch port it follows.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler
from enhancenet_core.namemap import RESNET_SPEC, base_parameter_specs, parameter_specs


class Binding(Protocol):
    """What :class:`NamesSuite` needs from a framework."""

    def build_model(self, model_cfg: ModelConfig) -> Any:
        """The framework's ``models.build_model``."""

    def canonical_shapes(self, model: Any) -> dict[str, tuple[int, ...]]:
        """Canonical name -> shape of each tensor of ``model``, in the model's canonical order."""

    def assert_native_names(self, model: Any, canonical_names: list[str]) -> None:
        """Check the framework's own names of ``model`` against its canonical names (its name table)."""


SB, HR, HG, CPN = BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS, BaseModelName.CPN

MODELS = [
    *(pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=d)), id=f"simple_baseline-r{d}")
      for d in (18, 34, 50, 101, 152)),
    *(pytest.param(ModelConfig(base=BaseModelConfig(name=HR, width=w)), id=f"hrnet-w{w}") for w in (32, 48)),
    *(pytest.param(ModelConfig(base=BaseModelConfig(name=HG, stages=s)), id=f"hourglass-{s}") for s in (2, 4, 8)),
    pytest.param(ModelConfig(base=BaseModelConfig(name=HG, stages=2, hourglass_blocks=2, hourglass_channels=128)),
                 id="hourglass-b2"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=BaseModelName.DLCM), num_keypoints=16), id="dlcm"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=BaseModelName.DLCM, hourglass_channels=64, hourglass_blocks=2),
                             num_keypoints=16, head=EnhanceNetConfig(enabled=False)), id="dlcm-c64-b2-no-head"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=18, num_deconv_layers=2, deconv_channels=64,
                                                  final_conv_kernel=3)), id="simple_baseline-r18-2deconv"),
    # head variants
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=18), num_keypoints=16,
                             head=EnhanceNetConfig(inputs=HeadInput.FEATURES, num_layers=4)), id="head-features-L4"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=18), num_keypoints=16,
                             head=EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12)), id="head-deconv12"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=18), num_keypoints=16,
                             head=EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=2, channels=64)),
                 id="head-bilinear-r2"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=34, deconv_kernel=3),
                             head=EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV)), id="r34-k3-head-bilinear"),
    pytest.param(ModelConfig(base=BaseModelConfig(name=SB, depth=18), head=EnhanceNetConfig(enabled=False)),
                 id="no-head"),
]


class NamesSuite:
    """The name-map tests, run by each framework with its ``binding`` fixture."""

    @pytest.mark.parametrize("cfg", MODELS)
    def test_model_is_canonical(self, binding: Binding, cfg: ModelConfig) -> None:
        model = binding.build_model(cfg)
        got = binding.canonical_shapes(model)
        specs = parameter_specs(cfg)
        assert list(got) == list(specs)  # names and order
        wrong = {k: (v, specs[k].shape) for k, v in got.items() if v != specs[k].shape}
        assert not wrong
        base_only = parameter_specs(ModelConfig(base=cfg.base, num_keypoints=cfg.num_keypoints,
                                                head=EnhanceNetConfig(enabled=False)))
        assert [k for k in got if not k.startswith("enhance.")] == list(base_only)
        binding.assert_native_names(model, list(specs))

    def test_cpn_names_follow_the_torch_model(self, binding: Binding) -> None:
        """CPN is not in the name map: the trunk carries ResNet's canonical names under ``resnet.``, the head the
        map's, the rest those of enhancenet_torch's CPN (the GengDavid port)."""
        cfg = ModelConfig(base=BaseModelConfig(name=CPN, depth=50))
        names = binding.canonical_shapes(binding.build_model(cfg))
        keys = list(names)
        assert keys[0] == "resnet.conv1.weight" and "resnet.fc.weight" not in names
        resnet = {f"resnet.{k}": s.shape for k, s in base_parameter_specs(BaseModelConfig(depth=50), 17).items()
                  if k.startswith(("conv1.", "bn1.", "layer"))}
        assert {k: v for k, v in names.items() if k.startswith("resnet.")} == resnet
        head = parameter_specs(cfg, feature_channels=256)
        assert [k for k in keys if k.startswith("enhance.")] == list(head)
        assert {k: v for k, v in names.items() if k.startswith("enhance.")} == {k: s.shape for k, s in head.items()}
        assert names["global_net.laterals.0.0.weight"] == (256, 2048, 1, 1)
        assert names["global_net.upsamples.2.1.bias"] == (256,)
        assert "global_net.upsamples.0.1.bias" in names and "global_net.upsamples.0.0.weight" not in names
        assert names["global_net.predict.3.5.running_var"] == (17,)
        assert names["refine_net.cascade.0.2.downsample.1.weight"] == (256,)
        assert [k for k in keys if k.startswith("refine_net.cascade.3.")] == []  # C2 level: no bottleneck
        assert names["refine_net.final_predict.1.weight"] == (17, 256, 3, 3)
        assert len(RESNET_SPEC) == 5
