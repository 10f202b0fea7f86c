"""A small model trained briefly on the synthetic data set localises keypoints that an untrained one does not.

The model is a tiny convolutional base (a few strided convolutions and one deconvolution, ~0.1 M parameters)
wrapped by the real :class:`~enhancenet_torch.models.PoseModel` with the paper's EnhanceNet head (L=3, r=4), trained
by the real :func:`~enhancenet_torch.train.train` and evaluated by :func:`~enhancenet_torch.evaluate.evaluate` on
the held-out split. PCK@0.2 (distance ≤ 0.2 × the longer side of the person box) is computed here from the
saved predictions against the annotations, independently of the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.data import load_records
from enhancenet_runtime.data.synthetic import generate_synthetic_coco
from enhancenet_torch.evaluate import evaluate
from enhancenet_torch.models import attach_enhancenet
from enhancenet_torch.train import train


class TinyBase(nn.Module):
    """(N, 3, 64, 64) -> F^LR (N, 32, 16, 16), M^LR (N, K, 16, 16)."""

    feature_channels = 32

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(3, 24, 2), *block(24, 32, 2), *block(32, 48, 2), *block(48, 48, 1),
            nn.ConvTranspose2d(48, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.final = nn.Conv2d(32, num_keypoints, 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return features, self.final(features)


def tiny_model(cfg: Config) -> nn.Module:
    return attach_enhancenet(TinyBase(cfg.model.num_keypoints), cfg.model)


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
    untrained = evaluate(cfg, tiny_model(cfg), device="cpu", out_dir=tmp_path / "ev0", progress=False)
    result = train(cfg, tmp_path / "run", device="cpu", max_steps=STEPS, validate=False, progress=False,
                   model_fn=tiny_model, tensorboard=False)
    assert result.step == STEPS and result.losses[-1] < result.losses[0]
    model = tiny_model(cfg)
    state = torch.load(tmp_path / "run" / "checkpoint_last.pt", weights_only=False)["model"]
    model.load_state_dict(state)
    trained = evaluate(cfg, model, device="cpu", out_dir=tmp_path / "ev1", progress=False)
    pck0, pck1 = pck(tmp_path / "ev0", cfg), pck(tmp_path / "ev1", cfg)
    print(f"PCK@0.2 untrained {pck0:.3f} trained {pck1:.3f}; AP {untrained['metric']:.3f} -> {trained['metric']:.3f}")
    assert pck0 < 0.25
    assert pck1 > PCK_MIN and pck1 > pck0 + 0.2


STEPS = 80
PCK_MIN = 0.4
