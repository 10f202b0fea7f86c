"""Top-down evaluation in Paddle: run the network (and the flipped pass), then hand NumPy maps to enhancenet-core.

This module only runs the network (the ``forward``/``flip`` hooks of :mod:`enhancenet_runtime.engine.prediction`).
The batch loop, flip-test merging (pairs swapped, the ``test.flip_shift`` rule for each map's own stride),
decoding through the codecs (LR or HR maps), COCO AP (rescoring, OKS-NMS, pycocotools and ours), MPII PCKh and
``results.json`` are the runtime's (:mod:`enhancenet_runtime.engine.prediction`,
:func:`enhancenet_runtime.engine.evaluation.finish_evaluation`), so every framework reports the same numbers
from the same maps.

Outputs in ``out_dir``: ``keypoints_<test_set>_results.json`` (COCO), ``predictions.npz`` (``preds`` (N, K, 3)
image (x, y, score) before NMS, ``preds_lr``, and the instance metadata) and ``results.json`` (metrics, config,
checkpoint, git commit, ``framework: "paddle"`` and the versions), written atomically.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import Config
from enhancenet_paddle.predictor import infer_heatmaps, select_infer
from enhancenet_runtime.engine.bottomup_run import ForwardFn, finish_bottomup_evaluation, model_maps_fn
from enhancenet_runtime.engine.data import is_bottom_up
from enhancenet_runtime.engine.evaluation import finish_evaluation
from enhancenet_runtime.engine.prediction import predict_dataset

__all__ = ["bottomup_forward", "evaluate", "evaluate_bottomup", "evaluate_checkpoint", "infer_heatmaps", "run_inference", "versions"]


def versions() -> dict[str, str]:
    """The versions recorded in ``results.json``: enhancenet-paddle, enhancenet-core and paddlepaddle."""
    import enhancenet_core
    import enhancenet_paddle

    return {
        "enhancenet_paddle": enhancenet_paddle.__version__,
        "enhancenet_core": getattr(enhancenet_core, "__version__", "unknown"),
        "paddlepaddle": paddle.__version__,
    }


def run_inference(
    model: nn.Layer, dataset: Any, cfg: Config, progress: bool = True, max_batches: int | None = None,
    engine: str | None = None,
) -> dict[str, np.ndarray]:
    """Predict every instance of a test ``dataset`` (a :class:`~enhancenet_paddle.data.PaddlePoseDataset`), through
    the ``engine`` of :func:`enhancenet_paddle.predictor.select_infer` (default ``auto``: Paddle Inference with
    oneDNN on the CPU, dygraph on a GPU).

    Returns:
        :func:`enhancenet_runtime.engine.prediction.predict_dataset`: ``preds`` (N, K, 3), ``preds_lr``
        (N, K, 3), ``index``, ``image_id``, ``center``, ``scale``, ``score``, ``area``.
    """
    from enhancenet_paddle.data import build_loader, to_numpy

    infer = select_infer(model, cfg, engine)  # before the loader's workers start: the export takes a while
    loader = build_loader(dataset, cfg.test.batch_size, train=False, workers=min(cfg.train.workers, 2))
    on_cpu = paddle.get_device().startswith("cpu")
    batches = ((b["image"] if on_cpu else b["image"].cuda(), {k: to_numpy(v) for k, v in b["meta"].items()})
               for b in loader)
    return predict_dataset(batches, infer, cfg, total=len(loader.batch_sampler), progress=progress, max_batches=max_batches)


def evaluate(
    cfg: Config,
    model: nn.Layer,
    device: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    dataset: Any | None = None,
    max_batches: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on the test split of ``cfg`` (COCO/synthetic: AP; MPII: PCKh@0.5; a bottom-up config:
    :func:`evaluate_bottomup`, in dygraph).

    Args:
        cfg: the experiment config (``data``, ``test``).
        model: the network (``forward`` returns ``{"lr"[, "hr"]}``); it is put in eval mode.
        device: ``"cpu"``/``"gpu[:N]"`` to run on (default: Paddle's current device).
        out_dir: where results are written (a temporary directory when ``None``; nothing is kept then).
        progress: a progress bar.
        dataset: the test set (default: the core ``PoseDataset`` of ``cfg``'s test split).
        max_batches: stop after this many batches (smoke tests).
        checkpoint: recorded in ``results.json``.
        engine: ``auto`` (default), ``inference`` or ``dygraph`` (:mod:`enhancenet_paddle.predictor`).

    Returns:
        dict with ``metric`` and ``metric_name``, ``coco`` (+ ``coco_pycocotools``) or ``pckh``, ``num_instances``,
        ``heatmaps`` ("hr" or "lr"), ``seconds``, ``results_json``.
    """
    from enhancenet_paddle.data import build_pose_dataset

    if device is not None:
        from enhancenet_paddle.device import resolve_device

        paddle.set_device(resolve_device(device))
    if is_bottom_up(cfg):
        return evaluate_bottomup(cfg, model, out_dir, dataset=dataset, max_images=max_batches, checkpoint=checkpoint)
    if dataset is None:
        dataset = build_pose_dataset(cfg, train=False)
    t0 = time.perf_counter()
    pred = run_inference(model, dataset, cfg, progress=progress, max_batches=max_batches, engine=engine)
    seconds = time.perf_counter() - t0
    return finish_evaluation(pred, cfg, dataset.records, out_dir, framework="paddle", versions=versions(),
                             checkpoint=checkpoint, seconds=seconds)


def bottomup_forward(model: nn.Layer) -> ForwardFn:
    """The AE model as the runtime's ``forward``: NumPy images -> NumPy outputs (``lr``, ``tags``, ``hr``)."""

    @paddle.no_grad()
    def forward(images: np.ndarray) -> dict[str, Any]:
        out = model(paddle.to_tensor(images))
        return {k: [t.astype("float32").numpy() for t in v] if isinstance(v, (list, tuple))
                else v.astype("float32").numpy() for k, v in out.items() if k in ("lr", "hr", "tags")}  # fmt: skip

    return forward


def evaluate_bottomup(
    cfg: Config,
    model: nn.Layer,
    out_dir: str | os.PathLike[str] | None = None,
    dataset: Any | None = None,
    max_images: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Bottom-up AP of an AE ``model`` on the test split's whole images (the runtime's
    :func:`~enhancenet_runtime.engine.bottomup_run.finish_bottomup_evaluation` on this model's maps)."""
    from enhancenet_paddle.data import build_pose_dataset

    model.eval()
    core = dataset if dataset is not None else build_pose_dataset(cfg, train=False)
    return finish_bottomup_evaluation(cfg, getattr(core, "core", core), model_maps_fn(bottomup_forward(model), cfg),
                                      out_dir, framework="paddle", versions=versions(), checkpoint=checkpoint,
                                      max_images=max_images)  # fmt: skip


def evaluate_checkpoint(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    progress: bool = True,
    max_batches: int | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Build the model of ``cfg``, load ``checkpoint`` (a ``.safetensors`` training checkpoint or weights; its
    architecture is checked first) and :func:`evaluate` it."""
    from enhancenet_paddle.checkpoint import load_model_weights
    from enhancenet_paddle.device import resolve_device
    from enhancenet_paddle.models import build_model

    paddle.set_device(resolve_device(device))
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    return evaluate(cfg, model, out_dir=out_dir, progress=progress, max_batches=max_batches, checkpoint=checkpoint,
                    engine=engine)
