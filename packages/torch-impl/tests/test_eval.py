"""Evaluation end to end on the real samples, with an oracle network that outputs the ground-truth heat maps.

The oracle makes the expected numbers independent of the code under test: decoding its maps must land on the
annotated joints (COCO AP near 1, MPII PCKh near 100), and HR maps (stride 1) must land closer than LR maps
(stride 4), which is the paper's point. A network that outputs zeros must score near 0. The framework-free
half (sample layouts, configs, the oracle's table of maps, the checks of the written files) is
:mod:`enhancenet_core.testing`, shared with the other frameworks' tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from enhancenet_core.testing import (
    OracleMaps,
    assert_flip_test,
    assert_hr_beats_lr,
    assert_oracle_coco_metrics,
    assert_results_json,
    coco_sample_layout,
    mpii_sample_layout,
    oracle_coco_config,
    oracle_mpii_config,
)
from enhancenet_torch.data import build_pose_dataset
from enhancenet_torch.evaluate import evaluate


class Oracle(nn.Module):
    """:class:`OracleMaps` as a PyTorch module: the stored targets of a patch it recognises, mirrored maps
    (pairs swapped) for a mirrored patch, zeros with ``zero``."""

    def __init__(self, dataset, flip_pairs, zero: bool = False) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # evaluate() reads the device from the parameters
        self.table = OracleMaps.from_dataset(dataset, flip_pairs, zero=zero)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = self.table(images.detach().cpu().numpy())
        return {k: torch.from_numpy(v).to(images.device) for k, v in maps.items()}


def test_oracle_coco_ap_and_hr_beats_lr(tmp_path: Path, coco_sample_dir: Path) -> None:
    root = coco_sample_layout(tmp_path / "coco", coco_sample_dir)
    cfg = oracle_coco_config(root, "test.flip_test=false")
    ds = build_pose_dataset(cfg, train=False)
    metrics = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs), device="cpu", out_dir=tmp_path / "ev",
                       progress=False, dataset=ds, checkpoint="oracle")
    assert_oracle_coco_metrics(metrics)
    assert_hr_beats_lr(tmp_path / "ev", ds.core.records)
    assert_results_json(tmp_path / "ev", metrics, framework="torch", checkpoint="oracle", input_size=[96, 128],
                        versions={"torch": torch.__version__, "numpy": np.__version__})

    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), device="cpu", out_dir=tmp_path / "ev0",
                    progress=False, dataset=ds)
    assert zero["metric"] < 0.1


def test_flip_test_swaps_pairs(tmp_path: Path, coco_sample_dir: Path) -> None:
    """A network whose output for the mirrored patch is exactly mirrored: flip test (no shift) changes nothing;
    with the pair swap removed from the config the left/right maps mix and the predictions move."""
    root = coco_sample_layout(tmp_path / "coco", coco_sample_dir)
    base = oracle_coco_config(root, "test.flip_test=false")
    ds = build_pose_dataset(base, train=False)
    oracle = Oracle(ds, base.data.flip_pairs)
    ref = evaluate(base, oracle, device="cpu", out_dir=tmp_path / "a", progress=False, dataset=ds)
    flip = oracle_coco_config(root, "test.flip_test=true", "test.shift_heatmap=false")
    evaluate(flip, oracle, device="cpu", out_dir=tmp_path / "b", progress=False, dataset=ds)
    no_pairs = oracle_coco_config(root, "test.flip_test=true", "test.shift_heatmap=false", "data.flip_pairs=[]")
    evaluate(no_pairs, oracle, device="cpu", out_dir=tmp_path / "c", progress=False, dataset=ds)
    assert_flip_test(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert ref["metric"] > 0.9


def test_oracle_mpii_pckh(tmp_path: Path, mpii_sample_dir: Path) -> None:
    root = mpii_sample_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=True)
    cfg = oracle_mpii_config(root)
    ds = build_pose_dataset(cfg, train=False)
    metrics = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs), device="cpu", out_dir=tmp_path / "ev", progress=False,
                       dataset=ds)
    assert metrics["metric_name"] == "PCKh@0.5" and metrics["metric"] > 90.0
    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), device="cpu", out_dir=tmp_path / "ev0",
                    progress=False, dataset=ds)
    assert zero["metric"] < 20.0


def test_mpii_without_head_boxes_is_a_clear_error(tmp_path: Path, mpii_sample_dir: Path) -> None:
    root = mpii_sample_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=False)
    cfg = oracle_mpii_config(root)
    ds = build_pose_dataset(cfg, train=False)
    with pytest.raises(ValueError, match="head boxes"):
        evaluate(cfg, Oracle(ds, cfg.data.flip_pairs), device="cpu", out_dir=tmp_path / "ev", progress=False,
                 dataset=ds)
    assert not (tmp_path / "ev" / "results.json").exists()
