"""Data-set files: the shipped ones are the table's rows (package data, parsed by the same reader as a user's
file), the CrowdPose and OCHuman rows against independent facts, a user's YAML or JSON file named by
``data.dataset``, parsed once, and the config's per-split files."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

from enhancenet_core.config import config_from_dict, config_json_schema, config_to_dict
from enhancenet_core.datasets import (
    DATASETS,
    DatasetName,
    Metric,
    RecordLoader,
    dataset_info,
    load_dataset_file,
    shipped_dataset_file,
)


@pytest.mark.parametrize("name", [n for n in DatasetName if n is not DatasetName.SYNTHETIC])
def test_a_shipped_file_read_as_a_users_file_is_its_row(name: DatasetName, tmp_path: Path) -> None:
    src = shipped_dataset_file(name)
    assert src.is_file() and src.parent.name == "dataset_files"
    copy = tmp_path / f"{name.value}.yaml"
    shutil.copyfile(src, copy)
    assert load_dataset_file(copy) == DATASETS[name]
    assert dataset_info(str(copy)) == DATASETS[name]


def test_synthetic_is_cocos_row_with_k_free() -> None:
    coco, synth = dataset_info("coco"), dataset_info("synthetic")
    assert dataclasses.replace(synth, name="coco", checks_num_keypoints=True) == coco
    assert not synth.checks_num_keypoints


def test_crowdpose_row() -> None:
    cp = dataset_info("crowdpose")
    # CrowdPose's 14 joints in its annotation order (the crowdpose-api README / mmpose's crowdpose dataset info)
    assert cp.keypoint_names == (
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "top_head", "neck",
    )  # fmt: skip
    assert cp.flip_pairs == ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11))
    assert (cp.metric, cp.loader, cp.num_keypoints) == (Metric.CROWDPOSE_AP, RecordLoader.COCO, 14)
    assert set(cp.upper_body_ids) == {0, 1, 2, 3, 4, 5, 12, 13} and set(cp.lower_body_ids) == set(range(6, 12))
    # its sigmas are COCO's of the same body parts; head top and neck take the shoulders' 0.079
    coco = dataset_info("coco")
    for i, n in enumerate(cp.keypoint_names[:12]):
        assert cp.oks_sigmas[i] == coco.oks_sigmas[coco.keypoint_names.index(n)]
    assert cp.oks_sigmas[12:] == (0.079, 0.079)


def test_ochuman_is_cocos_keypoints_and_ap() -> None:
    oc, coco = dataset_info("ochuman"), dataset_info("coco")
    assert dataclasses.replace(oc, name="coco") == coco


def test_joint_weights() -> None:
    coco = dataset_info("coco")
    # HRNet's joints_weight: elbows and knees 1.2, wrists and ankles 1.5, else 1
    heavy = {n: w for n, w in zip(coco.keypoint_names, coco.joint_weights, strict=True) if w != 1.0}
    assert heavy == {f"{s}_{p}": w for s in ("left", "right") for p, w in
                     (("elbow", 1.2), ("knee", 1.2), ("wrist", 1.5), ("ankle", 1.5))}  # fmt: skip
    assert all(len(r.joint_weights) == r.num_keypoints for r in DATASETS.values())


def test_a_json_file_with_indices_and_defaults(tmp_path: Path) -> None:
    f = tmp_path / "tri.json"
    f.write_text(json.dumps({"keypoint_names": ["a", "l", "r"], "flip_pairs": [[1, "r"]], "oks_sigmas": [0.1] * 3}))
    info = load_dataset_file(f)
    assert info.name == "tri" and info.flip_pairs == ((1, 2),) and info.flip_index == (0, 2, 1)
    assert (info.metric, info.loader, info.skeleton, info.joint_weights) == (Metric.COCO_AP, RecordLoader.COCO, (), None)
    cfg = config_from_dict({"data": {"dataset": str(f)}, "model": {"num_keypoints": 3}, "loss": {"ohkm_topk": 2}})
    assert cfg.data.dataset == str(f) and cfg.data.flip_pairs == ((1, 2),)
    assert config_to_dict(cfg)["data"]["dataset"] == str(f)
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_parsed_once_per_file_version(tmp_path: Path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text("keypoint_names: [a, b]\noks_sigmas: [0.1, 0.1]\n")
    first = load_dataset_file(f)
    assert load_dataset_file(f) is first  # cached: parsed once
    f.write_text("keypoint_names: [a, b, c]\noks_sigmas: [0.1, 0.1, 0.1]\n")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert load_dataset_file(f).num_keypoints == 3  # a changed file is read again


def test_split_files_and_the_schema(tmp_path: Path) -> None:
    data = {"dataset": "crowdpose", "test": {"annotations": "a/test.json", "images": "imgs"}}
    cfg = config_from_dict({"data": data, "model": {"num_keypoints": 14}})
    assert cfg.data.dataset is DatasetName.CROWDPOSE
    assert (cfg.data.test.annotations, cfg.data.test.images) == ("a/test.json", "imgs")
    assert (cfg.data.train.annotations, cfg.data.train.images) == ("", "")  # HRNet's layout under data.root
    validator = jsonschema.Draft202012Validator(config_json_schema())
    validator.validate({"data": {**data, "dataset": "path/to/my_set.yaml"}})
    validator.validate({"data": {"dataset": "ochuman"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"data": {"dataset": "my_set"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"data": {"test": {"annotation": "x.json"}}})


def test_the_readme_example_file_loads(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    after = text[text.index("**The data-set file format.**"):]
    block = after[after.index("```yaml\n") + len("```yaml\n"):]
    f = tmp_path / "readme_example.yaml"
    f.write_text(block[: block.index("```")])
    info = load_dataset_file(f)
    assert (info.name, info.num_keypoints, len(info.flip_pairs), info.flip_index[12]) == ("my14", 14, 6, 13)
    assert info.oks_sigmas is not None and info.joint_weights is not None
