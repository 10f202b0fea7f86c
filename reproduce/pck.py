"""PCK normalised by the person box, from an evaluation's ``predictions.npz`` and the ground truth.

A keypoint is correct when its distance to the ground truth is at most ``threshold × box size``, with box
size = ``max(w, h)`` of the annotation's box (the usual top-down PCK normalisation, e.g. mmpose's
``PCKAccuracy`` with ``norm_item='bbox'``); only labelled keypoints count. "Mean" pools every labelled
keypoint of every instance (as MPII's PCKh mean does, weighted by counts).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["COCO_GROUPS", "PckTable", "ground_truth_for", "load_predictions", "pck_curve"]

#: Keypoint groups for Fig. 5 (COCO order): "head" = the five face points (COCO has no head-top).
COCO_GROUPS: dict[str, tuple[int, ...]] = {"head": (0, 1, 2, 3, 4), "ankle": (15, 16)}


@dataclass(frozen=True)
class PckTable:
    """``correct`` (T, K) hits and ``counts`` (K,) labelled keypoints at ``thresholds`` (T,)."""

    thresholds: np.ndarray
    correct: np.ndarray
    counts: np.ndarray

    def mean(self, joints: Sequence[int] | None = None) -> np.ndarray:
        """(T,) PCK pooled over ``joints`` (default: all); NaN where nothing is labelled."""
        sel = slice(None) if joints is None else list(joints)
        n = self.counts[sel].sum()
        return self.correct[:, sel].sum(axis=1) / n if n else np.full(len(self.thresholds), np.nan)

    def at(self, threshold: float, joints: Sequence[int] | None = None) -> float:
        """PCK at one of :attr:`thresholds`."""
        idx = np.flatnonzero(np.isclose(self.thresholds, threshold))
        if idx.size == 0:
            raise ValueError(f"PCK threshold {threshold} not among the computed ones {self.thresholds.tolist()}")
        return float(self.mean(joints)[idx[0]])


def pck_curve(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, box_size: np.ndarray, thresholds: Sequence[float]
) -> PckTable:
    """PCK at each threshold.

    Args:
        pred: (N, K, 2|3) predicted image (x, y[, score]).
        gt: (N, K, 2) ground truth image (x, y).
        visible: (N, K) labelled mask (nonzero = labelled).
        box_size: (N,) normalisation length per instance (> 0).
        thresholds: (T,) fractions of ``box_size``.

    Returns:
        A :class:`PckTable`.
    """
    p = np.asarray(pred, dtype=np.float64)[..., :2]
    g = np.asarray(gt, dtype=np.float64)[..., :2]
    if p.ndim != 3 or p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape}: expected the same (N, K, 2) shape")
    vis = np.asarray(visible) > 0
    size = np.asarray(box_size, dtype=np.float64).reshape(-1)
    if vis.shape != p.shape[:2] or size.shape != (p.shape[0],):
        raise ValueError(f"visible {vis.shape} / box_size {size.shape}: expected ({p.shape[0]}, {p.shape[1]}) / "
                         f"({p.shape[0]},)")
    if np.any(size <= 0):
        raise ValueError("box_size: every normalisation length must be > 0")
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    dist = np.linalg.norm(p - g, axis=-1) / size[:, None]  # (N, K)
    hit = (dist[None] <= t[:, None, None]) & vis[None]  # (T, N, K)
    return PckTable(t, hit.sum(axis=1), vis.sum(axis=0))


def median_error(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, unit: np.ndarray) -> float:
    """Median distance of the labelled keypoints in units of ``unit`` per instance (e.g. one LR heat-map pixel
    in image pixels); ``nan`` when nothing is labelled.

    Args:
        pred: (N, K, 2|3) predicted image (x, y[, score]); gt: (N, K, 2); visible: (N, K); unit: (N,) > 0.
    """
    p = np.asarray(pred, dtype=np.float64)[..., :2]
    g = np.asarray(gt, dtype=np.float64)[..., :2]
    u = np.asarray(unit, dtype=np.float64).reshape(-1)
    if p.shape != g.shape or u.shape != (p.shape[0],) or np.any(u <= 0):
        raise ValueError(f"pred {p.shape}, gt {g.shape}, unit {u.shape}: expected (N, K, 2), (N, K, 2), (N,) > 0")
    vis = np.asarray(visible) > 0
    dist = np.linalg.norm(p - g, axis=-1) / u[:, None]
    return float(np.median(dist[vis])) if vis.any() else float("nan")


def load_predictions(eval_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``predictions.npz`` of an evaluation directory as a dict of arrays."""
    path = Path(eval_dir) / "predictions.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (the evaluation did not write its predictions)")
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def ground_truth_for(ann_file: str | os.PathLike[str], image_ids: np.ndarray, centers: np.ndarray) -> tuple:
    """Ground truth of each predicted instance of a ground-truth-box evaluation.

    The evaluation writes ``image_id`` and ``center`` per instance; each is matched to the annotation of that
    image whose box centre (x + w/2, y + h/2, HRNet's centre before the 1-px shrink) is nearest.

    Returns:
        ``gt`` (N, K, 2), ``visible`` (N, K) bool, ``box_size`` (N,) = max(w, h).
    """
    import json

    data = json.loads(Path(ann_file).read_text(encoding="utf-8"))
    anns = [a for a in data["annotations"] if not a.get("iscrowd", 0) and a.get("num_keypoints", 1) > 0]
    ids = np.asarray([a["image_id"] for a in anns])
    boxes = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    kps = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
    ctr = boxes[:, :2] + boxes[:, 2:] / 2
    img = np.asarray(image_ids).reshape(-1)
    c = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    d = np.linalg.norm(c[:, None] - ctr[None], axis=-1) + np.where(img[:, None] == ids[None], 0.0, np.inf)
    match = np.argmin(d, axis=1)
    if np.any(~np.isfinite(d[np.arange(len(img)), match])):
        raise ValueError(f"{ann_file}: some predicted image ids have no annotation")
    return kps[match, :, :2], kps[match, :, 2] > 0, boxes[match, 2:].max(axis=1)
