"""The runtime reads the spec's data-set table: MPII's flip test swaps MPII's pairs by default, every loader and
metric a row can name has its reader and scorer, and the keypoint constants are the table's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.datasets import DatasetName, Metric, RecordLoader, dataset_info
from enhancenet_runtime.data import keypoints
from enhancenet_runtime.data.pipeline import RECORD_LOADERS
from enhancenet_runtime.engine import evaluation
from enhancenet_runtime.engine.evaluation import flip_back_maps


def _mirror_by_name(names: tuple[str, ...]) -> list[int]:
    """Channel of the mirrored keypoint, from the names alone (r_x <-> l_x), not from any flip pairs."""
    swap = {"r_": "l_", "l_": "r_"}
    return [names.index(swap[n[:2]] + n[2:]) if n[:2] in swap else i for i, n in enumerate(names)]


def test_mpii_flip_test_swaps_mpii_pairs_by_default() -> None:
    # flip_pairs: null -> the data set's own pairs (before the table: COCO's, out of range for K = 16)
    cfg = load_config(shipped_config_path("mpii_hourglass_2stage_256x256_base"),
                      ["data.flip_pairs=null", "test.flip_shift=none"])  # fmt: skip
    assert cfg.data.dataset is DatasetName.MPII
    names = dataset_info(cfg.data.dataset).keypoint_names
    rng = np.random.default_rng(0)
    maps = rng.random((2, 16, 64, 64)).astype(np.float32)  # M^LR of the 256x256 patch (the codec checks the size)
    expected = maps[:, _mirror_by_name(names), :, ::-1]
    np.testing.assert_array_equal(flip_back_maps(maps, cfg), expected)


def test_every_loader_and_metric_a_row_can_name_is_implemented() -> None:
    assert set(RECORD_LOADERS) == set(RecordLoader)
    assert set(evaluation._METRICS) == set(Metric)


def test_keypoint_constants_are_the_table(coco_sample_dir: Path) -> None:
    cat = json.loads((coco_sample_dir / "test_coco.json").read_text())["categories"][0]
    assert keypoints.COCO_SKELETON == tuple(tuple(p) for p in cat["skeleton"])  # 1-based, as in the file
    assert keypoints.COCO_KEYPOINT_NAMES == tuple(cat["keypoints"])
    assert keypoints.MPII_FLIP_PAIRS == dataset_info("mpii").flip_pairs
    assert keypoints.body_parts_for(16) == (dataset_info("mpii").upper_body_ids, dataset_info("mpii").lower_body_ids)
