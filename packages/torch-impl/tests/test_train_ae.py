"""Bottom-up training and evaluation end to end: the shared suite (:mod:`enhancenet_runtime.suites.ae_training`)
with PyTorch's binding (conftest.py), and torch's bottom-up ``predict``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco
from enhancenet_runtime.suites.ae_training import AeTrainingSuite, tiny_ae_config
from enhancenet_torch.models import build_model
from enhancenet_torch.predict import predict_image
from enhancenet_torch.weights import save_canonical


class TestAeTraining(AeTrainingSuite):
    """An AE config trains (whole images, AE loss), resumes and evaluates (bottom-up AP)."""


def test_predict_draws_every_person(tmp_path: Path) -> None:
    """``predict`` with a bottom-up config: the whole image, no boxes; a picture and the people's JSON."""
    root = tmp_path / "d"
    generate_multi_person_coco(root, 2, seed=3, image_size=(64, 48), people_per_image=(2, 2), val_fraction=0.0)
    cfg = tiny_ae_config(root)
    ckpt = tmp_path / "w.safetensors"
    save_canonical(build_model(cfg.model), ckpt, cfg.model)
    image = next((root / "images" / "train").iterdir())
    files = predict_image(cfg, ckpt, image, [], tmp_path / "p.png", device="cpu")
    assert [f.name for f in files] == ["p.png", "p.json"] and files[0].stat().st_size > 0
    saved = json.loads(files[1].read_text())
    assert len(saved["people"]) == len(saved["scores"]) and all(len(p) == 17 for p in saved["people"])
    with pytest.raises(ValueError, match="--boxes"):
        predict_image(cfg, ckpt, image, [[0, 0, 10, 10]], tmp_path / "q.png", device="cpu")
