"""Short training runs of every framework's real ``train`` (both marked slow).

- :class:`SyntheticTrainingSuite`: a tiny convolutional base (the framework's own, from its binding) wrapped by
  the real PoseModel with the paper's EnhanceNet head (L=3, r=4), trained briefly on the synthetic set, localises
  keypoints that the untrained model does not. PCK@0.2 (distance <= 0.2 x the longer side of the person box) is
  computed here from the saved predictions against the annotations, independently of the code under test.
- :class:`CocoSampleTrainingSuite`: a few iterations of SimpleBaseline-R18 + EnhanceNet on the real COCO sample
  with validation on detector boxes: the result, the last and best checkpoints, the logs, the validation files,
  and a second call that resumes at the end. The run is a class fixture (``coco_run``) that a framework's subclass
  can check further.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.config import Config, ModelConfig, load_config, shipped_config_path
from enhancenet_runtime.data import load_records
from enhancenet_runtime.data.synthetic import generate_synthetic_coco
from enhancenet_runtime.engine.training import TrainResult


class Binding(Protocol):
    """What the training suites need from a framework."""

    #: the framework's name as its evaluation output writes it
    name: str
    #: the key of the framework's own package in the ``versions`` an evaluation records ("torch", "paddlepaddle")
    version_key: str
    #: the suffix of the framework's training checkpoints (".pt", ".pdckpt", ".ckpt")
    checkpoint_suffix: str
    #: training steps of the synthetic run (enough for PCK@0.2 > 0.4 with the framework's initialisation)
    synthetic_steps: int
    #: the loss must fall: mean of the last n step losses < mean of the first n (1: last < first)
    synthetic_loss_window: int
    #: a tiny base model (a few strided convolutions, one deconvolution) with the EnhanceNet head of ``cfg``
    tiny_model: Callable[[Config], Any]

    def train(self, cfg: Config, out_dir: Path, **kwargs: Any) -> TrainResult:
        """The framework's ``train(cfg, out_dir, device="cpu", **kwargs)`` (no TensorBoard unless asked)."""

    def evaluate(self, cfg: Config, model: Any, out_dir: Path) -> dict[str, Any]:
        """The framework's ``evaluate`` of ``model`` on the CPU, without a progress bar."""

    def build_model(self, model_cfg: ModelConfig) -> Any:
        """The framework's ``models.build_model``."""

    def load_model_weights(self, model: Any, path: Path, model_cfg: ModelConfig) -> Any:
        """The framework's ``checkpoint.load_model_weights``."""

    def load_checkpoint(self, path: Path, model_cfg: ModelConfig) -> dict[str, Any]:
        """The framework's ``checkpoint.load_checkpoint``."""

    def checkpoint_tensors(self, ckpt: dict[str, Any]) -> dict[str, np.ndarray]:
        """The model tensors of a loaded training checkpoint, by the names it stores them under."""

    def model_tensors(self, model: Any) -> dict[str, np.ndarray]:
        """Canonical name -> copy of each tensor of ``model`` (head tensors start with ``enhance.``)."""


def pck(out_dir: Path, cfg: Config, threshold: float = 0.2) -> float:
    """PCK of the predictions an evaluation saved in ``out_dir`` against the held-out annotations of ``cfg``."""
    pred = np.load(out_dir / "predictions.npz")
    records = load_records(cfg, train=False).records
    rec = [records[int(i)] for i in pred["index"]]
    gt = np.stack([r.joints_xy for r in rec])
    vis = np.stack([r.joints_vis for r in rec]) > 0
    size = np.array([max(r.box[2], r.box[3]) for r in rec])
    dist = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1) / size[:, None]
    return float((dist[vis] <= threshold).mean())


PCK_MIN = 0.4


class SyntheticTrainingSuite:
    """A short training beats the untrained model on the synthetic set."""

    @pytest.mark.slow
    def test_short_training_beats_untrained(self, binding: Binding, tmp_path: Path) -> None:
        root = tmp_path / "synthetic"
        generate_synthetic_coco(root, 200, seed=0, image_size=(96, 96), people_per_image=(1, 1), val_fraction=0.2,
                                occlusion_prob=0.0, progress=False)
        cfg = load_config(shipped_config_path("synthetic_quick"), [
            f"data.root={root}", "model.input_size=[64,64]", "model.head.channels=32",
            "train.batch_size=12", "train.epochs=100", "train.lr=0.005", "train.lr_steps=[100]",
            "data.augmentation.rotation_factor=0", "data.augmentation.scale_factor=0.1",
            "test.flip_test=false", "test.batch_size=40",
        ])  # fmt: skip
        steps, window = binding.synthetic_steps, binding.synthetic_loss_window
        untrained = binding.evaluate(cfg, binding.tiny_model(cfg), tmp_path / "ev0")
        result = binding.train(cfg, tmp_path / "run", max_steps=steps, validate=False, progress=False,
                               model_fn=binding.tiny_model)
        assert result.step == steps and np.mean(result.losses[-window:]) < np.mean(result.losses[:window])
        model = binding.tiny_model(cfg)
        binding.load_model_weights(model, tmp_path / "run" / f"checkpoint_last{binding.checkpoint_suffix}",
                                   cfg.model)
        trained = binding.evaluate(cfg, model, tmp_path / "ev1")
        pck0, pck1 = pck(tmp_path / "ev0", cfg), pck(tmp_path / "ev1", cfg)
        print(f"PCK@0.2 untrained {pck0:.3f} trained {pck1:.3f}; AP {untrained['metric']:.3f} -> "
              f"{trained['metric']:.3f}")
        assert pck0 < 0.25
        assert pck1 > PCK_MIN and pck1 > pck0 + 0.2


