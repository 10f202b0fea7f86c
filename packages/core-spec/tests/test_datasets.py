"""The data-set table: every row's invariants, the values checked against independent sources (the COCO sample's
annotation file, pycocotools), the checks a row gets when it is built, and the config reading the table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    shipped_config_path,
)
from enhancenet_core.datasets import (
    DATASETS,
    DatasetInfo,
    DatasetName,
    Metric,
    RecordLoader,
    dataset_info,
    info_for_num_keypoints,
)

ROWS = list(DATASETS.values())


def _side(name: str) -> tuple[str, str]:
    """("l" | "r" | "", body part) of a keypoint name (COCO: left_eye, MPII: l_ankle)."""
    for prefix, side in (("left_", "l"), ("right_", "r"), ("l_", "l"), ("r_", "r")):
        if name.startswith(prefix):
            return side, name[len(prefix):]
    return "", name


def test_every_name_has_one_row() -> None:
    assert set(DATASETS) == set(DatasetName)
    assert all(DATASETS[n].name == n.value for n in DatasetName)


@pytest.mark.parametrize("info", ROWS, ids=[r.name for r in ROWS])
def test_row_invariants(info: DatasetInfo) -> None:
    k = info.num_keypoints
    assert len(set(info.keypoint_names)) == k  # names unique
    perm = np.array(info.flip_index)
    assert sorted(perm.tolist()) == list(range(k))  # a permutation of the K keypoints ...
    np.testing.assert_array_equal(perm[perm], np.arange(k))  # ... that is its own inverse (an involution)
    paired = [i for p in info.flip_pairs for i in p]
    assert len(paired) == len(set(paired)) and all(0 <= i < k for i in paired)
    for a, b in info.flip_pairs:  # a pair is the same body part on the two sides
        (side_a, part_a), (side_b, part_b) = _side(info.keypoint_names[a]), _side(info.keypoint_names[b])
        assert part_a == part_b and {side_a, side_b} == {"l", "r"}
    assert all(0 <= i < k for limb in info.skeleton for i in limb)
    assert set(info.upper_body_ids).isdisjoint(info.lower_body_ids)
    assert set(info.upper_body_ids) | set(info.lower_body_ids) == set(range(k))
    if info.metric is Metric.COCO_AP:
        assert info.oks_sigmas is not None and len(info.oks_sigmas) == k and min(info.oks_sigmas) > 0
    for a, b in info.flip_pairs:  # mirrored keypoints are equally hard to place
        if info.oks_sigmas is not None:
            assert info.oks_sigmas[a] == info.oks_sigmas[b]


def test_coco_row_matches_the_annotation_file(coco_sample_dir: Path) -> None:
    cat = json.loads((coco_sample_dir / "test_coco.json").read_text())["categories"][0]
    coco = dataset_info("coco")
    assert coco.keypoint_names == tuple(cat["keypoints"])
    assert coco.skeleton == tuple((a - 1, b - 1) for a, b in cat["skeleton"])  # the file is 1-based


def test_coco_sigmas_are_pycocotools() -> None:
    # pycocotools' Params.setKpParams, typed here: np.array([.26, .25, ...]) / 10.0
    expected = np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
    ) / 10.0
    from enhancenet_core.metrics import COCO_SIGMAS

    for name in ("coco", "synthetic"):
        np.testing.assert_array_equal(np.array(dataset_info(name).oks_sigmas), expected)
    np.testing.assert_array_equal(COCO_SIGMAS, expected)
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    np.testing.assert_array_equal(COCO_SIGMAS, cocoeval.Params(iouType="keypoints").kpt_oks_sigmas)


def test_rows_by_dataset() -> None:
    coco, mpii, synth = (dataset_info(n) for n in ("coco", "mpii", "synthetic"))
    assert (coco.num_keypoints, mpii.num_keypoints, synth.num_keypoints) == (17, 16, 17)
    assert (coco.metric, mpii.metric, synth.metric) == (Metric.COCO_AP, Metric.PCKH, Metric.COCO_AP)
    assert (coco.loader, mpii.loader, synth.loader) == (RecordLoader.COCO, RecordLoader.MPII, RecordLoader.COCO)
    assert mpii.oks_sigmas is None  # MPII is scored by PCKh
    assert mpii.keypoint_names[mpii.flip_index[0]] == "l_ankle"
    assert dataset_info(DatasetName.MPII) is mpii
    assert info_for_num_keypoints(16) is mpii and info_for_num_keypoints(17) is coco
    assert info_for_num_keypoints(14) is dataset_info("crowdpose")
    assert info_for_num_keypoints(15) is None


def test_unknown_name_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"^data\.dataset: expected one of \['coco', 'mpii', 'synthetic', "
                                         r"'crowdpose', 'ochuman'\] or a data-set file \(\.yaml, \.yml, \.json\)"):
        dataset_info("crowdpos")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"keypoint_names": ("a", "b", "a")}, r"keypoint_names: expected unique names, \['a'\] repeat"),
        ({"keypoint_names": ()}, "keypoint_names: expected at least one keypoint"),
        ({"flip_pairs": ((0, 3),)}, r"flip_pairs\[0\]: expected a keypoint index in \[0, 2\]"),
        ({"flip_pairs": ((1, 1),)}, r"flip_pairs\[0\]: expected two different keypoints"),
        ({"flip_pairs": ((0, 1), (1, 2))}, r"flip_pairs\[1\]: keypoint 1 already in flip_pairs\[0\]"),
        ({"skeleton": ((0, 5),)}, r"skeleton\[0\]: expected a keypoint index"),
        ({"upper_body_ids": (0, 0)}, "upper_body_ids: expected unique keypoints"),
        ({"lower_body_ids": (-1,)}, "lower_body_ids: expected a keypoint index"),
        ({"oks_sigmas": (0.1, 0.1)}, "oks_sigmas: expected 3 positive numbers"),
        ({"oks_sigmas": (0.1, 0.0, 0.1)}, "oks_sigmas: expected 3 positive numbers"),
        ({"oks_sigmas": None}, "oks_sigmas: the COCO keypoint AP needs one σ per keypoint"),
    ],
)
def test_a_bad_row_is_refused_naming_the_field(change: dict, message: str) -> None:
    good = DatasetInfo(
        name="toy", keypoint_names=("a", "b", "c"), flip_pairs=((1, 2),), skeleton=((0, 1), (0, 2)),
        upper_body_ids=(0,), lower_body_ids=(1, 2), metric=Metric.COCO_AP, loader=RecordLoader.COCO,
        oks_sigmas=(0.1, 0.2, 0.2),
    )  # fmt: skip
    assert good.flip_index == (0, 2, 1)
    with pytest.raises(ValueError, match=f"^dataset 'toy': {message}"):
        dataclasses.replace(good, **change)


def test_config_decodes_the_name_once_and_writes_the_string() -> None:
    cfg = config_from_dict({"data": {"dataset": "mpii", "flip_pairs": []}, "model": {"num_keypoints": 16}})
    assert cfg.data.dataset is DatasetName.MPII
    assert config_to_dict(cfg)["data"]["dataset"] == "mpii"
    assert json.loads(json.dumps(config_to_dict(cfg)))["data"]["dataset"] == "mpii"


def test_mpii_flip_pairs_default_to_mpii_pairs() -> None:
    # Before the table the default was COCO's pairs whatever the data set (here an error: index 16 >= K = 16).
    cfg = config_from_dict({"data": {"dataset": "mpii"}, "model": {"num_keypoints": 16}})
    assert cfg.data.flip_pairs == ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    assert config_from_dict({}).data.flip_pairs == dataset_info("coco").flip_pairs
    # an explicit list (even an empty one) is kept
    assert config_from_dict({"data": {"dataset": "mpii", "flip_pairs": []}, "model": {"num_keypoints": 16}}
                            ).data.flip_pairs == ()  # fmt: skip
    # switching a shipped MPII config's data set keeps its (explicit) pairs
    mpii = load_config(shipped_config_path("mpii_hourglass_2stage_256x256_base"), [])
    assert mpii.data.flip_pairs == dataset_info("mpii").flip_pairs


@pytest.mark.parametrize(
    ("name", "k", "expected"), [("coco", 16, 17), ("mpii", 17, 16), ("coco", 14, 17), ("crowdpose", 17, 14)]
)
def test_k_mismatch_names_the_field(name: str, k: int, expected: int) -> None:
    with pytest.raises(ConfigError, match=rf"^model\.num_keypoints: expected {expected} keypoints for "
                                          rf"data\.dataset='{name}', got {k}") as err:  # fmt: skip
        config_from_dict({"data": {"dataset": name, "flip_pairs": []}, "model": {"num_keypoints": k}})
    assert err.value.path == "model.num_keypoints"
