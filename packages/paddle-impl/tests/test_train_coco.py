"""End to end on the real COCO sample: a few iterations of SimpleBaseline-R18 + EnhanceNet, validation, best model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_paddle.checkpoint import load_checkpoint, load_model_weights
from enhancenet_paddle.models import build_model
from enhancenet_paddle.train import train


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
    assert result.best_metric is not None and result.best_epoch == 0
    assert 0.0 <= result.best_metric <= 1.0

    ckpt = load_checkpoint(out / "checkpoint_last.pdckpt", cfg.model)
    assert ckpt["epoch"] == 1 and ckpt["step"] == 3 and ckpt["batch_in_epoch"] == 0
    assert ckpt["metric_name"] == "AP" and ckpt["history"][0]["AP"] == result.best_metric
    best = load_checkpoint(out / "model_best.pdckpt", cfg.model)
    assert best["best_epoch"] == 0
    for name, tensor in ckpt["model"].items():
        assert np.array_equal(tensor.numpy(), best["model"][name].numpy()), name
    # the trained weights differ from a fresh model's, and load back into one
    fresh = build_model(cfg.model)
    before = {k: v.numpy().copy() for k, v in fresh.state_dict().items()}
    load_model_weights(fresh, out / "model_best.pdckpt", cfg.model)
    changed = [k for k, v in fresh.state_dict().items() if not np.array_equal(v.numpy(), before[k])]
    assert any(k.startswith("enhance.") for k in changed) and any(k.startswith("base.") for k in changed)

    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(float(r["loss_hr"]) > 0 and float(r["loss_lr"]) > 0 for r in rows)
    assert json.loads((out / "config.json").read_text())["data"]["train_set"] == "sample"
    val = json.loads((out / "eval" / "epoch_000" / "results.json").read_text())
    assert val["metric_name"] == "AP" and val["metric"] == result.best_metric
    assert val["framework"] == "paddle" and "paddlepaddle" in val["versions"]
    assert val["metrics"]["num_instances"] >= 4  # detector boxes above 0.9
    assert (out / "eval" / "epoch_000" / "keypoints_sample_results.json").is_file()

    # a second call with the same out_dir resumes at the end: nothing more to train
    again = train(cfg, out, device="cpu", progress=False, validate=False)
    assert again.step == 3 and again.losses == []
