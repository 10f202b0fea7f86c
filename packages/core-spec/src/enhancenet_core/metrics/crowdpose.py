"""CrowdPose keypoint AP by the rules of the official CrowdPose API (``crowdposetools``), on our evaluator.

The CrowdPose API's ``COCOeval`` is pycocotools' keypoint evaluation with these differences (read from
``Jeff-sjtu/CrowdPose``, ``crowdpose-api/PythonAPI/crowdposetools/cocoeval.py``):

* **OKS area.** OKS divides by ``0.53 · w · h`` of the ground truth's ``bbox`` (plus ``np.spacing(1)``),
  not by its ``area`` field; the ground truth's area-range test uses the same ``0.53 · w · h``.
  (Detections keep the area ``loadRes`` gives them, as in pycocotools.)
* **Sigmas.** The 14 CrowdPose σ are fixed in the code (``[.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
  .87, .89, .89, .79, .79] / 10``); here they come from the data-set row (the shipped ``crowdpose`` row has
  exactly these).
* **Summary.** ``AP, AP50, AP75, AR, AR50, AR75`` over all images (area ``all``, maxDets 20), then
  ``AP easy / medium / hard``: the images of the ground-truth file are split by their ``crowdIndex``
  (``images[i]["crowdIndex"]``): easy ``< 0.2``, medium ``0.2 ≤ c < 0.8``, hard ``≥ 0.8`` (the code calls
  ``get_type_result(first=0.2, second=0.8)``; the paper's text says 0.1, the code decides), the evaluation is
  rerun on each subset's image ids, and the value is ``round(mean(precision[:, :, :, area all, :]), 4)``:
  a plain mean over all OKS thresholds, recall points and categories *including* the ``-1`` entries of
  categories without ground truth (so a subset without any usable ground truth gives ``-1``).

So the numbers here are our COCO evaluator (pycocotools' numbers) run on a copy of the ground truth whose
annotations have ``area = 0.53 · w · h``, once on all images and once per crowd-index subset (images and
results restricted to it). The easy/medium/hard values are returned unrounded (the API prints
``round(..., 4)``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from enhancenet_core.metrics.coco import load_coco_gt, load_keypoint_results, resolve_sigmas
from enhancenet_core.metrics.coco_eval import AREA_RANGES, CocoKeypointEvaluator

__all__ = [
    "CROWDPOSE_AREA_FACTOR",
    "CROWDPOSE_STAT_NAMES",
    "CROWD_INDEX_THRESHOLDS",
    "crowd_index_split",
    "crowdpose_ground_truth",
    "evaluate_crowdpose",
    "format_crowdpose_stats",
]

#: The CrowdPose API's OKS area: ``0.53 · w · h`` of the ground-truth box.
CROWDPOSE_AREA_FACTOR: float = 0.53
#: (easy/medium, medium/hard) crowd-index bounds of the API's summary: easy < 0.2 <= medium < 0.8 <= hard.
CROWD_INDEX_THRESHOLDS: tuple[float, float] = (0.2, 0.8)
#: The statistics the API's ``summarize()`` reports for keypoints, in its order.
CROWDPOSE_STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")
_SUBSETS = ("easy", "medium", "hard")


def crowd_index_split(
    gt: Mapping[str, Any], thresholds: tuple[float, float] = CROWD_INDEX_THRESHOLDS
) -> dict[str, list[Any]]:
    """Image ids of the ground truth by crowd index: ``{"easy": [...], "medium": [...], "hard": [...]}`` in file
    order (easy ``c < t0``, medium ``t0 <= c < t1``, hard otherwise).

    Raises:
        ValueError: an image without a finite numeric ``crowdIndex`` (naming the image id).
    """
    first, second = thresholds
    out: dict[str, list[Any]] = {name: [] for name in _SUBSETS}
    for img in gt["images"]:
        c = img.get("crowdIndex")
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            raise ValueError(
                f"ground truth image {img.get('id')}: expected a number 'crowdIndex' (the CrowdPose "
                f"easy/medium/hard split needs one per image), got {c!r}"
            )
        out["easy" if c < first else "medium" if c < second else "hard"].append(img["id"])
    return out


def crowdpose_ground_truth(gt: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a COCO keypoint ground truth whose annotations have ``area = 0.53 · w · h`` of their
    ``bbox`` (the CrowdPose API's OKS and area-range area).

    Raises:
        ValueError: an annotation without a ``[x, y, w, h]`` box (naming it).
    """
    anns = []
    for i, ann in enumerate(gt["annotations"]):
        box = ann.get("bbox")
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise ValueError(
                f"ground truth annotation #{i} (id {ann.get('id')}): the CrowdPose AP needs 'bbox' [x, y, w, h] "
                f"(its OKS area is 0.53 * w * h), got {box!r}"
            )
        anns.append({**ann, "area": float(box[3]) * float(box[2]) * CROWDPOSE_AREA_FACTOR})
    return {**gt, "annotations": anns}


