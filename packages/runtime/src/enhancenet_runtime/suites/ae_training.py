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
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import ae_hourglass
from enhancenet_numpy.weights import init_weights, save_weights
from enhancenet_runtime.data.bottomup import BottomUpRecord
from enhancenet_runtime.data.image import read_image
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco
from enhancenet_runtime.engine.bottomup_eval import predict_people
from enhancenet_runtime.engine.bottomup_run import model_maps_fn
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
    def predict_image(self, cfg: Config, checkpoint: Path, image: Path, boxes: list[list[float]],
                      out_path: Path) -> list[Path]: ...


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

    def test_predict_draws_every_person(self, binding: Binding, scenes: Path, tmp_path: Path) -> None:
        """``predict`` with a bottom-up config: the whole image, no boxes; a picture and the people's JSON, the
        people those of the runtime's grouping on the same canonical weights (numpy-ref's forward, float32); at
        most 5 candidates per joint (30 people would make the drawing the slow part)."""
        cfg = tiny_ae_config(scenes, True, "bottomup.max_num_people=5", "bottomup.top_k=5")
        # the last stack's outputs and the head's upsampler scaled down: an untrained network's detections reach
        # ±10 (every candidate clipped at 1, the scale skipped above 10); scaled, the grouping finds people
        params = {k: v * np.float32(0.05) if k.startswith(("outs.1.", "enhance.upsample.")) else v
                  for k, v in init_weights(cfg.model, 2, np.float32).items()}  # fmt: skip
        ckpt = tmp_path / "w.safetensors"
        save_weights(ckpt, params, cfg.model)
        image = sorted((scenes / "images" / "val").iterdir())[0]
        files = binding.predict_image(cfg, ckpt, image, [], tmp_path / "p.png")
        assert [f.name for f in files] == ["p.png", "p.json"] and files[0].stat().st_size > 0
        saved = json.loads(files[1].read_text())
        assert len(saved["people"]) == len(saved["scores"]) and all(len(p) == 17 for p in saved["people"])

        def forward(images: np.ndarray) -> dict[str, Any]:
            ae = ae_hourglass.forward(params, images, cfg.model.base, cfg.model.num_keypoints)
            return {"lr": ae.detection, "tags": ae.stack_tags(cfg.model.num_keypoints),
                    "hr": head_forward(params, ae.features, ae.detection, cfg.model.head)}

        record = BottomUpRecord(image=image, image_id=0, width=64, height=64, keypoints=np.zeros((0, 17, 3)))
        want = predict_people(read_image(image, cfg.data.color_rgb), record, model_maps_fn(forward, cfg), cfg)
        assert len(saved["scores"]) == len(want.scores) > 0
        np.testing.assert_allclose(np.asarray(saved["people"])[..., :2], want.people[..., :2], atol=1e-2)
        with pytest.raises(ValueError, match="--boxes"):
            binding.predict_image(cfg, ckpt, image, [[0, 0, 10, 10]], tmp_path / "q.png")
        assert not (tmp_path / "q.png").exists()

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