@dataclass
class CocoRun:
    """A few iterations on the COCO sample (see :class:`CocoSampleTrainingSuite`)."""

    cfg: Config
    out: Path
    result: TrainResult
    ckpt: dict[str, Any]
    best: dict[str, Any]
    rows: list[dict[str, str]]
    val: dict[str, Any]


class CocoSampleTrainingSuite:
    """End to end on the real COCO sample: training, validation, best model, logs, resume."""

    @pytest.fixture(scope="class")
    @classmethod
    def coco_run(cls, binding: Binding, tmp_path_factory: pytest.TempPathFactory, coco_sample_dir: Path) -> CocoRun:
        tmp_path = tmp_path_factory.mktemp("coco_run")
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
        result = binding.train(cfg, out, progress=True)
        suffix = binding.checkpoint_suffix
        return CocoRun(
            cfg=cfg, out=out, result=result,
            ckpt=binding.load_checkpoint(out / f"checkpoint_last{suffix}", cfg.model),
            best=binding.load_checkpoint(out / f"model_best{suffix}", cfg.model),
            rows=list(csv.DictReader((out / "train_log.csv").open())),
            val=json.loads((out / "eval" / "epoch_000" / "results.json").read_text()),
        )  # fmt: skip

    @pytest.mark.slow
    def test_result(self, coco_run: CocoRun) -> None:
        result = coco_run.result
        assert result.epoch == 1 and result.step == 3  # 12 annotated people, batch 4
        assert np.isfinite(result.losses).all()
        assert result.best_metric is not None and result.best_epoch == 0
        assert 0.0 <= result.best_metric <= 1.0

    @pytest.mark.slow
    def test_last_and_best_checkpoints(self, binding: Binding, coco_run: CocoRun) -> None:
        ckpt, best = coco_run.ckpt, coco_run.best
        assert (ckpt["epoch"], ckpt["step"], ckpt["batch_in_epoch"]) == (1, 3, 0)
        assert ckpt["metric_name"] == "AP" and ckpt["history"][0]["AP"] == coco_run.result.best_metric
        assert ckpt["config"]["data"]["train_set"] == "sample"
        assert best["best_epoch"] == 0
        last_tensors, best_tensors = binding.checkpoint_tensors(ckpt), binding.checkpoint_tensors(best)
        assert last_tensors and list(last_tensors) == list(best_tensors)
        for name, value in last_tensors.items():
            np.testing.assert_array_equal(value, best_tensors[name], err_msg=name)

    @pytest.mark.slow
    def test_trained_weights_load_into_a_fresh_model(self, binding: Binding, coco_run: CocoRun) -> None:
        """The trained weights differ from a fresh model's (head and base), and load back into one."""
        fresh = binding.build_model(coco_run.cfg.model)
        before = binding.model_tensors(fresh)
        binding.load_model_weights(fresh, coco_run.out / f"model_best{binding.checkpoint_suffix}", coco_run.cfg.model)
        after = binding.model_tensors(fresh)
        assert list(after) == list(before)
        changed = [k for k, v in after.items() if not np.array_equal(v, before[k])]
        assert any(k.startswith("enhance.") for k in changed) and any(not k.startswith("enhance.") for k in changed)

    @pytest.mark.slow
    def test_logs(self, coco_run: CocoRun) -> None:
        rows = coco_run.rows
        assert [int(r["step"]) for r in rows] == [1, 2, 3]
        assert all(float(r["loss_hr"]) > 0 and float(r["loss_lr"]) > 0 for r in rows)
        assert [float(r["loss"]) for r in rows] == pytest.approx(coco_run.result.losses)
        assert json.loads((coco_run.out / "config.json").read_text())["data"]["train_set"] == "sample"

    @pytest.mark.slow
    def test_validation(self, binding: Binding, coco_run: CocoRun) -> None:
        val = coco_run.val
        assert val["metric_name"] == "AP" and val["metric"] == coco_run.result.best_metric
        assert val["metrics"]["num_instances"] >= 4  # detector boxes above 0.9
        assert (coco_run.out / "eval" / "epoch_000" / "keypoints_sample_results.json").is_file()
        assert val["framework"] == binding.name and binding.version_key in val["versions"]

    @pytest.mark.slow
    def test_second_call_resumes_at_the_end(self, binding: Binding, coco_run: CocoRun) -> None:
        """A second call with the same out_dir resumes at the end: nothing more to train."""
        again = binding.train(coco_run.cfg, coco_run.out, progress=False, validate=False)
        assert again.step == 3 and again.losses == []