def _subset_ap(gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], ids: list[Any], sigmas: Any) -> float:
    """The API's ``get_type_result`` value of one subset (unrounded): mean of precision[:, :, :, all]."""
    if not ids:
        return -1.0  # no image: every precision entry stays -1
    keep = set(ids)
    sub = {
        **gt,
        "images": [img for img in gt["images"] if img["id"] in keep],
        "annotations": [a for a in gt["annotations"] if a.get("image_id") in keep],
    }
    sub_results = [r for r in results if r["image_id"] in keep]
    ev = CocoKeypointEvaluator(sub, sigmas=sigmas)
    if sub_results:
        return float(np.mean(ev.evaluate(sub_results).precision[:, :, :, 0]))
    # No detection in the subset: precision is 0 for a category with usable ground truth, else -1.
    lo, hi = AREA_RANGES[0]
    usable = {
        a["category_id"]
        for a in ev.gt_annotations
        if not a["iscrowd"] and a["num_keypoints"] != 0 and lo <= a["area"] <= hi
    }
    return float(np.mean([0.0 if c in usable else -1.0 for c in ev.category_ids.tolist()]))


def evaluate_crowdpose(
    gt: str | os.PathLike | Mapping[str, Any],
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    sigmas: Any = "crowdpose",
    thresholds: tuple[float, float] = CROWD_INDEX_THRESHOLDS,
) -> dict[str, float]:
    """The CrowdPose API's keypoint statistics (:data:`CROWDPOSE_STAT_NAMES`) of a result set.

    Args:
        gt: COCO-format ground truth (path or dict) whose ``images`` carry ``crowdIndex``.
        results: COCO keypoint results (path or list).
        sigmas: per-keypoint σ (K numbers) or a preset name; default the CrowdPose API's 14.
        thresholds: the easy/medium and medium/hard crowd-index bounds (the API's 0.2, 0.8).

    Raises:
        ValueError / FileNotFoundError: bad files (one line naming the entry), an image without
            ``crowdIndex``, an annotation without ``bbox``.
    """
    gt_data = crowdpose_ground_truth(load_coco_gt(gt))
    split = crowd_index_split(gt_data, thresholds)
    sig = resolve_sigmas(gt_data, sigmas)
    res = load_keypoint_results(results, gt_data, int(sig.size))
    stats = CocoKeypointEvaluator(gt_data, sigmas=sig).evaluate(res).stats
    out = {name: stats[name] for name in ("AP", "AP50", "AP75", "AR", "AR50", "AR75")}
    for name in _SUBSETS:
        out[f"AP_{name}"] = _subset_ap(gt_data, res, split[name], sig)
    out.update({f"num_images_{name}": float(len(split[name])) for name in _SUBSETS})
    return out


_LABELS = {
    "AP": "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]",
    "AP50": "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ]",
    "AP75": "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets= 20 ]",
    "AR": "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]",
    "AR50": "Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets= 20 ]",
    "AR75": "Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets= 20 ]",
    "AP_easy": "Average Precision  (AP) @[ IoU=0.50:0.95 | type=  easy | maxDets= 20 ]",
    "AP_medium": "Average Precision  (AP) @[ IoU=0.50:0.95 | type=medium | maxDets= 20 ]",
    "AP_hard": "Average Precision  (AP) @[ IoU=0.50:0.95 | type=  hard | maxDets= 20 ]",
}


def format_crowdpose_stats(stats: Mapping[str, float]) -> str:
    """The statistics in the layout of the API's ``summarize()`` (3 decimals)."""
    return "\n".join(f" {_LABELS[name]} = {stats[name]:0.3f}" for name in CROWDPOSE_STAT_NAMES)
