"""A small model trained briefly (PYNATIVE) on the synthetic data set localises keypoints an untrained one does not.

The model is a tiny convolutional base (``_toy.TinyBase``) wrapped by the real ``PoseModel`` with the paper's
EnhanceNet head (L=3, r=4), trained by the real :func:`~enhancenet_mindspore.train.train` and evaluated by
:func:`~enhancenet_mindspore.evaluate.evaluate` on the held-out split. PCK@0.2 (distance ≤ 0.2 × the longer side
of the person box) is computed here from the saved predictions and the annotations, independently of the code
under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _toy import tiny_model

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_mindspore.checkpoint import load_model_weights
from enhancenet_mindspore.evaluate import evaluate
from enhancenet_mindspore.train import train
from enhancenet_runtime.data import load_records
from enhancenet_runtime.data.synthetic import generate_synthetic_coco

STEPS = 80
PCK_MIN = 0.4


def pck(out_dir: Path, cfg: Config, threshold: float = 0.2) -> float:
    pred = np.load(out_dir / "predictions.npz")
    records = load_records(cfg, train=False).records
    rec = [records[int(i)] for i in pred["index"]]
    gt = np.stack([r.joints_xy for r in rec])
    vis = np.stack([r.joints_vis for r in rec]) > 0
    size = np.array([max(r.box[2], r.box[3]) for r in rec])
    dist = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1) / size[:, None]
    return float((dist[vis] <= threshold).mean())


@pytest.mark.slow
def test_short_training_beats_untrained(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic_coco(root, 200, seed=0, image_size=(96, 96), people_per_image=(1, 1), val_fraction=0.2,
                            occlusion_prob=0.0, progress=False)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        f"data.root={root}", "model.input_size=[64,64]", "model.head.channels=32",
        "train.batch_size=12", "train.epochs=100", "train.lr=0.005", "train.lr_steps=[100]",
        "data.augmentation.rotation_factor=0", "data.augmentation.scale_factor=0.1",
        "test.flip_test=false", "test.batch_size=40",
    ])  # fmt: skip
    untrained = evaluate(cfg, tiny_model(cfg), out_dir=tmp_path / "ev0", progress=False)
    result = train(cfg, tmp_path / "run", device="cpu", max_steps=STEPS, validate=False, progress=False,
                   model_fn=tiny_model)
    assert result.step == STEPS and np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    model = tiny_model(cfg)
    load_model_weights(model, tmp_path / "run" / "checkpoint_last.ckpt", cfg.model)
    trained = evaluate(cfg, model, out_dir=tmp_path / "ev1", progress=False)
    pck0, pck1 = pck(tmp_path / "ev0", cfg), pck(tmp_path / "ev1", cfg)
    print(f"PCK@0.2 untrained {pck0:.3f} trained {pck1:.3f}; AP {untrained['metric']:.3f} -> {trained['metric']:.3f}")
    assert pck0 < 0.25
    assert pck1 > PCK_MIN and pck1 > pck0 + 0.2
