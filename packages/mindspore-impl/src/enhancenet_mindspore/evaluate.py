"""Top-down evaluation in MindSpore: run the network (and the flipped pass), hand NumPy maps to the engine.

Only the network runs here (the ``forward``/``flip`` hooks of :mod:`enhancenet_runtime.engine.prediction`). The
batch loop, flip merging (the ``test.flip_shift`` rule for each map's own stride), decoding LR or HR maps to image
pixels through the codecs, rescoring + OKS-NMS, COCO AP / MPII PCKh and ``results.json`` are the runtime's
(:mod:`enhancenet_runtime.engine.prediction`, :func:`enhancenet_runtime.engine.evaluation.finish_evaluation`),
the same code for every framework.

Outputs in ``out_dir`` (written atomically): ``keypoints_<test_set>_results.json`` (COCO), ``predictions.npz``
(``preds`` (N, K, 3) image (x, y, score), ``preds_lr``, instance metadata), ``results.json`` (metrics,
``framework="mindspore"``, versions, config, checkpoint, git commit).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine.bottomup_run import ForwardFn, finish_bottomup_evaluation, model_maps_fn
from enhancenet_runtime.engine.data import is_bottom_up
from enhancenet_runtime.engine.evaluation import finish_evaluation
from enhancenet_runtime.engine.prediction import infer_maps, predict_dataset

__all__ = ["bottomup_forward", "evaluate", "evaluate_bottomup", "evaluate_checkpoint", "forward_maps", "infer_heatmaps", "run_inference", "versions"]


def versions() -> dict[str, str]:
    """Versions recorded in ``results.json``."""
    import enhancenet_mindspore

    return {"mindspore": ms.__version__, "enhancenet-mindspore": enhancenet_mindspore.__version__,
            "numpy": np.__version__}


def forward_maps(model: Callable[[ms.Tensor], Any], images: np.ndarray | ms.Tensor) -> dict[str, np.ndarray]:
    """``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` float32 NumPy maps of (N, 3, H, W) patches."""
    x = images if isinstance(images, ms.Tensor) else ms.Tensor(np.ascontiguousarray(images, dtype=np.float32))
    out = model(x)
    return {k: out[k].asnumpy().astype(np.float32) for k in ("lr", "hr") if k in out}


def infer_heatmaps(
    model: Callable[[ms.Tensor], Any], images: np.ndarray, cfg: Config
) -> dict[str, np.ndarray]:
    """Maps of (N, 3, H, W) patches, with the flip test when ``cfg.test.flip_test`` (the horizontally flipped
    patches run through the network and are merged by :func:`enhancenet_runtime.engine.prediction.infer_maps`)."""
    images = np.ascontiguousarray(images, dtype=np.float32)
    return infer_maps(lambda x: forward_maps(model, x), images, cfg, flip=_mirror)


def _mirror(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) patches mirrored left-right (a contiguous copy)."""
    return np.ascontiguousarray(images[..., ::-1])


def _network(model: nn.Cell, mode: str) -> Callable[[ms.Tensor], Any]:
    if mode not in ("pynative", "graph"):
        raise ValueError(f"mode: expected 'pynative' or 'graph', got {mode!r}")
    model.set_train(False)
    return ms.jit(model.construct) if mode == "graph" else model


def run_inference(
    model: nn.Cell,
    dataset: Any,
    cfg: Config,
    progress: bool = True,
    max_batches: int | None = None,
    mode: str = "pynative",
) -> dict[str, np.ndarray]:
    """Predict every instance of the test ``dataset`` (core ``PoseDataset``); returns
    :func:`enhancenet_runtime.engine.prediction.predict_dataset` (``preds`` (N, K, 3), ``preds_lr``,
    ``index``, ``image_id``, ``center``, ``scale``, ``score``, ``area``)."""
    from enhancenet_mindspore.data import BatchLoader

    loader = BatchLoader(dataset, cfg.test.batch_size, train=False, workers=min(cfg.train.workers, 2))
    net = _network(model, mode)
    batches = ((batch["image"], batch["meta"]) for batch in loader.batches(0))
    return predict_dataset(batches, lambda images: infer_heatmaps(net, images, cfg), cfg, total=len(loader),
                           progress=progress, max_batches=max_batches)


def evaluate(
    cfg: Config,
    model: nn.Cell,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    dataset: Any | None = None,
    max_batches: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    mode: str = "pynative",
) -> dict[str, Any]:
    """Evaluate ``model`` on the test split of ``cfg`` (COCO/synthetic: AP; MPII: PCKh@0.5; a bottom-up config:
    :func:`evaluate_bottomup`, in PYNATIVE mode).

    Args:
        cfg: the experiment config (``data``, ``test``).
        model: the network (``construct`` returns ``{"lr"[, "hr"], ...}``); it is put in inference mode.
        out_dir: where results are written (a temporary directory when ``None``; nothing is kept then).
        progress: a progress bar.
        dataset: the test set (default: the core ``PoseDataset`` of the test split).
        max_batches: stop after this many batches (smoke tests).
        checkpoint: recorded in ``results.json``.
        mode: ``"pynative"`` or ``"graph"`` (the forward compiled with ``mindspore.jit``).

    Returns:
        The metrics: ``metric``/``metric_name``, ``coco`` (+ ``coco_pycocotools``) or ``pckh``, ``num_instances``,
        ``heatmaps`` ("hr" or "lr"), ``seconds``, ``results_json``.
    """
    from enhancenet_mindspore.data import build_pose_dataset

    if is_bottom_up(cfg):
        return evaluate_bottomup(cfg, model, out_dir, dataset=dataset, max_images=max_batches, checkpoint=checkpoint)
    if dataset is None:
        dataset = build_pose_dataset(cfg, train=False)
    t0 = time.perf_counter()
    pred = run_inference(model, dataset, cfg, progress=progress, max_batches=max_batches, mode=mode)
    seconds = time.perf_counter() - t0
    return finish_evaluation(pred, cfg, dataset.records, out_dir, framework="mindspore", versions=versions(),
                             checkpoint=checkpoint, seconds=seconds)


def bottomup_forward(model: Callable[[ms.Tensor], Any]) -> ForwardFn:
    """The AE model as the runtime's ``forward``: NumPy images -> NumPy outputs (``lr``, ``tags``, ``hr``)."""

    def forward(images: np.ndarray) -> dict[str, Any]:
        out = model(ms.Tensor(np.ascontiguousarray(images, dtype=np.float32)))
        return {k: [t.asnumpy().astype(np.float32) for t in v] if isinstance(v, (list, tuple))
                else v.asnumpy().astype(np.float32) for k, v in out.items() if k in ("lr", "hr", "tags")}  # fmt: skip

    return forward


def evaluate_bottomup(
    cfg: Config,
    model: nn.Cell,
    out_dir: str | os.PathLike[str] | None = None,
    dataset: Any | None = None,
    max_images: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Bottom-up AP of an AE ``model`` on the test split's whole images (the runtime's
    :func:`~enhancenet_runtime.engine.bottomup_run.finish_bottomup_evaluation` on this model's maps)."""
    from enhancenet_mindspore.data import build_pose_dataset

    model.set_train(False)
    core = dataset if dataset is not None else build_pose_dataset(cfg, train=False)
    return finish_bottomup_evaluation(cfg, core, model_maps_fn(bottomup_forward(model), cfg), out_dir,
                                      framework="mindspore", versions=versions(), checkpoint=checkpoint,
                                      max_images=max_images)  # fmt: skip


def evaluate_checkpoint(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    progress: bool = True,
    max_batches: int | None = None,
    mode: str = "pynative",
) -> dict[str, Any]:
    """Build the model of ``cfg``, load ``checkpoint`` (training ``.ckpt``, plain ``.ckpt`` weights or canonical
    ``.safetensors``; the architecture is checked first) and :func:`evaluate` it."""
    from enhancenet_mindspore.checkpoint import load_model_weights
    from enhancenet_mindspore.device import resolve_device
    from enhancenet_mindspore.models import build_model

    resolve_device(device)
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    return evaluate(cfg, model, out_dir=out_dir, progress=progress, max_batches=max_batches, checkpoint=checkpoint,
                    mode=mode)
