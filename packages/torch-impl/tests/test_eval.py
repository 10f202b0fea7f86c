"""Evaluation end to end on the real samples, with an oracle network that outputs the ground-truth heat maps.

The oracle makes the expected numbers independent of the code under test: decoding its maps must land on the
annotated joints (COCO AP near 1, MPII PCKh near 100), and HR maps (stride 1) must land closer than LR maps
(stride 4), which is the paper's point. A network that outputs zeros must score near 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.engine.io import git_commit
from enhancenet_torch.data import build_pose_dataset
from enhancenet_torch.evaluate import evaluate


def coco_layout(tmp: Path, sample: Path) -> Path:
    """HRNet's COCO layout pointing at the sample files in place (symlinks, nothing copied)."""
    (tmp / "annotations").mkdir(parents=True)
    (tmp / "images").mkdir()
    (tmp / "annotations" / "person_keypoints_sample.json").symlink_to(sample / "test_coco.json")
    (tmp / "images" / "sample").symlink_to(sample)
    return tmp


def coco_cfg(root: Path, *extra: str):
    return load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.train_set=sample", "data.test_set=sample",
        "test.use_gt_bbox=true", "test.batch_size=4", *extra,
    ])  # fmt: skip


class Oracle(nn.Module):
    """Returns the stored targets of a patch it recognises; mirrored maps (pairs swapped) for a mirrored patch."""

    def __init__(self, dataset, flip_pairs, zero: bool = False) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))
        samples = [dataset[i] for i in range(len(dataset))]
        self.images = torch.stack([s["image"] for s in samples])
        self.maps = {k: torch.stack([s[f"target_{k}"] for s in samples]) for k in ("lr", "hr") if f"target_{k}" in samples[0]}
        perm = list(range(samples[0]["target_lr"].shape[0]))
        for a, b in flip_pairs:
            perm[a], perm[b] = b, a
        self.perm = perm
        self.zero = zero

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {k: [] for k in self.maps}
        for img in images:
            hits = [i for i in range(len(self.images)) if torch.equal(self.images[i], img)]
            mirrored = not hits
            if mirrored:
                hits = [i for i in range(len(self.images)) if torch.equal(self.images[i].flip(-1), img)]
            assert hits, "oracle: unknown patch"
            for k, maps in self.maps.items():
                m = maps[hits[0]]
                out[k].append(m[self.perm].flip(-1) if mirrored else m)
        result = {k: torch.stack(v) for k, v in out.items()}
        if self.zero:
            result = {k: torch.zeros_like(v) for k, v in result.items()}
        return result


def _errors(out_dir: Path, dataset) -> tuple[float, float]:
    pred = np.load(out_dir / "predictions.npz")
    recs = [dataset.core.records[int(i)] for i in pred["index"]]
    gt = np.stack([r.joints_xy for r in recs])
    vis = np.stack([r.joints_vis for r in recs]) > 0
    err_hr = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1)[vis].mean()
    err_lr = np.linalg.norm(pred["preds_lr"][..., :2] - gt, axis=-1)[vis].mean()
    return float(err_hr), float(err_lr)


def test_oracle_coco_ap_and_hr_beats_lr(tmp_path: Path, coco_sample_dir: Path) -> None:
    root = coco_layout(tmp_path / "coco", coco_sample_dir)
    cfg = coco_cfg(root, "test.flip_test=false")
    ds = build_pose_dataset(cfg, train=False)
    metrics = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs), device="cpu", out_dir=tmp_path / "ev",
                       progress=False, dataset=ds, checkpoint="oracle")
    assert metrics["metric_name"] == "AP" and metrics["heatmaps"] == "hr"
    assert metrics["metric"] > 0.9
    assert metrics["coco_ours"]["AP"] == pytest.approx(metrics["coco"]["AP"], abs=1e-9)
    err_hr, err_lr = _errors(tmp_path / "ev", ds)
    assert err_hr < 1.5  # HR stride 1: the legacy integer peak is within a pixel of the joint
    assert err_hr < err_lr  # stride 4 quantisation (+ the quarter step) on M^LR
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert saved["metric"] == metrics["metric"] and saved["checkpoint"] == "oracle"
    assert saved["config"]["model"]["input_size"] == [96, 128]
    assert saved["git_commit"] == git_commit() and len(saved["git_commit"] or "x" * 40) == 40
    assert saved["framework"] == "torch" and saved["versions"]["torch"] == torch.__version__
    assert saved["versions"]["numpy"] == np.__version__
    results = json.loads(Path(metrics["results_file"]).read_text())
    assert len(results) == metrics["num_results"] > 0

    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), device="cpu", out_dir=tmp_path / "ev0",
                    progress=False, dataset=ds)
    assert zero["metric"] < 0.1


