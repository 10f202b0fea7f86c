"""End to end on the real COCO sample: a few PYNATIVE iterations of SimpleBaseline-R18 + EnhanceNet, validation
on detector boxes, best-model tracking, logs, and a second call that resumes at the end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_mindspore.checkpoint import load_checkpoint
from enhancenet_mindspore.train import train


@pytest.mark.slow
def test_few_iterations_on_coco_sample_with_validation(tmp_path: Path, coco_sample_dir: Path) -> None:
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "annotations" / "person_keypoints_sample.json").symlink_to(coco_sample_dir / "test_coco.json")
    (root / "images" / "sample").symlink_to(coco_sample_dir)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.train_set=sample", "data.test_set=sample",
        "model.input_size=[64,64]", "model.base.deconv_channels=32", "model.head.channels=32",
        "train.batch_size=4", "train.epochs=1", "test.use_gt_bbox=false",
        f"test.bbox_file={coco_sample_dir / 'test_coco_det_AP_H_56.json'}", "test.image_thre=0.9",
        "test.batch_size=16",
    ])  # fmt: skip
    out = tmp_path / "run"
    result = train(cfg, out, device="cpu", progress=True)
    assert result.epoch == 1 and result.step == 3  # 12 annotated people, batch 4
    assert np.isfinite(result.losses).all()
    assert result.best_metric is not None and result.best_epoch == 0 and 0.0 <= result.best_metric <= 1.0

    ckpt = load_checkpoint(out / "checkpoint_last.ckpt", cfg.model)
    assert (ckpt["epoch"], ckpt["step"], ckpt["batch_in_epoch"]) == (1, 3, 0)
    assert ckpt["metric_name"] == "AP" and ckpt["history"][0]["AP"] == result.best_metric
    assert ckpt["config"]["data"]["train_set"] == "sample"
    best = load_checkpoint(out / "model_best.ckpt", cfg.model)
    assert best["best_epoch"] == 0
    for name, value in ckpt["tensors"].items():
        np.testing.assert_array_equal(value, best["tensors"][name], err_msg=name)
    assert any(name.endswith("moving_mean") for name in ckpt["tensors"])  # batch-norm statistics are saved

    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(float(r["loss_hr"]) > 0 and float(r["loss_lr"]) > 0 for r in rows)
    assert [float(r["loss"]) for r in rows] == pytest.approx(result.losses)
    assert json.loads((out / "config.json").read_text())["data"]["train_set"] == "sample"
    val = json.loads((out / "eval" / "epoch_000" / "results.json").read_text())
    assert val["metric_name"] == "AP" and val["metric"] == result.best_metric
    assert val["framework"] == "mindspore" and val["versions"]["mindspore"].startswith("2.")
    assert val["metrics"]["num_instances"] >= 4  # detector boxes above 0.9
    assert (out / "eval" / "epoch_000" / "keypoints_sample_results.json").is_file()

    again = train(cfg, out, device="cpu", progress=False, validate=False)  # resumes at the end: nothing to do
    assert again.step == 3 and again.losses == []
