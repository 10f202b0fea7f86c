"""Evaluation end to end on the real COCO sample with an oracle network that outputs the ground-truth heat maps.

The oracle makes the expected numbers independent of the code under test: decoding its maps must land on the
annotated joints (AP near 1), HR maps (stride 1) must land closer than LR maps (stride 4), the flip test of a
mirror-consistent network must change nothing, and a network that outputs zeros must score near 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.engine.io import git_commit
from enhancenet_mindspore.data import build_pose_dataset
from enhancenet_mindspore.evaluate import evaluate


def coco_cfg(root: Path, *extra: str):
    return load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.train_set=sample", "data.test_set=sample",
        "test.use_gt_bbox=true", "test.batch_size=4", *extra,
    ])  # fmt: skip


@pytest.fixture
def coco_root(tmp_path: Path, coco_sample_dir: Path) -> Path:
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "annotations" / "person_keypoints_sample.json").symlink_to(coco_sample_dir / "test_coco.json")
    (root / "images" / "sample").symlink_to(coco_sample_dir)
    return root


class Oracle(nn.Cell):
    """PYNATIVE-only: returns the stored targets of a patch it recognises; mirrored maps for a mirrored patch."""

    def __init__(self, dataset, flip_pairs, zero: bool = False) -> None:
        super().__init__()
        samples = [dataset[i] for i in range(len(dataset))]
        self.images = np.stack([s["image"] for s in samples])
        self.maps = {k: np.stack([s[f"target_{k}"] for s in samples]) for k in ("lr", "hr")}
        perm = list(range(self.maps["lr"].shape[1]))
        for a, b in flip_pairs:
            perm[a], perm[b] = b, a
        self.perm, self.zero = perm, zero

    def construct(self, images):
        out = {k: [] for k in self.maps}
        for img in images.asnumpy():
            hits = np.flatnonzero((self.images == img).all(axis=(1, 2, 3)))
            mirrored = hits.size == 0
            if mirrored:
                hits = np.flatnonzero((self.images[..., ::-1] == img).all(axis=(1, 2, 3)))
            assert hits.size, "oracle: unknown patch"
            for k, maps in self.maps.items():
                m = maps[hits[0]]
                out[k].append(m[self.perm][..., ::-1] if mirrored else m)
        return {k: ms.Tensor(np.stack(v) * (0.0 if self.zero else 1.0), ms.float32) for k, v in out.items()}


def test_oracle_coco_ap_hr_beats_lr_and_flip(tmp_path: Path, coco_root: Path) -> None:
    cfg = coco_cfg(coco_root, "test.flip_test=false")
    ds = build_pose_dataset(cfg, train=False)
    oracle = Oracle(ds, cfg.data.flip_pairs)
    metrics = evaluate(cfg, oracle, out_dir=tmp_path / "ev", progress=False, dataset=ds, checkpoint="oracle")
    assert metrics["metric_name"] == "AP" and metrics["heatmaps"] == "hr" and metrics["metric"] > 0.9
    pred = np.load(tmp_path / "ev" / "predictions.npz")
    recs = [ds.records[int(i)] for i in pred["index"]]
    gt = np.stack([r.joints_xy for r in recs])
    vis = np.stack([r.joints_vis for r in recs]) > 0
    err_hr = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1)[vis].mean()
    err_lr = np.linalg.norm(pred["preds_lr"][..., :2] - gt, axis=-1)[vis].mean()
    assert err_hr < 1.5 and err_hr < err_lr
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert saved["framework"] == "mindspore" and saved["versions"]["mindspore"] == ms.__version__
    assert saved["metric"] == metrics["metric"] and saved["checkpoint"] == "oracle"
    assert saved["git_commit"] == git_commit()

    flip = coco_cfg(coco_root, "test.flip_test=true", "test.shift_heatmap=false")
    evaluate(flip, oracle, out_dir=tmp_path / "fl", progress=False, dataset=ds)
    np.testing.assert_allclose(np.load(tmp_path / "fl" / "predictions.npz")["preds"], pred["preds"], atol=1e-6)
    no_pairs = coco_cfg(coco_root, "test.flip_test=true", "test.shift_heatmap=false", "data.flip_pairs=[]")
    evaluate(no_pairs, oracle, out_dir=tmp_path / "np", progress=False, dataset=ds)
    assert np.abs(np.load(tmp_path / "np" / "predictions.npz")["preds"][..., :2] - pred["preds"][..., :2]).max() > 5

    zero = evaluate(cfg, Oracle(ds, cfg.data.flip_pairs, zero=True), out_dir=tmp_path / "ev0", progress=False,
                    dataset=ds)
    assert zero["metric"] < 0.1
