"""DLCM as a configurable base model: shipped configs, the config's DLCM rules, the name map and the complexity."""

from __future__ import annotations

import dataclasses

import pytest

from enhancenet_core.architecture import feature_channels, required_input_multiple
from enhancenet_core.complexity import dlcm_complexity, head_complexity
from enhancenet_core.compositional import MPII_HIERARCHY, DlcmConfig, dlcm_config, dlcm_parameter_specs
from enhancenet_core.config import ConfigError, load_config, shipped_config_path, validate_config
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.datasets import DatasetName, dataset_info
from enhancenet_core.namemap import TensorKind, base_parameter_specs, parameter_count, parameter_specs


def _cfg(name: str = "mpii_dlcm_256x256_enhancenet", *overrides: str):
    return load_config(shipped_config_path(name), list(overrides))


def test_shipped_configs_select_dlcm_on_mpii():
    base, enh = _cfg("mpii_dlcm_256x256_base"), _cfg()
    for cfg in (base, enh):
        assert cfg.model.base.name is BaseModelName.DLCM and cfg.data.dataset == DatasetName.MPII
        assert cfg.model.num_keypoints == 16 and cfg.model.input_size == (256, 256)
        assert dlcm_config(cfg.model.base) == DlcmConfig()  # C 256, 1 block, depth 4, MPII hierarchy
        assert feature_channels(cfg.model.base) == 256
    assert not base.model.head.enabled and enh.model.head.enabled and enh.model.head.upscale == 4
    # everything but the head is the base config's (the hourglass MPII configs' pattern)
    assert dataclasses.replace(enh, model=dataclasses.replace(enh.model, head=base.model.head),
                               loss=base.loss, test=base.test) == base
    assert required_input_multiple(base.model.base) == 64


def test_hierarchy_joints_are_the_mpii_row():
    """The config rules compare with the MPII row (config cannot import the hierarchy): they must agree."""
    mpii = dataset_info(DatasetName.MPII)
    assert MPII_HIERARCHY.levels[0].names == tuple(mpii.keypoint_names)
    assert {tuple(sorted(p)) for p in MPII_HIERARCHY.levels[0].partners} == {tuple(sorted(p)) for p in mpii.flip_pairs}
    assert max(MPII_HIERARCHY.num_parts) == MPII_HIERARCHY.num_parts[0] == 16
    assert all(p % 2 == 0 for p in MPII_HIERARCHY.num_parts)  # the rule's width check relies on it


@pytest.mark.parametrize(("override", "field"), [
    ("data.dataset=coco", "data.dataset"),
    ("model.num_keypoints=17", "model.num_keypoints"),
    ("data.flip_pairs=[[0, 5], [1, 4]]", "data.flip_pairs"),
    ("loss.ohkm=true", "loss.ohkm"),
    ("model.base.hourglass_channels=16", "model.base.hourglass_channels"),
    ("model.base.hourglass_channels=33", "model.base.hourglass_channels"),
    ("model.input_size=[96, 96]", "model.input_size[0]"),
])
def test_rules_refuse_what_dlcm_cannot_do(override, field):
    with pytest.raises(ConfigError) as err:
        _cfg("mpii_dlcm_256x256_base", override)
    assert field in str(err.value)


def test_smallest_width_passes():
    cfg = _cfg("mpii_dlcm_256x256_base", "model.base.hourglass_channels=18", "model.input_size=[64, 64]")
    validate_config(cfg)
    assert dlcm_config(cfg.model.base).channels == 18


def test_name_map_covers_dlcm_with_and_without_head():
    base, enh = _cfg("mpii_dlcm_256x256_base").model, _cfg().model
    spec = dlcm_parameter_specs(DlcmConfig())
    assert base_parameter_specs(base.base, 16) == spec == parameter_specs(base)
    full = parameter_specs(enh)
    assert list(full)[: len(spec)] == list(spec) and all(n.startswith("enhance.") for n in list(full)[len(spec):])
    assert round(parameter_count(spec) / 1e6, 2) == 15.59  # the README's count
    # module order: the stem, then each name's module list over the stacks
    tops = [n.split(".")[0] for n in spec]
    firsts = [t for i, t in enumerate(tops) if i == 0 or tops[i - 1] != t]
    assert firsts == ["conv1", "bn1", "layer1", "layer2", "layer3", "skip", "hg", "fc", "score", "fc_", "score_"]
    with pytest.raises(ValueError, match=r"model\.num_keypoints"):
        base_parameter_specs(base.base, 17)
    with pytest.raises(ValueError, match=r"model\.base\.hourglass_channels"):
        dlcm_config(dataclasses.replace(base.base, hourglass_channels=16))  # no room beside the 16 joint maps
    with pytest.raises(ValueError, match="expected 'dlcm'"):
        dlcm_config(dataclasses.replace(base.base, name=BaseModelName.HOURGLASS))


def test_complexity_with_and_without_head():
    base, enh = _cfg("mpii_dlcm_256x256_base").model, _cfg().model
    b, e = dlcm_complexity(base), dlcm_complexity(enh)
    assert b.base_params == e.base_params == parameter_count(dlcm_parameter_specs(DlcmConfig()))
    assert b.base_weights == sum(
        s.shape[0] * s.shape[1] * s.shape[2] * s.shape[3]
        for s in dlcm_parameter_specs(DlcmConfig()).values() if s.kind is TensorKind.CONV_WEIGHT
    )
    assert b.head.flops == 0 and b.params_with_head == b.base_params and b.flops_with_head == b.base_flops
    assert e.head == head_complexity(enh, 256)
    assert e.params_with_head == parameter_count(parameter_specs(enh))  # head counted with its biases
    assert e.flops_with_head == e.base_flops + e.head.flops
    # FLOPs scale with the pixels: half the side, a quarter of the multiply-adds
    half = dlcm_complexity(dataclasses.replace(base, input_size=(128, 128)))
    assert half.base_flops * 4 == b.base_flops


@pytest.mark.parametrize("name", ["mpii_dlcm_256x256_enhancenet", "coco_ae_hourglass4_512x512_enhancenet"])
def test_hr_reduction_sum_is_refused_where_the_loss_has_no_sum(name):
    """DLCM's and the AE loss weigh L^HR by eta alone: the Eq. 7 sum would be silently ignored, so it is refused."""
    assert _cfg(name).loss.hr_reduction == "mean"
    with pytest.raises(ConfigError, match=r"loss\.hr_reduction.*expected 'mean'"):
        _cfg(name, "loss.hr_reduction=sum")
