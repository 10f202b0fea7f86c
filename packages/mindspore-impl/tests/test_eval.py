"""Evaluation end to end on the real samples with an oracle network that outputs the ground-truth heat maps.

The oracle makes the expected numbers independent of the code under test: decoding its maps must land on the
annotated joints (COCO AP near 1, MPII PCKh near 100), HR maps (stride 1) must land closer than LR maps
(stride 4), the flip test of a mirror-consistent network must change nothing, and a network that outputs zeros
must score near 0. The framework-free half (sample layouts, configs, the oracle's table of maps, the checks of
the written files) is :mod:`enhancenet_runtime.testing`, shared with the other frameworks' tests.
"""

from __future__ import annotations

from pathlib import Path

import mindspore as ms
import numpy as np
from mindspore import nn

from enhancenet_mindspore.data import build_pose_dataset
from enhancenet_mindspore.evaluate import evaluate
from enhancenet_runtime.testing import (
    OracleMaps,
    assert_flip_test,
    assert_hr_beats_lr,
    assert_oracle_coco_metrics,
    assert_results_json,
    check_mpii_without_head_boxes_is_refused,
    check_oracle_mpii_pckh,
    coco_sample_layout,
    oracle_coco_config,
)


class Oracle(nn.Cell):
    """PYNATIVE-only :class:`OracleMaps` as a MindSpore cell: the stored targets of a patch it recognises,
    mirrored maps (pairs swapped) for a mirrored patch, zeros with ``zero``."""

    def __init__(self, dataset, flip_pairs, zero: bool = False) -> None:
        super().__init__()
        self.table = OracleMaps.from_dataset(dataset, flip_pairs, zero=zero)

    def construct(self, images):
        return {k: ms.Tensor(v, ms.float32) for k, v in self.table(images.asnumpy()).items()}


def _evaluate(cfg, network, out_dir: Path, dataset) -> dict:
    return evaluate(cfg, network, out_dir=out_dir, progress=False, dataset=dataset)


def _build_dataset(cfg):
    return build_pose_dataset(cfg, train=False)


def test_oracle_coco_ap_hr_beats_lr_and_flip(tmp_path: Path, coco_sample_dir: Path) -> None:
    root = coco_sample_layout(tmp_path / "coco", coco_sample_dir)
    cfg = oracle_coco_config(root, "test.flip_test=false")
    ds = build_pose_dataset(cfg, train=False)
    oracle = Oracle(ds, cfg.data.flip_pairs)
    metrics = evaluate(cfg, oracle, out_dir=tmp_path / "ev", progress=False, dataset=ds, checkpoint="oracle")
    assert_oracle_coco_metrics(metrics)
    assert_hr_beats_lr(tmp_path / "ev", ds.records)
    assert_results_json(tmp_path / "ev", metrics, framework="mindspore", checkpoint="oracle", input_size=[96, 128],
                        versions={"mindspore": ms.__version__, "numpy": np.__version__})

    flip = oracle_coco_config(root, "test.flip_test=true", "test.flip_shift=none")
    evaluate(flip, oracle, out_dir=tmp_path / "fl", progress=False, dataset=ds)
    no_pairs = oracle_coco_config(root, "test.flip_test=true", "test.flip_shift=none", "data.flip_pairs=[]")
    evaluate(no_pairs, oracle, out_dir=tmp_path / "np", progress=False, dataset=ds)
    assert_flip_test(tmp_path / "ev", tmp_path / "fl", tmp_path / "np")

    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), out_dir=tmp_path / "ev0", progress=False,
                    dataset=ds)
    assert zero["metric"] < 0.1


def test_oracle_mpii_pckh(tmp_path: Path, mpii_sample_dir: Path) -> None:
    check_oracle_mpii_pckh(tmp_path, mpii_sample_dir, _build_dataset, _evaluate, Oracle)


def test_mpii_without_head_boxes_is_a_clear_error(tmp_path: Path, mpii_sample_dir: Path) -> None:
    check_mpii_without_head_boxes_is_refused(tmp_path, mpii_sample_dir, _build_dataset, _evaluate, Oracle)
