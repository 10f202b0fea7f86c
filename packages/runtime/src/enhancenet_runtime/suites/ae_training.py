"""Bottom-up (AE hourglass) training and evaluation end to end, through every framework's real ``train`` and
``evaluate``, on synthetic multi-person scenes (:mod:`enhancenet_runtime.data.synthetic_multi`).

A tiny AE hourglass (2 stacks, 16 channels, 64×64 input, K = 17, EnhanceNet r = 2): the config picks the
whole-image pipeline and the AE loss (:func:`enhancenet_runtime.engine.data.is_bottom_up`); evaluation groups the
model's maps and reports bottom-up AP. The training tests are marked slow (a few dozen CPU steps); the evaluation
test of an untrained model is fast.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.config import Config, ModelConfig, load_config, shipped_config_path
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco
from enhancenet_runtime.engine.training import TrainResult

__all__ = ["AeTrainingSuite", "tiny_ae_config"]

TINY_AE = [
    "model.input_size=[64,64]", "model.base.stages=2", "model.base.hourglass_channels=16",
    "model.base.hourglass_increase=8", "model.base.ae_output_channels=34", "model.head.channels=16",
    "model.head.upscale=2", "train.batch_size=3", "train.lr=0.002", "train.workers=0", "test.batch_size=2",
]  # fmt: skip


def tiny_ae_config(root: Path, head: bool = True, *overrides: str) -> Config:
    """The shipped AE + EnhanceNet config made tiny (module docstring), on the synthetic scenes under ``root``."""
    return load_config(shipped_config_path("coco_ae_hourglass4_512x512_enhancenet"), [
        "data.dataset=synthetic", f"data.root={root}", "data.train_set=train", "data.test_set=val", *TINY_AE,
        f"model.head.enabled={str(head).lower()}", *overrides,
    ])  # fmt: skip


class Binding(Protocol):
    """What :class:`AeTrainingSuite` needs (members of the training suites' binding)."""

    name: str
    checkpoint_suffix: str

    def train(self, cfg: Config, out_dir: Path, **kwargs: Any) -> TrainResult: ...
    def evaluate(self, cfg: Config, model: Any, out_dir: Path) -> dict[str, Any]: ...
    def build_model(self, model_cfg: ModelConfig) -> Any: ...
    def load_checkpoint(self, path: Path, model_cfg: ModelConfig) -> dict[str, Any]: ...
    def checkpoint_tensors(self, ckpt: dict[str, Any]) -> dict[str, np.ndarray]: ...


class AeTrainingSuite:
    """``train`` and ``evaluate`` with a bottom-up config."""

    @pytest.fixture(scope="class")
    @classmethod
    def scenes(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """12 scenes of 64×64 with 1-3 people (9 training, 3 validation images)."""
        root = tmp_path_factory.mktemp("ae_scenes") / "d"
        generate_multi_person_coco(root, 12, seed=0, image_size=(64, 64), people_per_image=(1, 3),
                                   val_fraction=0.25)  # fmt: skip
        return root

    @pytest.mark.parametrize("head", [True, False])
    def test_evaluate_reports_bottom_up_ap(self, binding: Binding, scenes: Path, tmp_path: Path, head: bool) -> None:
        cfg = tiny_ae_config(scenes, head)
        metrics = binding.evaluate(cfg, binding.build_model(cfg.model), tmp_path / "ev")
        assert metrics["metric_name"] == "AP" and 0.0 <= metrics["metric"] <= 1.0
        assert metrics["num_images"] == 3 and metrics["heatmaps"] == ("hr" if head else "lr")
        saved = json.loads((tmp_path / "ev" / "results.json").read_text())
        assert saved["metric_name"] == "AP" and saved["framework"] == binding.name
        assert saved["config"]["model"]["base"]["name"] == "ae_hourglass"

    @pytest.mark.slow
    def test_training_loss_falls_and_validates(self, binding: Binding, scenes: Path, tmp_path: Path) -> None:
        """24 steps (8 epochs of 3 batches): the mean loss of the last 6 steps is below the first 6's; every
        epoch validates with bottom-up AP; the log has the LR (detection) and HR columns."""
        cfg = tiny_ae_config(scenes, True, "train.epochs=8")
        out = tmp_path / "run"
        result = binding.train(cfg, out, progress=False)
        assert result.step == 24 and np.isfinite(result.losses).all()
        first, last = float(np.mean(result.losses[:6])), float(np.mean(result.losses[-6:]))
        print(f"AE loss: first 6 steps {first:.5f}, last 6 {last:.5f}; AP {result.best_metric}")
        assert last < first
        assert [h["epoch"] for h in result.history] == list(range(8)) and all("AP" in h for h in result.history)
        assert json.loads((out / "eval" / "epoch_007" / "results.json").read_text())["metric_name"] == "AP"
        rows = list(csv.DictReader((out / "train_log.csv").open()))
        assert len(rows) == 24 and all(float(r["loss_lr"]) > 0 and float(r["loss_hr"]) > 0 for r in rows)
        assert (out / f"model_best{binding.checkpoint_suffix}").is_file()

    @pytest.mark.slow
    def test_resume_reaches_the_uninterrupted_weights(self, binding: Binding, scenes: Path, tmp_path: Path) -> None:
        """4 steps straight, and 2 steps then a second call to 4 (mid-epoch stop): the same weights (1e-6
        relative; bit for bit where the framework's resume is exact)."""
        cfg = tiny_ae_config(scenes, True, "train.epochs=2")
        straight = binding.train(cfg, tmp_path / "a", max_steps=4, validate=False, progress=False)
        binding.train(cfg, tmp_path / "b", max_steps=2, validate=False, progress=False)
        resumed = binding.train(cfg, tmp_path / "b", max_steps=4, validate=False, progress=False)
        assert straight.step == resumed.step == 4 and len(resumed.losses) == 2
        np.testing.assert_allclose(resumed.losses, straight.losses[2:], rtol=1e-6)
        name = f"checkpoint_last{binding.checkpoint_suffix}"
        a = binding.checkpoint_tensors(binding.load_checkpoint(tmp_path / "a" / name, cfg.model))
        b = binding.checkpoint_tensors(binding.load_checkpoint(tmp_path / "b" / name, cfg.model))
        assert list(a) == list(b)
        for key, value in a.items():
            np.testing.assert_allclose(b[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
