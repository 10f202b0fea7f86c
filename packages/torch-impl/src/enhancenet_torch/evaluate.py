"""Top-down evaluation in PyTorch: run the network (with the flipped pass) and hand NumPy maps to the engine.

Only running the network is here (the ``forward``/``flip`` hooks of :mod:`enhancenet_runtime.engine.prediction`).
Everything around it is the runtime's, shared by every framework so they report the same numbers from the same
maps: the batch loop and the flip-test merge (the ``test.flip_shift`` rule applied for each map's own stride, so
M^LR and M^HR get their own correction), decoding through the codecs (LR or HR maps) and the map back to the
image, collecting predictions (:mod:`enhancenet_runtime.engine.prediction`), COCO AP (rescoring, OKS-NMS,
pycocotools and our evaluator) or MPII PCKh, and the files
(:func:`enhancenet_runtime.engine.evaluation.finish_evaluation`).

Outputs in ``out_dir``:

* ``keypoints_<test_set>_results.json``: COCO keypoint results (after rescoring and OKS-NMS), COCO only;
* ``predictions.npz``: ``preds`` (N, K, 3) image (x, y, score) for every instance before NMS, ``preds_lr``,
  and the instance metadata (``index``, ``image_id``, ``center``, ``scale``, ``score``, ``area``);
* ``results.json``: the metrics, the primary ``metric``/``metric_name``, ``framework`` = ``"torch"`` and the
  versions, the config, the checkpoint and the git commit; written atomically.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine.bottomup_run import ForwardFn, finish_bottomup_evaluation, model_maps_fn
from enhancenet_runtime.engine.data import is_bottom_up
from enhancenet_runtime.engine.evaluation import finish_evaluation
from enhancenet_runtime.engine.io import package_versions
from enhancenet_runtime.engine.prediction import infer_maps, predict_dataset

__all__ = ["bottomup_forward", "evaluate", "evaluate_bottomup", "evaluate_checkpoint", "infer_heatmaps", "run_inference", "torch_versions"]


def torch_versions() -> dict[str, str]:
    """Versions recorded in ``results.json``: Python, NumPy, torch, enhancenet-core and enhancenet-torch."""
    return {**package_versions("enhancenet-core", "enhancenet-torch"), "torch": torch.__version__}


def _numpy(value: Any) -> Any:
    return value.numpy() if isinstance(value, torch.Tensor) else value


def _maps(out: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: out[k].float().cpu().numpy() for k in ("lr", "hr") if out.get(k) is not None}


@torch.no_grad()
def infer_heatmaps(model: nn.Module, images: torch.Tensor, cfg: Config) -> dict[str, np.ndarray]:
    """Run the model on (N, 3, H, W) patches, with flip test when ``cfg.test.flip_test``.

    Returns:
        ``{"lr": (N, K, h, w)}`` and, when the model has the head, ``"hr": (N, K, rh, rw)``, float32 NumPy
        (:func:`enhancenet_runtime.engine.prediction.infer_maps`: with flip test, averaged with the maps of the
        horizontally flipped patch flipped back and shifted by the ``test.flip_shift`` rule for each map's stride).
    """
    return infer_maps(lambda x: _maps(model(x)), images, cfg, flip=lambda x: torch.flip(x, dims=[3]))


def run_inference(
    model: nn.Module,
    dataset: Any,
    cfg: Config,
    device: torch.device,
    progress: bool = True,
    max_batches: int | None = None,
) -> dict[str, np.ndarray]:
    """Predict every instance of a test ``dataset`` (a :class:`~enhancenet_torch.data.TorchPoseDataset`).

    Returns:
        :func:`enhancenet_runtime.engine.prediction.predict_dataset`: ``preds`` (N, K, 3) image (x, y, score)
        from the decoded map (HR when used, else LR), ``preds_lr`` (N, K, 3) always from M^LR, and ``index``,
        ``image_id``, ``center``, ``scale``, ``score``, ``area`` per instance (N, ...).
    """
    from enhancenet_torch.data import build_loader

    loader = build_loader(dataset, cfg.test.batch_size, train=False, workers=min(cfg.train.workers, 2))
    model.eval()
    batches = ((b["image"].to(device), {k: _numpy(v) for k, v in b["meta"].items()}) for b in loader)
    return predict_dataset(batches, lambda images: infer_heatmaps(model, images, cfg), cfg, total=len(loader),
                           progress=progress, max_batches=max_batches)


def evaluate(
    cfg: Config,
    model: nn.Module,
    device: str | torch.device | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    dataset: Any | None = None,
    max_batches: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on the test split of ``cfg`` (COCO/synthetic: AP; MPII: PCKh@0.5; a bottom-up config:
    :func:`evaluate_bottomup`).

    Args:
        cfg: the experiment config (``data``, ``test``).
        model: the network (its ``forward`` returns ``{"lr"[, "hr"]}``); it is put in eval mode.
        device: where to run (default: the model's device).
        out_dir: where results are written (a temporary directory when ``None``; nothing is kept then).
        progress: a progress bar.
        dataset: the test set (default: the core ``PoseDataset`` of ``cfg``'s test split).
        max_batches: stop after this many batches (smoke tests).
        checkpoint: recorded in ``results.json``.

    Returns:
        dict with ``metric`` and ``metric_name`` (the primary metric), ``coco`` (``coco_pycocotools`` with the check) or
        ``pckh``, ``num_instances``, ``heatmaps`` ("hr" or "lr"), ``seconds``, ``results_json``.
    """
    from enhancenet_torch.data import build_pose_dataset

    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(dev)
    if is_bottom_up(cfg):
        return evaluate_bottomup(cfg, model, dev, out_dir, dataset=dataset, max_images=max_batches,
                                 checkpoint=checkpoint)  # fmt: skip
    if dataset is None:
        dataset = build_pose_dataset(cfg, train=False)
    t0 = time.perf_counter()
    pred = run_inference(model, dataset, cfg, dev, progress=progress, max_batches=max_batches)
    seconds = time.perf_counter() - t0
    return finish_evaluation(pred, cfg, dataset.records, out_dir, framework="torch", versions=torch_versions(),
                             checkpoint=checkpoint, seconds=seconds)


def bottomup_forward(model: nn.Module, device: torch.device) -> ForwardFn:
    """The AE model as the runtime's ``forward``: NumPy images -> NumPy outputs (``lr``, ``tags``, ``hr``)."""

    @torch.no_grad()
    def forward(images: np.ndarray) -> dict[str, Any]:
        out = model(torch.from_numpy(images).to(device))
        return {k: [t.float().cpu().numpy() for t in v] if isinstance(v, (list, tuple)) else v.float().cpu().numpy()
                for k, v in out.items() if k in ("lr", "hr", "tags")}  # fmt: skip

    return forward


def evaluate_bottomup(
    cfg: Config,
    model: nn.Module,
    device: torch.device,
    out_dir: str | os.PathLike[str] | None = None,
    dataset: Any | None = None,
    max_images: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Bottom-up AP of an AE ``model`` on the test split's whole images: the runtime's evaluator
    (:func:`enhancenet_runtime.engine.bottomup_run.finish_bottomup_evaluation`: flip test and scales per
    ``bottomup``, grouping, back-projection, COCO AP, ``results.json``) on this model's maps (M^HR with the
    head and ``test.use_hr``, the last stack's LR tags)."""
    from enhancenet_torch.data import build_pose_dataset

    model.eval()
    core = dataset if dataset is not None else build_pose_dataset(cfg, train=False).core
    return finish_bottomup_evaluation(cfg, getattr(core, "core", core), model_maps_fn(bottomup_forward(model, device), cfg),
                                      out_dir, framework="torch", versions=torch_versions(), checkpoint=checkpoint,
                                      max_images=max_images)  # fmt: skip


def evaluate_checkpoint(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Build the model of ``cfg``, load ``checkpoint`` (a ``.safetensors`` checkpoint or weights; its architecture is checked
    first) and :func:`evaluate` it."""
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.device import resolve_device
    from enhancenet_torch.models import build_model

    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    return evaluate(cfg, model, device=resolve_device(device), out_dir=out_dir, progress=progress,
                    max_batches=max_batches, checkpoint=checkpoint)
