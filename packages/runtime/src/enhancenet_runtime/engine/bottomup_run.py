"""Bottom-up evaluation around a framework's network: its outputs -> ``maps_fn`` -> grouping -> AP, ``results.json``.

A framework hands over ``forward(images) -> outputs``: ``images`` ``(N, 3, H, W)`` float32 NumPy (pixels / 255,
whole-image inputs of :func:`enhancenet_runtime.engine.bottomup_eval.predict_people`), ``outputs`` the AE
model's dict as NumPy arrays (``"lr"`` (N, K, h, w) last stack's detections, ``"tags"`` every stack's (N, K, h, w)
tag maps, ``"hr"`` (N, K, r·h, r·w) M^HR with the head). :func:`model_maps_fn` turns it into the evaluator's
``maps_fn``: the detections are M^HR when the head is on and ``test.use_hr`` (else M^LR), the tags the last
stack's LR map (pose-ae-train reads the last stack only; the head leaves the tag branch alone). Flip test and
scales follow ``bottomup.flip_test`` / ``bottomup.scales`` inside the evaluator, the same for every framework.

:func:`finish_bottomup_evaluation` is the tail of every framework's ``evaluate`` for a bottom-up config: the
evaluator on the test split's images, then ``keypoints_results.json`` (COCO results) and ``results.json``
(``metric_name`` ``AP``, the COCO statistics, counts, framework, versions, checkpoint, commit, config), atomically.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from enhancenet_core.config import Config, config_to_dict
from enhancenet_runtime.data.bottomup import BottomUpRecord
from enhancenet_runtime.engine.bottomup_eval import MapsFn, evaluate_bottomup
from enhancenet_runtime.engine.io import atomic_write_json, git_commit

__all__ = ["ForwardFn", "finish_bottomup_evaluation", "model_maps_fn", "uses_hr"]

ForwardFn = Callable[[NDArray[np.float32]], Mapping[str, Any]]


def uses_hr(cfg: Config) -> bool:
    """Whether the detections grouped are M^HR (head on and ``test.use_hr``), else M^LR."""
    return bool(cfg.model.head.enabled and cfg.test.use_hr)


def model_maps_fn(forward: ForwardFn, cfg: Config) -> MapsFn:
    """The evaluator's ``maps_fn`` of a network (module docstring).

    Raises (when called):
        ValueError: outputs without ``"tags"`` (not an AE model) or without ``"hr"`` when M^HR is to be read.
    """
    hr = uses_hr(cfg)

    def maps(images: NDArray[np.float32], record: BottomUpRecord) -> tuple[NDArray, NDArray]:
        out = forward(np.ascontiguousarray(images, dtype=np.float32))
        if "tags" not in out:
            raise ValueError("the model's outputs have no 'tags': bottom-up evaluation needs an AE model "
                             "(model.base.name: ae_hourglass)")  # fmt: skip
        if hr and "hr" not in out:
            raise ValueError("the model's outputs have no 'hr' but model.head.enabled and test.use_hr are set")
        tags = out["tags"]
        tag = tags[-1] if isinstance(tags, (list, tuple)) else tags
        return np.asarray(out["hr" if hr else "lr"]), np.asarray(tag)

    return maps


def finish_bottomup_evaluation(
    cfg: Config,
    dataset: Any,
    maps_fn: MapsFn,
    out_dir: str | os.PathLike[str] | None,
    *,
    framework: str,
    versions: Mapping[str, str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    max_images: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``maps_fn`` on the images of ``dataset`` (a test :class:`~enhancenet_runtime.data.bottomup.
    BottomUpDataset` with ``records`` and ``ann_file``) and write the results into ``out_dir`` (a temporary
    directory, removed afterwards, when ``None``).

    Returns:
        ``metric`` (AP) / ``metric_name`` ("AP"), ``coco`` (the ten statistics; ``coco_pycocotools`` too with
        ``test.check_pycocotools``), ``num_images``, ``num_people`` (persons predicted), ``heatmaps`` ("hr" or
        "lr"), ``seconds``, ``results_json``.

    Raises:
        ValueError: ``dataset`` has no annotation file, or ``max_images`` < 1.
    """
    ann_file = getattr(dataset, "ann_file", None)
    if ann_file is None:
        raise ValueError("bottom-up evaluation: the data set has no 'ann_file' (the ground truth to score against)")
    records = list(dataset.records)
    if max_images is not None:
        if int(max_images) < 1:
            raise ValueError(f"max_images: expected None or an integer >= 1, got {max_images!r}")
        records = records[: int(max_images)]
    with tempfile.TemporaryDirectory(prefix="enhancenet-eval-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        res = evaluate_bottomup(records, maps_fn, cfg, ann_file, out / "keypoints_results.json",
                                check_pycocotools=cfg.test.check_pycocotools)  # fmt: skip
        metrics: dict[str, Any] = {
            "metric": float(res.stats["AP"]),
            "metric_name": "AP",
            "coco": {k: float(v) for k, v in res.stats.items()},
            "num_images": len(records),
            "num_people": int(sum(res.people_per_image.values())),
            "heatmaps": "hr" if uses_hr(cfg) else "lr",
            "seconds": round(time.perf_counter() - t0, 3),
        }
        if res.pycocotools_stats is not None:
            metrics["coco_pycocotools"] = {k: float(v) for k, v in res.pycocotools_stats.items()}
        record = {
            "metric_name": "AP",
            "metric": metrics["metric"],
            "metrics": {k: v for k, v in metrics.items() if k not in ("metric", "metric_name")},
            "framework": framework,
            "versions": dict(versions or {}),
            "checkpoint": str(checkpoint) if checkpoint is not None else None,
            "git_commit": git_commit(),
            "config": config_to_dict(cfg),
        }
        metrics["results_json"] = atomic_write_json(out / "results.json", record)
    return metrics
