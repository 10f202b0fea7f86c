"""Top-down evaluation: inference with flip test, decoding (LR or HR maps), COCO AP / MPII PCKh, results JSON.

The numerics are enhancenet-core's: flipping maps back and the flip-test shift (:mod:`enhancenet_core.flip`,
shift derived from the coordinate convention and each map's own stride, so M^LR and M^HR get their own
correction), decoders and the map back to the image (:func:`enhancenet_core.decoders.get_final_preds`),
rescoring + OKS-NMS (:func:`enhancenet_core.metrics.nms.rescore_and_nms`), COCO AP through pycocotools and our
evaluator, MPII PCKh (:func:`enhancenet_core.metrics.pckh.compute_pckh`). This module runs the network and
moves arrays around.

Outputs in ``out_dir``:

* ``keypoints_<test_set>_results.json``: COCO keypoint results (after rescoring and OKS-NMS), COCO only;
* ``predictions.npz``: ``preds`` (N, K, 3) image (x, y, score) for every instance before NMS, and the
  instance metadata (``image_id``, ``center``, ``scale``, ``score``, ``area``);
* ``results.json``: the metrics, the primary ``metric``/``metric_name``, the config, the checkpoint and the git
  commit; written atomically.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from enhancenet_core.config import Config, config_to_dict
from enhancenet_core.conventions import Decoder
from enhancenet_core.coordinates import FlipShiftRule, flip_shift_pixels

__all__ = [
    "decode_heatmaps_to_image",
    "evaluate",
    "evaluate_checkpoint",
    "git_commit",
    "infer_heatmaps",
    "run_inference",
]


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``git rev-parse HEAD`` of the repository holding this file (or ``cwd``), ``None`` when unavailable."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _write_json_atomic(path: Path, obj: Any) -> Path:
    from enhancenet_torch.weights import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=_json_default).encode("utf-8"))
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def _flip_back(maps: np.ndarray, cfg: Config, rule: FlipShiftRule = FlipShiftRule.HRNET) -> np.ndarray:
    """Flip the (N, K, H, W) maps of a flipped patch back (swap ``flip_pairs``) and, with
    ``test.shift_heatmap``, shift them right by :func:`enhancenet_core.coordinates.flip_shift_pixels` for this
    map's own size: LEGACY with the HRNET rule gives HRNet's 1 px on a stride-4 M^LR and 0 px on a stride-1
    M^HR (r = 4); UNBIASED gives 0."""
    from enhancenet_core.flip import flip_back, flip_shift

    back = flip_back(maps, cfg.data.flip_pairs)
    if cfg.test.shift_heatmap:
        pixels = flip_shift_pixels(cfg.target.convention, cfg.model.input_size, (maps.shape[3], maps.shape[2]), rule)
        if pixels:
            back = flip_shift(back, pixels)
    return back


@torch.no_grad()
def infer_heatmaps(
    model: nn.Module, images: torch.Tensor, cfg: Config, flip_rule: FlipShiftRule = FlipShiftRule.HRNET
) -> dict[str, np.ndarray]:
    """Run the model on (N, 3, H, W) patches, with flip test when ``cfg.test.flip_test``.

    Returns:
        ``{"lr": (N, K, h, w)}`` and, when the model has the head, ``"hr": (N, K, rh, rw)``, float32 NumPy:
        the average of the maps of the patch and of its horizontally flipped copy flipped back (with the
        shift of :func:`enhancenet_core.flip.flip_shift` for each map's own stride, rounded as HRNet by
        default; ``flip_rule=FlipShiftRule.EXACT`` interpolates the exact fractional shift).
    """
    out = model(images)
    maps = {k: out[k].float().cpu().numpy() for k in ("lr", "hr") if out.get(k) is not None}
    if cfg.test.flip_test:
        flipped = model(torch.flip(images, dims=[3]))
        for key in list(maps):
            back = _flip_back(flipped[key].float().cpu().numpy(), cfg, flip_rule)
            maps[key] = (maps[key] + back) * np.float32(0.5)
    return maps


def decode_heatmaps_to_image(
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


def _use_hr(cfg: Config, maps: Mapping[str, np.ndarray]) -> bool:
    return bool(cfg.test.use_hr and cfg.model.head.enabled and "hr" in maps)


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
        ``preds`` (N, K, 3) image (x, y, score) from the decoded map (HR when used, else LR), ``preds_lr``
        (N, K, 3) always from M^LR, and ``index``, ``image_id``, ``center``, ``scale``, ``score``, ``area``
        per instance (N, ...).
    """
    from enhancenet_torch.data import build_loader

    loader = build_loader(dataset, cfg.test.batch_size, train=False, workers=min(cfg.train.workers, 2))
    if len(loader) == 0:
        raise ValueError("test set: no instances to evaluate (check data.test_set and test.bbox_file)")
    model.eval()
    chunks: dict[str, list[np.ndarray]] = {}
    iterator: Any = loader
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(loader, desc="eval", dynamic_ncols=True)
    for i, batch in enumerate(iterator):
        if max_batches is not None and i >= max_batches:
            break
        meta = batch["meta"]
        maps = infer_heatmaps(model, batch["image"].to(device), cfg)
        center = meta["center"].numpy().astype(np.float64)
        scale = meta["scale"].numpy().astype(np.float64)
        hr = _use_hr(cfg, maps)
        preds, maxvals = decode_heatmaps_to_image(maps["hr" if hr else "lr"], center, scale, cfg, hr)
        entries = {"preds": np.concatenate([preds, maxvals], axis=2)}
        if hr:
            lr_preds, lr_max = decode_heatmaps_to_image(maps["lr"], center, scale, cfg, False)
            entries["preds_lr"] = np.concatenate([lr_preds, lr_max], axis=2)
        else:
            entries["preds_lr"] = entries["preds"]
        for key in ("index", "image_id", "score", "area"):
            entries[key] = meta[key].numpy()
        entries["center"], entries["scale"] = center, scale
        for key, value in entries.items():
            chunks.setdefault(key, []).append(value)
    return {k: np.concatenate(v) for k, v in chunks.items()}


