"""The AE hourglass (pose-ae-train's PoseNet) in the spec: canonical names against pose-ae-train's state-dict keys
(generated independently by enhancenet_runtime.testing_foreign), its checkpoint layout, the channel split, the config
rules, the shipped configs and the params / FLOPs count (against the name map and a per-tensor count)."""

from __future__ import annotations

import math

import pytest

from enhancenet_core.architecture import (
    AE_PAPER_SETTING,
    ae_level_channels,
    ae_output_split,
    feature_channels,
    required_input_multiple,
)
from enhancenet_core.complexity import ae_hourglass_complexity, head_complexity
from enhancenet_core.config import (
    BaseModelConfig,
    ConfigError,
    EnhanceNetConfig,
    ModelConfig,
    config_from_dict,
    load_config,
    shipped_config_path,
)
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.foreign_names import (
    ForeignCheckpointError,
    detect_layout,
    from_canonical,
    map_to_canonical,
    to_canonical,
)
from enhancenet_core.namemap import TensorKind, base_parameter_specs, parameter_count, parameter_specs
from enhancenet_runtime import testing_foreign as tf

AE = BaseModelName.AE_HOURGLASS
PAPER = ModelConfig(base=BaseModelConfig(name=AE), input_size=(512, 512), head=EnhanceNetConfig(enabled=False))
TINY = ModelConfig(base=BaseModelConfig(name=AE, stages=2, hourglass_channels=32, ae_output_channels=12),
                   num_keypoints=3, input_size=(64, 64), head=EnhanceNetConfig(channels=16))


def test_paper_setting_is_the_config_default_and_the_shipped_config() -> None:
    base = BaseModelConfig(name=AE)
    assert {k: getattr(base, k) for k in AE_PAPER_SETTING} == AE_PAPER_SETTING
    shipped = load_config(shipped_config_path("coco_ae_hourglass4_512x512_base")).model
    assert {k: getattr(shipped.base, k) for k in AE_PAPER_SETTING} == AE_PAPER_SETTING
    assert shipped.base.name is AE and shipped.input_size == (512, 512) and shipped.heatmap_size == (128, 128)
    assert not shipped.head.enabled and shipped.num_keypoints == 17
    enh = load_config(shipped_config_path("coco_ae_hourglass4_512x512_enhancenet")).model
    assert enh.head.enabled and enh.base == shipped.base and enh.hr_heatmap_size == (512, 512)


def test_architecture_facts() -> None:
    assert ae_level_channels(256, 128) == (256, 384, 512, 640, 768)
    assert ae_output_split(17, 68) == (slice(0, 17), slice(17, 34))
    with pytest.raises(ValueError, match="ae_output_channels"):
        ae_output_split(17, 33)
    assert feature_channels(BaseModelConfig(name=AE, hourglass_channels=48)) == 48
    assert required_input_multiple(AE) == 64


@pytest.mark.parametrize(("nstack", "inp_dim", "oup_dim", "k"), [(4, 256, 68, 17), (2, 32, 12, 3), (1, 16, 6, 3)])
def test_canonical_names_are_pose_ae_train_keys(nstack: int, inp_dim: int, oup_dim: int, k: int) -> None:
    base = BaseModelConfig(name=AE, stages=nstack, hourglass_channels=inp_dim, ae_output_channels=oup_dim)
    specs = base_parameter_specs(base, k)
    foreign = tf.pose_ae_train_posenet(nstack, inp_dim, oup_dim, prefix="")
    assert list(specs) == list(foreign)  # names and registration order
    assert {n: s.shape for n, s in specs.items()} == foreign
    assert all(s.kind in (TensorKind.CONV_WEIGHT, TensorKind.CONV_BIAS) for s in specs.values())  # no BN


def test_pose_ae_train_checkpoint_maps_and_round_trips() -> None:
    shapes = tf.pose_ae_train_posenet()
    assert detect_layout(shapes) == "pose_ae_train"
    mapping = map_to_canonical(shapes)
    assert mapping.unmapped == {} and mapping.wrapper == "" and mapping.dropped == ()
    arrays = tf.arrays(shapes, seed=None)
    out = to_canonical(arrays, PAPER, "pretrained.pth")
    assert list(out) == list(base_parameter_specs(PAPER.base, 17))
    assert out["outs.3.conv.weight"] is arrays["model.module.outs.3.conv.weight"]
    assert from_canonical(mapping.tensors, "pose_ae_train") == shapes
    # a bare PoseNet / DataParallel(PoseNet) state dict is canonical
    bare = tf.pose_ae_train_posenet(prefix="module.")
    assert detect_layout(bare) == "canonical"
    assert list(to_canonical(tf.arrays(bare, seed=None), PAPER, "f")) == list(out)


