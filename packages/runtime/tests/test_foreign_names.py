"""Foreign checkpoint names -> canonical: every key of mmpose 1.x / 0.x, HRNet-repository and bearpaw state dicts
(generated from those code bases' model definitions by enhancenet_runtime.testing_foreign) maps, the shapes agree with
the name map of the matching config, the map round-trips, and unbridgeable variants are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.foreign_names import (
    ForeignCheckpointError,
    base_shapes,
    detect_layout,
    from_canonical,
    map_to_canonical,
    to_canonical,
)
from enhancenet_core.safetensors_io import read_safetensors, save_safetensors
from enhancenet_runtime import testing_foreign as tf

NO_HEAD = EnhanceNetConfig(enabled=False)


def cfg(name: BaseModelName, k: int = 17, **base) -> ModelConfig:
    return ModelConfig(base=BaseModelConfig(name=name, **base), head=NO_HEAD, num_keypoints=k)


SB50 = cfg(BaseModelName.SIMPLE_BASELINE, depth=50)
HR32 = cfg(BaseModelName.HRNET, width=32)

CASES = [  # (foreign shapes, config, layout)
    (tf.mmpose_simple_baseline(50), SB50, "mmpose"),
    (tf.mmpose_simple_baseline(18, k=14), cfg(BaseModelName.SIMPLE_BASELINE, 14, depth=18), "mmpose"),
    (tf.mmpose_simple_baseline(101), cfg(BaseModelName.SIMPLE_BASELINE, depth=101), "mmpose"),
    (tf.mmpose_hrnet(32), HR32, "mmpose"),
    (tf.mmpose_hrnet(48), cfg(BaseModelName.HRNET, width=48), "mmpose"),
    (tf.hrnet_repo_pose_resnet(50), SB50, "canonical"),
    (tf.hrnet_repo_pose_resnet(152, final_kernel=3), cfg(BaseModelName.SIMPLE_BASELINE, depth=152,
                                                         final_conv_kernel=3), "canonical"),
    (tf.hrnet_repo_pose_hrnet(32), HR32, "canonical"),
    (tf.hrnet_repo_pose_hrnet(48, k=16), cfg(BaseModelName.HRNET, 16, width=48), "canonical"),
    (tf.bearpaw_hourglass(2, 4), cfg(BaseModelName.HOURGLASS, 16, stages=2, hourglass_blocks=4), "canonical"),
    (tf.bearpaw_hourglass(8, 1, prefix=""), cfg(BaseModelName.HOURGLASS, 16, stages=8, hourglass_blocks=1),
     "canonical"),
]
IDS = ["mmpose-r50", "mmpose-r18-k14", "mmpose-r101", "mmpose-w32", "mmpose-w48", "hrnet-repo-r50",
       "hrnet-repo-r152-k3", "hrnet-repo-w32", "hrnet-repo-w48-k16", "bearpaw-hg2", "bearpaw-hg8-plain"]


@pytest.mark.parametrize(("shapes", "model_cfg", "layout"), CASES, ids=IDS)
def test_every_key_maps_and_shapes_agree_with_the_name_map(shapes, model_cfg, layout):
    assert detect_layout(shapes) == layout
    mapping = map_to_canonical(shapes)
    assert mapping.unmapped == {}
    assert all(n.endswith("num_batches_tracked") for n in mapping.dropped) and mapping.dropped
    want = base_shapes(model_cfg)
    assert {k: tuple(v) for k, v in mapping.tensors.items()} == want  # names and shapes, nothing extra
    assert len(mapping.tensors) + len(mapping.dropped) == len(shapes)
    # the checked path returns the model's tensors in model order
    arrays = tf.arrays(shapes, seed=None)
    out = to_canonical(arrays, model_cfg, "f")
    assert list(out) == list(want)
    for ours, foreign in mapping.foreign.items():
        assert out[ours] is arrays[foreign]


@pytest.mark.parametrize(("shapes", "model_cfg", "layout"), CASES, ids=IDS)
def test_round_trip(shapes, model_cfg, layout):
    mapping = map_to_canonical(shapes)
    back = from_canonical(mapping.tensors, layout, mapping.wrapper)
    assert back == {k: v for k, v in shapes.items() if not k.endswith("num_batches_tracked")}
    assert map_to_canonical(back).tensors == mapping.tensors


def test_mmpose_names_are_the_hrnet_repository_names_behind_prefixes():
    mm, repo = tf.mmpose_simple_baseline(50), tf.hrnet_repo_pose_resnet(50)
    assert map_to_canonical(mm).tensors == map_to_canonical(repo).tensors
    assert "backbone.layer4.2.bn3.running_var" in mm and "head.deconv_layers.7.weight" in mm
    assert mm["head.final_layer.weight"] == (17, 256, 1, 1)


def test_mmpose0_layout():
    shapes = {k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k: v
              for k, v in tf.mmpose_simple_baseline(50).items()}
    assert detect_layout(shapes) == "mmpose0"
    assert to_canonical(tf.arrays(shapes, seed=None), SB50, "f").keys() == base_shapes(SB50).keys()


def test_safetensors_file_of_a_foreign_state_dict_maps(tmp_path):
    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=2)
    path = tmp_path / "mmpose_res18.safetensors"
    save_safetensors(path, arrays)
    read, _ = read_safetensors(path)
    out = to_canonical(read, cfg(BaseModelName.SIMPLE_BASELINE, 5, depth=18), str(path))
    assert np.array_equal(out["final_layer.weight"], arrays["head.final_layer.weight"])
    assert np.array_equal(out["layer4.1.bn2.running_var"], arrays["backbone.layer4.1.bn2.running_var"])


def _refusal(shapes, model_cfg) -> str:
    with pytest.raises(ForeignCheckpointError) as info:
        to_canonical(tf.arrays(shapes, seed=None), model_cfg, "ckpt.pth")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("ckpt.pth: refused: ")
    return msg


def test_resnet_v1d_stem_is_refused_naming_the_first_tensor():
    msg = _refusal(tf.mmpose_simple_baseline(50, v1d=True), SB50)
    assert "first mismatching tensor backbone.stem.0.conv.weight (32, 3, 3, 3) has no counterpart" in msg
    assert "deep stem" in msg and "mmpose 1.x" in msg


def test_extra_head_conv_layers_are_refused():
    msg = _refusal(tf.mmpose_simple_baseline(50, conv_layers=1), SB50)
    assert "first mismatching tensor head.conv_layers.0.weight (256, 256, 3, 3)" in msg


def test_other_depth_or_keypoints_is_refused_with_shapes():
    msg = _refusal(tf.mmpose_simple_baseline(50, k=14), SB50)
    assert "head.final_layer.weight: expected shape (17, 256, 1, 1) (our final_layer.weight), found (14, 256, 1, 1)" in msg
    msg = _refusal(tf.mmpose_simple_baseline(18), SB50)
    assert "first mismatching tensor backbone.layer1.0.conv1.weight: expected shape (64, 64, 1, 1)" in msg


def test_missing_tensor_is_named_as_the_file_would_name_it():
    shapes = {k: v for k, v in tf.mmpose_hrnet(32).items() if not k.startswith("head.")}
    msg = _refusal(shapes, HR32)
    assert "first mismatching tensor head.final_layer.weight missing" in msg and "2 tensor(s)" in msg


def test_other_hourglass_block_is_refused():
    model_cfg = cfg(BaseModelName.HOURGLASS, 16, stages=2, hourglass_blocks=4)
    msg = _refusal(tf.bearpaw_hourglass(2, 4, expansion=4), model_cfg)
    assert "first mismatching tensor module.layer1.0.conv3.weight: expected shape (128, 64, 1, 1)" in msg


def test_mmpose_file_for_an_hourglass_config_says_what_the_layout_holds():
    msg = _refusal(tf.mmpose_hrnet(32), cfg(BaseModelName.HOURGLASS, 16, stages=2))
    assert "holds simple_baseline, hrnet models" in msg


def test_two_names_onto_one_canonical_name_are_refused():
    shapes = {"backbone.conv1.weight": (64, 3, 7, 7), "head.final_layer.weight": (1, 1, 1, 1),
              "backbone.final_layer.weight": (1, 1, 1, 1)}
    with pytest.raises(ForeignCheckpointError, match=r"both map to final_layer\.weight"):
        map_to_canonical(shapes)


def test_pretrained_backbone_from_an_mmpose_file_takes_the_backbone_only():
    from enhancenet_core.canonical import backbone_prefixes
    from enhancenet_core.foreign_names import pretrained_tensors

    want = {k: v for k, v in base_shapes(SB50).items() if k.startswith(backbone_prefixes(SB50))}
    arrays = tf.arrays(tf.mmpose_simple_baseline(50), seed=None)
    out = pretrained_tensors(arrays, want, SB50, "f")
    assert list(out) == list(want) and out["layer4.2.conv3.weight"] is arrays["backbone.layer4.2.conv3.weight"]
    with pytest.raises(ForeignCheckpointError, match=r"backbone\.stem\.0\.conv\.weight"):
        pretrained_tensors(tf.arrays(tf.mmpose_simple_baseline(50, v1d=True), seed=None), want, SB50, "f")
    imagenet = dict(tf.arrays(tf.resnet_backbone(50), seed=None))
    imagenet["fc.weight"] = np.zeros((1000, 2048), np.float32)  # a classifier: ignored, as before
    assert list(pretrained_tensors(imagenet, want, SB50, "f")) == list(want)