def test_flip_test_swaps_pairs(tmp_path: Path, coco_sample_dir: Path) -> None:
    """A network whose output for the mirrored patch is exactly mirrored: flip test (no shift) changes nothing;
    with the pair swap removed from the config the left/right maps mix and the predictions move."""
    root = coco_layout(tmp_path / "coco", coco_sample_dir)
    base = coco_cfg(root, "test.flip_test=false")
    ds = build_pose_dataset(base, train=False)
    oracle = Oracle(ds, base.data.flip_pairs)
    ref = evaluate(base, oracle, device="cpu", out_dir=tmp_path / "a", progress=False, dataset=ds)
    flip = coco_cfg(root, "test.flip_test=true", "test.shift_heatmap=false")
    evaluate(flip, oracle, device="cpu", out_dir=tmp_path / "b", progress=False, dataset=ds)
    a, b = np.load(tmp_path / "a" / "predictions.npz"), np.load(tmp_path / "b" / "predictions.npz")
    np.testing.assert_allclose(a["preds"], b["preds"], atol=1e-6)
    no_pairs = coco_cfg(root, "test.flip_test=true", "test.shift_heatmap=false", "data.flip_pairs=[]")
    evaluate(no_pairs, oracle, device="cpu", out_dir=tmp_path / "c", progress=False, dataset=ds)
    c = np.load(tmp_path / "c" / "predictions.npz")
    assert np.abs(a["preds"][..., :2] - c["preds"][..., :2]).max() > 5.0
    assert ref["metric"] > 0.9


def _mpii_layout(tmp: Path, sample: Path, head_boxes: bool) -> Path:
    entries = json.loads((sample / "test_mpii.json").read_text())
    for e in entries:
        j = np.asarray(e["joints"], dtype=np.float64) - 1.0
        if head_boxes:  # a box spanning upper neck (8) and head top (9), as MPII's head rectangles do
            lo, hi = np.minimum(j[8], j[9]), np.maximum(j[8], j[9])
            pad = 0.25 * np.linalg.norm(j[9] - j[8])
            e["head_box"] = [lo[0] - pad, lo[1], hi[0] + pad, hi[1]]
    (tmp / "annot").mkdir(parents=True)
    (tmp / "annot" / "valid.json").write_text(json.dumps(entries))
    (tmp / "images").symlink_to(sample)
    return tmp


def _mpii_cfg(root: Path):
    return load_config(shipped_config_path("mpii_hourglass_2stage_256x256_enhancenet"), [
        f"data.root={root}", "data.test_set=valid", "test.flip_test=true", "test.batch_size=8",
        "model.input_size=[64, 64]",
    ])  # fmt: skip


def test_oracle_mpii_pckh(tmp_path: Path, mpii_sample_dir: Path) -> None:
    root = _mpii_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=True)
    cfg = _mpii_cfg(root)
    ds = build_pose_dataset(cfg, train=False)
    oracle = Oracle(ds, cfg.data.flip_pairs)
    metrics = evaluate(cfg, oracle, device="cpu", out_dir=tmp_path / "ev", progress=False, dataset=ds)
    assert metrics["metric_name"] == "PCKh@0.5"
    assert metrics["metric"] > 90.0
    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), device="cpu", out_dir=tmp_path / "ev0",
                    progress=False, dataset=ds)
    assert zero["metric"] < 20.0


def test_mpii_without_head_boxes_is_a_clear_error(tmp_path: Path, mpii_sample_dir: Path) -> None:
    root = _mpii_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=False)
    cfg = _mpii_cfg(root)
    ds = build_pose_dataset(cfg, train=False)
    with pytest.raises(ValueError, match="head boxes"):
        evaluate(cfg, Oracle(ds, cfg.data.flip_pairs), device="cpu", out_dir=tmp_path / "ev", progress=False,
                 dataset=ds)
    assert not (tmp_path / "ev" / "results.json").exists()
