"""Top-down evaluation after the network: flip-test merging, decoding, collecting, metrics, ``results.json``.

A framework runs its network on a batch of patches (and, with flip test, on the horizontally flipped patches)
and hands the heat maps over as NumPy arrays; everything else is here, once, so every framework reports the
same numbers from the same maps:

1. :func:`merge_flip_test`: flip the maps of the flipped patch back (swap ``flip_pairs``), shift them by
   :func:`enhancenet_core.coordinates.flip_shift_pixels` for *that map's own stride* (so M^LR and M^HR each get
   their own correction; 0 in the unbiased convention) and average;
2. :func:`decode_to_image`: the configured decoder (σ_HR = r·σ sets the DARK kernel on M^HR) and the map back to
   image pixels through center/scale;
3. :class:`PredictionCollector`: per-batch decoded predictions and instance metadata → arrays;
4. :func:`compute_metrics`: COCO (rescoring, OKS-NMS, AP through pycocotools and our evaluator) or MPII PCKh;
5. :func:`write_evaluation`: ``predictions.npz`` and ``results.json`` (metrics, config, checkpoint, git commit,
   framework and versions), written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config, config_to_dict
from enhancenet_core.conventions import Decoder
from enhancenet_core.coordinates import FlipShiftRule, flip_shift_pixels
from enhancenet_core.datasets import Metric, dataset_info
from enhancenet_runtime.engine.io import atomic_write_bytes, atomic_write_json, git_commit

__all__ = [
    "PredictionCollector",
    "compute_metrics",
    "decode_pose_maps",
    "decode_to_image",
    "flip_back_maps",
    "merge_flip_test",
    "use_hr",
    "write_evaluation",
]


def flip_back_maps(maps: np.ndarray, cfg: Config, rule: FlipShiftRule = FlipShiftRule.HRNET) -> np.ndarray:
    """Flip the (N, K, H, W) maps of a horizontally flipped patch back (swapping ``data.flip_pairs``) and, with
    ``test.shift_heatmap``, shift them right by the convention's correction for this map's stride: LEGACY with the
    HRNET rule gives HRNet's 1 px on a stride-4 M^LR and 0 px on a stride-1 M^HR (r = 4); UNBIASED gives 0."""
    from enhancenet_core.flip import flip_back, flip_shift

    back = flip_back(maps, cfg.data.flip_pairs)
    if cfg.test.shift_heatmap:
        pixels = flip_shift_pixels(cfg.target.convention, cfg.model.input_size, (maps.shape[3], maps.shape[2]), rule)
        if pixels:
            back = flip_shift(back, pixels)
    return back


def merge_flip_test(
    maps: Mapping[str, np.ndarray],
    flipped_maps: Mapping[str, np.ndarray] | None,
    cfg: Config,
    rule: FlipShiftRule = FlipShiftRule.HRNET,
) -> dict[str, np.ndarray]:
    """Average each map of ``maps`` ({"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}) with the same map of the flipped
    patch flipped back (:func:`flip_back_maps`); returns float32 copies. ``flipped_maps=None`` (no flip test)
    returns the maps unchanged (as float32)."""
    out = {k: np.asarray(v, dtype=np.float32) for k, v in maps.items()}
    if flipped_maps is None:
        return out
    for key in out:
        if key not in flipped_maps:
            raise ValueError(f"flip test: the flipped pass has no {key!r} maps (got {sorted(flipped_maps)})")
        back = flip_back_maps(np.asarray(flipped_maps[key], dtype=np.float32), cfg, rule)
        out[key] = (out[key] + back) * np.float32(0.5)
    return out


def use_hr(cfg: Config, maps: Mapping[str, np.ndarray]) -> bool:
    """Whether M^HR is the map to decode: ``test.use_hr``, the head enabled, and HR maps present."""
    return bool(cfg.test.use_hr and cfg.model.head.enabled and "hr" in maps)


def decode_to_image(
    heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray, cfg: Config, hr: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decode (N, K, H, W) maps with the configured decoder and map them to image pixels.

    ``test.post_process: false`` means plain argmax (HRNet's switch); σ is ``target.sigma`` for M^LR and
    ``upscale × sigma`` for M^HR (Eq. 6), which sets the DARK blur kernel.

    Returns:
        ``preds`` (N, K, 2) image (x, y) and ``maxvals`` (N, K, 1).
    """
    from enhancenet_core.decoders import get_final_preds

    decoder = Decoder(cfg.test.decoder) if cfg.test.post_process else Decoder.ARGMAX
    sigma = cfg.target.sigma * (cfg.model.head.upscale if hr else 1)
    return get_final_preds(
        heatmaps, center, scale, decoder, cfg.target.convention, cfg.model.input_size, sigma=sigma,
        pixel_std=cfg.data.pixel_std,
    )


def decode_pose_maps(
    maps: Mapping[str, np.ndarray], center: np.ndarray, scale: np.ndarray, cfg: Config
) -> dict[str, np.ndarray]:
    """Decode every map of ``maps`` ({"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}) to image keypoints.

    Returns:
        ``{"lr": (N, K, 3)[, "hr": (N, K, 3)]}``: image (x, y, score) decoded from each map on its own (σ and
        the DARK kernel of that map, :func:`decode_to_image`).
    """
    out = {}
    for key, value in maps.items():
        preds, maxvals = decode_to_image(np.asarray(value), center, scale, cfg, hr=key == "hr")
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
        self._chunks: dict[str, list[np.ndarray]] = {}

    def add(self, maps: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        center = np.asarray(meta["center"], dtype=np.float64)
        scale = np.asarray(meta["scale"], dtype=np.float64)
        hr = use_hr(self.cfg, maps)
        preds, maxvals = decode_to_image(maps["hr" if hr else "lr"], center, scale, self.cfg, hr)
        entries = {"preds": np.concatenate([preds, maxvals], axis=2)}
        if hr:
            lr_preds, lr_max = decode_to_image(maps["lr"], center, scale, self.cfg, False)
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
    stats = evaluate_with_pycocotools(ann_file, res_file, sigmas=sigmas)
    ours = evaluate_coco(ann_file, res_file, sigmas=sigmas)
    return {
        "coco": stats,
        "coco_ours": ours,
        "metric_name": "AP",
        "metric": stats["AP"],
        "results_file": res_file,
        "num_results": len(results),
    }


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
    rescoring + OKS-NMS, the results file, AP with the row's OKS σ through pycocotools (``coco``) and ours
    (``coco_ours``); CrowdPose AP (crowdpose): the same plus ``crowdpose``, the CrowdPose API's AP/AR and
    AP easy/medium/hard (primary: ``AP_crowdpose``); PCKh (mpii): from the records' head boxes.
    ``metric``/``metric_name`` is the primary one."""
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
