"""Top-down evaluation after the network: flip-test merging, decoding, collecting, metrics, ``results.json``.

A framework runs its network on a batch of patches (and, with flip test, on the horizontally flipped patches)
and hands the heat maps over as NumPy arrays; everything else is here, once, so every framework reports the
same numbers from the same maps:

1. :func:`merge_flip_test`: flip the maps of the flipped patch back (swap ``flip_pairs``), shift them by the
   ``test.flip_shift`` rule for *that map's own stride* (so M^LR and M^HR each get their own correction; 0 in the
   unbiased convention) and average;
2. :func:`decode_to_image`: the map's codec (:func:`enhancenet_core.codecs.heatmap_codecs`: the configured
   decoder, σ_HR = r·σ for the DARK kernel on M^HR) and the map back to image pixels through center/scale;
3. :class:`PredictionCollector`: per-batch decoded predictions and instance metadata → arrays;
4. :func:`compute_metrics`: COCO (rescoring, OKS-NMS, AP by our evaluator; pycocotools too, as a cross-check,
   with ``test.check_pycocotools``) or MPII PCKh;
5. :func:`write_evaluation`: ``predictions.npz`` and ``results.json`` (metrics, config, checkpoint, git commit,
   framework and versions), written atomically;
6. :func:`finish_evaluation`: 4 and 5 in one call (the tail of every framework's ``evaluate``).

Running the network batch by batch (with the flipped pass) is :mod:`enhancenet_runtime.engine.prediction`.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.config import Config, config_to_dict
from enhancenet_core.datasets import Metric, dataset_info
from enhancenet_runtime.engine.io import atomic_write_bytes, atomic_write_json, git_commit

__all__ = [
    "PredictionCollector",
    "compute_metrics",
    "decode_pose_maps",
    "decode_to_image",
    "finish_evaluation",
    "flip_back_maps",
    "merge_flip_test",
    "use_hr",
    "write_evaluation",
]


def flip_back_maps(maps: np.ndarray, cfg: Config, key: str = "lr") -> np.ndarray:
    """Flip the (N, K, H, W) maps ``key`` ("lr" or "hr") of a horizontally flipped patch back (swapping
    ``data.flip_pairs``) and shift them right by the ``test.flip_shift`` rule for that map's own stride
    (:meth:`enhancenet_core.codecs.GaussianHeatmapCodec.flip_back`): LEGACY with the HRNET rule gives HRNet's
    1 px on a stride-4 M^LR and 0 px on a stride-1 M^HR (r = 4); UNBIASED and the NONE rule give 0."""
    return heatmap_codecs(cfg).of(key).flip_back(maps, cfg.data.flip_pairs)


def merge_flip_test(
    maps: Mapping[str, np.ndarray],
    flipped_maps: Mapping[str, np.ndarray] | None,
    cfg: Config,
) -> dict[str, np.ndarray]:
    """Average each map of ``maps`` ({"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}) with the same map of the flipped
    patch flipped back (:func:`flip_back_maps`); returns float32 copies. ``flipped_maps=None`` (no flip test)
    returns the maps unchanged (as float32)."""
    out = {k: np.asarray(v, dtype=np.float32) for k, v in maps.items()}
    if flipped_maps is None:
        return out
    codecs = heatmap_codecs(cfg)
    for key in out:
        if key not in flipped_maps:
            raise ValueError(f"flip test: the flipped pass has no {key!r} maps (got {sorted(flipped_maps)})")
        back = codecs.of(key).flip_back(np.asarray(flipped_maps[key], dtype=np.float32), cfg.data.flip_pairs)
        out[key] = (out[key] + back) * np.float32(0.5)
    return out


def use_hr(cfg: Config, maps: Mapping[str, np.ndarray]) -> bool:
    """Whether M^HR is the map to decode: ``test.use_hr``, the head enabled, and HR maps present."""
    return bool(cfg.test.use_hr and cfg.model.head.enabled and "hr" in maps)


def decode_to_image(
    heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray, cfg: Config, hr: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decode (N, K, H, W) maps (M^HR when ``hr``, else M^LR) with their codec and map them to image pixels.

    The codec (:func:`enhancenet_core.codecs.heatmap_codecs`) holds the decoder (``test.decoder``; plain argmax
    when ``test.post_process`` is false, HRNet's switch) and σ (``target.sigma`` for M^LR, r·σ for M^HR, Eq. 6),
    which sets the DARK blur kernel.

    Returns:
        ``preds`` (N, K, 2) image (x, y) and ``maxvals`` (N, K, 1).
    """
    return heatmap_codecs(cfg).of("hr" if hr else "lr").decode_to_image(heatmaps, center, scale)


def decode_pose_maps(
    maps: Mapping[str, np.ndarray], center: np.ndarray, scale: np.ndarray, cfg: Config
) -> dict[str, np.ndarray]:
    """Decode every map of ``maps`` ({"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}) to image keypoints.

    Returns:
        ``{"lr": (N, K, 3)[, "hr": (N, K, 3)]}``: image (x, y, score) decoded from each map on its own (σ and
        the DARK kernel of that map, :func:`decode_to_image`).
    """
    codecs = heatmap_codecs(cfg)
    out = {}
    for key, value in maps.items():
        preds, maxvals = codecs.of(key).decode_to_image(np.asarray(value), center, scale)
        out[key] = np.concatenate([preds, maxvals], axis=2)
    return out


class PredictionCollector:
    """Collects decoded predictions batch by batch.

    ``add(maps, meta)`` takes the merged maps of one batch and its metadata (NumPy arrays: ``center`` (B, 2),
    ``scale`` (B, 2), and per instance ``index``, ``image_id``, ``score``, ``area``); ``result()`` returns
    ``preds`` (N, K, 3) image (x, y, score) from the decoded map (HR when used, else LR), ``preds_lr`` (N, K, 3)
    always from M^LR, and the metadata concatenated.
    """

    META_KEYS: tuple[str, ...] = ("index", "image_id", "score", "area")

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.codecs = heatmap_codecs(cfg)
        self._chunks: dict[str, list[np.ndarray]] = {}

    def add(self, maps: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        center = np.asarray(meta["center"], dtype=np.float64)
        scale = np.asarray(meta["scale"], dtype=np.float64)
        hr = use_hr(self.cfg, maps)
        key = "hr" if hr else "lr"
        preds, maxvals = self.codecs.of(key).decode_to_image(maps[key], center, scale)
        entries = {"preds": np.concatenate([preds, maxvals], axis=2)}
        if hr:
            lr_preds, lr_max = self.codecs.lr.decode_to_image(maps["lr"], center, scale)
            entries["preds_lr"] = np.concatenate([lr_preds, lr_max], axis=2)
        else:
            entries["preds_lr"] = entries["preds"]
        for key in self.META_KEYS:
            entries[key] = np.asarray(meta[key])
        entries["center"], entries["scale"] = center, scale
        for key, value in entries.items():
            self._chunks.setdefault(key, []).append(value)

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks.get("preds", []))

    def result(self) -> dict[str, np.ndarray]:
        if not self._chunks:
            raise ValueError("test set: no instances were predicted (check data.test_set and test.bbox_file)")
        return {k: np.concatenate(v) for k, v in self._chunks.items()}


def _coco_metrics(
    pred: Mapping[str, np.ndarray], cfg: Config, records: Sequence[Any], out_dir: Path
) -> dict[str, Any]:
    from enhancenet_core.metrics import (
        evaluate_coco,
        evaluate_with_pycocotools,
        keypoint_results,
        write_keypoint_results,
    )
    from enhancenet_core.metrics.nms import rescore_and_nms
    from enhancenet_runtime.data.coco import coco_split_paths

    ann_file, _ = coco_split_paths(cfg, train=False)
    sigmas = np.asarray(dataset_info(cfg.data.dataset).oks_sigmas, dtype=np.float64)
    keep, scores = rescore_and_nms(
        pred["preds"], pred["score"], pred["area"], pred["image_id"], in_vis_thre=cfg.test.in_vis_thre,
        oks_thre=cfg.test.oks_thre, sigmas=sigmas,  # [datasets] OKS-NMS with the row's σ (any K)
    )
    results = keypoint_results(pred["image_id"][keep], pred["preds"][keep], scores[keep])
    res_file = write_keypoint_results(out_dir / f"keypoints_{cfg.data.test_set}_results.json", results)
    # The list just written, not the file read back: the same numbers (JSON writes Python floats exactly), and
    # parsing 5,000 images' results again took ~a third of the metric stage (benchmarks/core/bench_coco_eval.py).
    stats = evaluate_coco(ann_file, results, sigmas=sigmas)
    out: dict[str, Any] = {
        "coco": stats,
        "metric_name": "AP",
        "metric": stats["AP"],
        "results_file": res_file,
        "num_results": len(results),
    }
    if cfg.test.check_pycocotools:
        reference = evaluate_with_pycocotools(ann_file, results, sigmas=sigmas)
        diff = max(abs(stats[name] - reference[name]) for name in reference)
        out.update(coco_pycocotools=reference, coco_max_abs_diff=float(diff))
        if diff > 1e-9:
            warnings.warn(f"test.check_pycocotools: our COCO numbers differ from pycocotools' by up to {diff:.3g} "
                          f"(AP {stats['AP']} vs {reference['AP']})", RuntimeWarning, stacklevel=2)
    return out


def _mpii_metrics(
    pred: Mapping[str, np.ndarray], cfg: Config, records: Sequence[Any], out_dir: Path
) -> dict[str, Any]:
    from enhancenet_core.metrics.pckh import compute_pckh

    recs = [records[int(i)] for i in pred["index"]]
    heads = [r.extras.get("head_box") for r in recs]
    if any(h is None for h in heads):
        missing = sum(h is None for h in heads)
        raise ValueError(
            f"MPII PCKh needs head boxes: {missing} of {len(recs)} test annotations have no 'head_box' "
            "(HRNet's JSON has none; they are in MPII's gt_valid.mat 'headboxes_src')"
        )
    gt = np.stack([r.joints_xy for r in recs])
    vis = np.stack([r.joints_vis for r in recs])
    boxes = np.asarray(heads, dtype=np.float64).reshape(-1, 2, 2)
    summary = compute_pckh(pred["preds"][..., :2], gt, vis, head_boxes=boxes).as_dict()
    return {"pckh": summary, "metric_name": "PCKh@0.5", "metric": summary["pckh@0.5"]}


def _crowdpose_metrics(  # [datasets] COCO's numbers plus the CrowdPose API's (easy/medium/hard by crowdIndex)
    pred: Mapping[str, np.ndarray], cfg: Config, records: Sequence[Any], out_dir: Path
) -> dict[str, Any]:
    from enhancenet_core.metrics.crowdpose import evaluate_crowdpose
    from enhancenet_runtime.data.coco import coco_split_paths

    out = _coco_metrics(pred, cfg, records, out_dir)
    sigmas = dataset_info(cfg.data.dataset).oks_sigmas
    out["crowdpose"] = evaluate_crowdpose(coco_split_paths(cfg, train=False)[0], out["results_file"], sigmas=sigmas)
    out.update(metric_name="AP_crowdpose", metric=out["crowdpose"]["AP"])
    return out


_METRICS = {Metric.COCO_AP: _coco_metrics, Metric.CROWDPOSE_AP: _crowdpose_metrics, Metric.PCKH: _mpii_metrics}


def compute_metrics(
    pred: Mapping[str, np.ndarray], cfg: Config, records: Sequence[Any], out_dir: str | os.PathLike[str]
) -> dict[str, Any]:
    """The metric of ``cfg.data.dataset``'s row (shipped or a data-set file). COCO AP (coco, synthetic, ochuman):
    rescoring + OKS-NMS, the results file, AP with the row's OKS σ by our evaluator (``coco``) and, with
    ``test.check_pycocotools``, by pycocotools (``coco_pycocotools``, and ``coco_max_abs_diff`` over the ten
    numbers; a ``RuntimeWarning`` above 1e-9); CrowdPose AP (crowdpose): the same plus ``crowdpose``, the
    CrowdPose API's AP/AR and AP easy/medium/hard (primary: ``AP_crowdpose``); PCKh (mpii): from the records'
    head boxes. ``metric``/``metric_name`` is the primary one."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _METRICS[dataset_info(cfg.data.dataset).metric](pred, cfg, records, out)


def write_evaluation(
    out_dir: str | os.PathLike[str],
    pred: Mapping[str, np.ndarray],
    metrics: dict[str, Any],
    cfg: Config,
    *,
    framework: str,
    versions: Mapping[str, str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    seconds: float | None = None,
) -> Path:
    """Write ``predictions.npz`` and ``results.json`` (atomically) into ``out_dir``; returns the JSON path.

    ``results.json`` holds ``metric_name``/``metric``, every other metric under ``metrics``, the framework and
    its versions, the checkpoint, the git commit and the full config. ``metrics`` gains ``num_instances``,
    ``heatmaps`` ("hr" or "lr"), ``seconds`` and ``results_json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **pred)
    atomic_write_bytes(out / "predictions.npz", buf.getvalue())
    metrics.update(
        num_instances=int(pred["preds"].shape[0]),
        heatmaps="hr" if (cfg.test.use_hr and cfg.model.head.enabled) else "lr",
    )
    if seconds is not None:
        metrics["seconds"] = round(float(seconds), 3)
    record = {
        "metric_name": metrics["metric_name"],
        "metric": metrics["metric"],
        "metrics": {k: v for k, v in metrics.items() if k not in ("metric", "metric_name")},
        "framework": framework,
        "versions": dict(versions or {}),
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "git_commit": git_commit(),
        "config": config_to_dict(cfg),
    }
    path = atomic_write_json(out / "results.json", record)
    metrics["results_json"] = path
    return path


def finish_evaluation(
    pred: Mapping[str, np.ndarray],
    cfg: Config,
    records: Sequence[Any],
    out_dir: str | os.PathLike[str] | None,
    *,
    framework: str,
    versions: Mapping[str, str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The tail of every framework's ``evaluate``: :func:`compute_metrics` on ``pred`` (from
    :func:`enhancenet_runtime.engine.prediction.predict_dataset`) with the test set's ``records``, then
    :func:`write_evaluation` into ``out_dir`` (a temporary directory, removed afterwards, when ``None``).

    Returns:
        The metrics: ``metric``/``metric_name``, ``coco`` (+ ``coco_pycocotools``) or ``pckh``, ``num_instances``,
        ``heatmaps`` ("hr" or "lr"), ``seconds``, ``results_json``.
    """
    with tempfile.TemporaryDirectory(prefix="enhancenet-eval-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        metrics = compute_metrics(pred, cfg, records, out)
        write_evaluation(out, pred, metrics, cfg, framework=framework, versions=versions, checkpoint=checkpoint,
                         seconds=seconds)
    return metrics