def _coco_metrics(pred: Mapping[str, np.ndarray], cfg: Config, ann_file: Path, out_dir: Path) -> dict[str, Any]:
    from enhancenet_core.metrics import (
        evaluate_coco,
        evaluate_with_pycocotools,
        keypoint_results,
        write_keypoint_results,
    )
    from enhancenet_core.metrics.nms import rescore_and_nms

    keep, scores = rescore_and_nms(
        pred["preds"], pred["score"], pred["area"], pred["image_id"], in_vis_thre=cfg.test.in_vis_thre,
        oks_thre=cfg.test.oks_thre,
    )
    results = keypoint_results(pred["image_id"][keep], pred["preds"][keep], scores[keep])
    res_file = write_keypoint_results(out_dir / f"keypoints_{cfg.data.test_set}_results.json", results)
    stats = evaluate_with_pycocotools(ann_file, res_file)
    ours = evaluate_coco(ann_file, res_file)
    return {
        "coco": stats,
        "coco_ours": ours,
        "metric_name": "AP",
        "metric": stats["AP"],
        "results_file": res_file,
        "num_results": len(results),
    }


def _mpii_metrics(pred: Mapping[str, np.ndarray], dataset: Any) -> dict[str, Any]:
    from enhancenet_core.metrics.pckh import compute_pckh

    records = [dataset.core.records[int(i)] for i in pred["index"]]
    heads = [r.extras.get("head_box") for r in records]
    if any(h is None for h in heads):
        missing = sum(h is None for h in heads)
        raise ValueError(
            f"MPII PCKh needs head boxes: {missing} of {len(records)} test annotations have no 'head_box' "
            "(HRNet's JSON has none; they are in MPII's gt_valid.mat 'headboxes_src')"
        )
    gt = np.stack([r.joints_xy for r in records])
    vis = np.stack([r.joints_vis for r in records])
    boxes = np.asarray(heads, dtype=np.float64).reshape(-1, 2, 2)
    result = compute_pckh(pred["preds"][..., :2], gt, vis, head_boxes=boxes)
    summary = result.as_dict()
    return {"pckh": summary, "metric_name": "PCKh@0.5", "metric": summary["pckh@0.5"]}


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
    """Evaluate ``model`` on the test split of ``cfg`` (COCO/synthetic: AP; MPII: PCKh@0.5).

    Args:
        cfg: the experiment config (``data``, ``test``).
        model: the network (its ``forward`` returns ``{"lr"[, "hr"]}``); it is put in eval mode.
        device: where to run (default: the model's device).
        out_dir: where results are written (a temporary directory when ``None``; nothing is kept then).
        progress: a tqdm bar.
        dataset: the test set (default: the core ``PoseDataset`` of ``cfg``'s test split).
        max_batches: stop after this many batches (smoke tests).
        checkpoint: recorded in ``results.json``.

    Returns:
        dict with ``metric`` and ``metric_name`` (the primary metric), ``coco`` / ``coco_ours`` or
        ``pckh``, ``num_instances``, ``heatmaps`` ("hr" or "lr"), ``results_json``.
    """
    from enhancenet_core.data import coco_paths
    from enhancenet_torch.data import build_pose_dataset

    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(dev)
    if dataset is None:
        dataset = build_pose_dataset(cfg, train=False)
    t0 = time.perf_counter()
    pred = run_inference(model, dataset, cfg, dev, progress=progress, max_batches=max_batches)
    seconds = time.perf_counter() - t0
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="enhancenet-eval-")
        out = Path(tmp.name)
    else:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    try:
        if cfg.data.dataset in ("coco", "synthetic"):
            ann_file, _ = coco_paths(cfg.data.root, cfg.data.test_set)
            metrics = _coco_metrics(pred, cfg, ann_file, out)
        elif cfg.data.dataset == "mpii":
            metrics = _mpii_metrics(pred, dataset)
        else:
            raise ValueError(f"data.dataset must be 'coco', 'mpii' or 'synthetic', got {cfg.data.dataset!r}")
        np.savez(out / "predictions.npz", **pred)
        metrics.update(
            num_instances=int(pred["preds"].shape[0]),
            heatmaps="hr" if (cfg.test.use_hr and cfg.model.head.enabled) else "lr",
            seconds=round(seconds, 3),
        )
        record = {
            "metric_name": metrics["metric_name"],
            "metric": metrics["metric"],
            "metrics": {k: v for k, v in metrics.items() if k not in ("metric", "metric_name")},
            "checkpoint": str(checkpoint) if checkpoint is not None else None,
            "git_commit": git_commit(),
            "config": config_to_dict(cfg),
        }
        metrics["results_json"] = _write_json_atomic(out / "results.json", record)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return metrics


def evaluate_checkpoint(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Build the model of ``cfg``, load ``checkpoint`` (``.pt`` or ``.safetensors``; its architecture is checked
    first) and :func:`evaluate` it."""
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.models import build_model
    from enhancenet_torch.train import resolve_device

    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    return evaluate(cfg, model, device=resolve_device(device), out_dir=out_dir, progress=progress,
                    max_batches=max_batches, checkpoint=checkpoint)