def test_other_output_width_is_refused_in_one_line() -> None:
    shapes = tf.pose_ae_train_posenet(oup_dim=34)  # a 2K-output PoseNet for a 4K config
    with pytest.raises(ForeignCheckpointError) as err:
        to_canonical(tf.arrays(shapes, seed=None), PAPER, "ae.pth")
    text = str(err.value)
    assert "\n" not in text and "pose-ae-train" in text and "model.module.outs.0.conv.weight" in text
    assert "ae_hourglass 4 stacks, 256 channels, K=17" in text


def test_config_rules() -> None:
    with pytest.raises(ConfigError, match=r"model\.base\.ae_output_channels.*at least 2 \* model\.num_keypoints = 34"):
        config_from_dict({"model": {"base": {"name": "ae_hourglass", "ae_output_channels": 33}}})
    with pytest.raises(ConfigError, match=r"model\.base\.hourglass_increase"):
        config_from_dict({"model": {"base": {"name": "ae_hourglass", "hourglass_increase": -1}}})
    with pytest.raises(ConfigError, match=r"model\.input_size\[0\].*multiple of 64"):
        config_from_dict({"model": {"base": {"name": "ae_hourglass"}, "input_size": [480, 512]}})
    # the rule is the AE network's: other base models ignore the field
    config_from_dict({"model": {"base": {"name": "hourglass", "ae_output_channels": 2}, "input_size": [256, 256]}})


def _flops_from_specs(cfg: ModelConfig) -> tuple[int, int]:
    """(weights, multiply-adds) from the name map: each conv weight times its output pixels, the resolution read
    from the name (``pre.0`` at 1/2, one ``low2`` per pooling, ``low1`` / ``low3`` one level below)."""
    w, h = cfg.input_size
    lr = (w // 4) * (h // 4)
    params = flops = 0
    for name, spec in base_parameter_specs(cfg.base, cfg.num_keypoints).items():
        if spec.kind is not TensorKind.CONV_WEIGHT:
            continue
        n = spec.shape[0] * spec.shape[1] * spec.shape[2] * spec.shape[3]
        if name.startswith(("pre.0.", "pre.1.")):
            pixels = lr * 4
        else:
            level = name.count("low2") + (1 if ".low1." in name or ".low3." in name else 0)
            pixels = lr // 4**level
        params += n
        flops += n * pixels
    return params, flops


@pytest.mark.parametrize("cfg", [PAPER, TINY], ids=["paper", "tiny"])
def test_complexity_with_and_without_head(cfg: ModelConfig) -> None:
    c = ae_hourglass_complexity(cfg)
    specs = base_parameter_specs(cfg.base, cfg.num_keypoints)
    assert c.base_params + c.base_bias == parameter_count(specs)
    assert (c.base_params, c.base_flops) == _flops_from_specs(cfg)
    head = head_complexity(cfg, cfg.base.hourglass_channels)
    assert (c.params, c.flops) == (c.base_params + head.params, c.base_flops + head.flops)
    full = parameter_specs(cfg)
    assert parameter_count(full) == c.base_params + c.base_bias + head.params_with_bias


def test_paper_model_size() -> None:
    """The 4-stack network at 512x512: 138.9 M parameters (weights + biases) and 222 G multiply-adds; the paper's
    EnhanceNet head (on F^LR with 256 channels + 17 detection maps, 128x128) adds 0.50 M and 8.1 G."""
    c = ae_hourglass_complexity(PAPER)
    assert c.base_params + c.base_bias == sum(math.prod(s) for s in tf.pose_ae_train_posenet().values())
    assert round((c.base_params + c.base_bias) / 1e6, 1) == 138.9 and round(c.base_flops / 1e9) == 222
    enh = ae_hourglass_complexity(load_config(shipped_config_path("coco_ae_hourglass4_512x512_enhancenet")).model)
    assert enh.head.input_channels == 256 + 17 and enh.head.hr_size == (512, 512)
    # by hand: 1x1 (256 + 17) -> 128, 3x3 128 -> 128, 3x3 128 -> 17 * 4^2, weights only
    assert enh.head.params == 273 * 128 + 128 * 128 * 9 + 128 * 272 * 9
    assert enh.flops - enh.base_flops == enh.head.flops == enh.head.params * 128 * 128


def test_complexity_refuses_other_models() -> None:
    with pytest.raises(ValueError, match="ae_hourglass"):
        ae_hourglass_complexity(ModelConfig())
