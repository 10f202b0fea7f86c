"""COCO keypoint files: reading and checking ground truth and results, writing results atomically,
and the reference evaluation through pycocotools.

Both evaluation back ends (:func:`evaluate_with_pycocotools` and
:class:`enhancenet_core.metrics.coco_eval.CocoKeypointEvaluator`) read their inputs through the functions
here, so they see the same, checked data:

* ground truth ``area`` absent: the box area ``w * h`` is used instead and a warning is logged
  (some skeleton data sets ship without ``area``; pycocotools itself would raise ``KeyError``);
* ``num_keypoints`` absent: the count of labelled keypoints (``v > 0``) is used; ``iscrowd`` absent: 0;
* a result list that is empty, has an entry whose ``keypoints`` length is not 3·K, has no finite ``score``,
  or names an ``image_id`` / ``category_id`` absent from the ground truth is an error naming the entry
  (pycocotools crashes on an empty list and silently drops unknown categories);
* the ground truth is checked by :func:`enhancenet_core.metrics.validation.check_coco_gt` (finite keypoints,
  area > 0, box w, h > 0, unique and known ids): a bad annotation is an error naming the file, the annotation
  and the field, never a number pycocotools would not give.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.files import atomic_write_text
from enhancenet_core.metrics.oks import COCO_SIGMAS, as_sigmas
from enhancenet_core.metrics.validation import (
    check_coco_gt,
    finite_numbers,
    infer_num_keypoints,
    is_member,
    read_json_file,
)

logger = logging.getLogger(__name__)

#: Names of the 10 COCO keypoint statistics, in pycocotools' ``stats`` order.
STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")

#: pycocotools' summary line prefixes for the 10 statistics (``summarize()`` layout).
STAT_LABELS: tuple[str, ...] = (
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]",
    " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ]",
    " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets= 20 ]",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ]",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]",
    " Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets= 20 ]",
    " Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets= 20 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ]",
)

PathLike = str | os.PathLike


def _read_json(path: PathLike, what: str) -> Any:
    return read_json_file(path, what)


def load_coco_gt(gt: PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Read a COCO keypoint ground-truth file (or take its dict) and check its top-level layout.

    Every annotation is checked (:func:`enhancenet_core.metrics.validation.check_coco_gt`: unique ids, known
    image and category, 3·K finite keypoints, area > 0, box w, h > 0); a bad one is a ValueError naming the
    file, the annotation and the field. Returns a dict with ``images``, ``annotations`` and ``categories``
    lists (the input is not modified; the returned dict shares its annotation dicts, so treat it as read-only).
    """
    source = f"ground truth {gt}" if not isinstance(gt, Mapping) else "ground truth dict"
    data = dict(gt) if isinstance(gt, Mapping) else _read_json(gt, "ground truth")
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object with 'images', 'annotations', 'categories'")
    for key in ("images", "annotations", "categories"):
        if key not in data or not isinstance(data[key], list):
            raise ValueError(f"{source}: missing list field '{key}'")
    if not data["images"]:
        raise ValueError(f"{source}: 'images' is empty")
    if not data["categories"]:
        raise ValueError(f"{source}: 'categories' is empty")
    check_coco_gt(data, source)
    return data


def resolve_sigmas(gt: Mapping[str, Any], sigmas: Any = None) -> np.ndarray:
    """σ for a ground truth: the given ones (checked against K), or COCO's when K = 17."""
    k = infer_num_keypoints(gt)
    if sigmas is None:
        if k != COCO_SIGMAS.size:
            raise ValueError(
                f"sigmas: the ground truth has K = {k} keypoints; pass its per-keypoint sigmas "
                "(COCO's 17 are only the default for K = 17)"
            )
        return np.array(COCO_SIGMAS)
    return as_sigmas(sigmas, k)


def normalized_gt_annotations(gt: Mapping[str, Any], num_keypoints: int) -> list[dict[str, Any]]:
    """Annotations of a ground truth checked by :func:`load_coco_gt`, completed (shallow copies).

    Completes ``area`` (box area, with a warning), ``num_keypoints`` and ``iscrowd`` when absent.
    """
    source = "ground truth"
    out: list[dict[str, Any]] = []
    n_area_fallback = 0
    anns = gt["annotations"]
    kps = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), 3 * num_keypoints)
    for i, (ann, kp) in enumerate(zip(anns, kps, strict=True)):
        if kp.size != 3 * num_keypoints:
            raise ValueError(
                f"{source}: annotation #{i} (id {ann.get('id')}): 'keypoints' must have 3*K = "
                f"{3 * num_keypoints} numbers, got {kp.size}"
            )
        a = dict(ann)
        v = kp[2::3]
        if a.get("num_keypoints") is None:
            a["num_keypoints"] = int(np.count_nonzero(v > 0))
        if a.get("iscrowd") is None:
            a["iscrowd"] = 0
        bbox = a.get("bbox")
        if a.get("area") is None:
            if bbox is None:
                raise ValueError(f"{source}: annotation #{i} (id {a['id']}): neither 'area' nor 'bbox' is given")
            a["area"] = float(bbox[2]) * float(bbox[3])
            n_area_fallback += 1
        if bbox is None:
            if not np.any(v > 0):
                raise ValueError(
                    f"{source}: annotation #{i} (id {a['id']}): no labelled keypoint and no 'bbox' "
                    "(OKS then needs the box)"
                )
            a["bbox"] = [0.0, 0.0, 0.0, 0.0]
        out.append(a)
    if n_area_fallback:
        logger.warning(
            "ground truth: %d annotation(s) have no 'area'; using the box area w*h for OKS and area ranges",
            n_area_fallback,
        )
    return out


def load_keypoint_results(
    results: PathLike | Sequence[Mapping[str, Any]],
    gt: Mapping[str, Any],
    num_keypoints: int,
) -> list[dict[str, Any]]:
    """Read a COCO keypoint result file (or take its list) and check every entry against the ground truth.

    Each entry needs ``image_id`` (an image of ``gt``), ``category_id`` (a category of ``gt``),
    ``keypoints`` (3·K numbers: x, y, score) and a finite ``score``. Returns shallow copies.
    """
    source = f"results {results}" if isinstance(results, str | os.PathLike) else "results"
    data = _read_json(results, "results") if isinstance(results, str | os.PathLike) else results
    if isinstance(data, Mapping) or not isinstance(data, Sequence):
        raise ValueError(f"{source}: expected a JSON list of result objects, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(
            f"{source}: the result list is empty; there is nothing to evaluate "
            "(pycocotools would crash on it). Write at least one detection."
        )
    img_ids = {img["id"] for img in gt["images"]}
    cat_ids = {cat["id"] for cat in gt["categories"]}
    out: list[dict[str, Any]] = []
    for i, r in enumerate(data):
        if not isinstance(r, Mapping):
            raise ValueError(f"{source}: entry #{i} is not an object")
        for key in ("image_id", "category_id", "keypoints", "score"):
            if key not in r:
                raise ValueError(f"{source}: entry #{i} (image_id {r.get('image_id')}) has no '{key}'")
        if not is_member(r["image_id"], img_ids):
            raise ValueError(
                f"{source}: entry #{i} has image_id {r['image_id']!r}, which is not an image of the ground truth"
            )
        where = f"{source}: entry #{i} (image_id {r['image_id']})"
        if not is_member(r["category_id"], cat_ids):
            raise ValueError(
                f"{where} has category_id {r['category_id']!r}, not one of the ground truth's {sorted(cat_ids)}"
            )
        if r.get("bbox"):
            finite_numbers(r["bbox"], 4, where, "bbox")
        score = r["score"]
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float | np.floating | np.integer)
            or not math.isfinite(score)
        ):
            raise ValueError(
                f"{source}: entry #{i} (image_id {r['image_id']}) has score {score!r}; expected a finite number"
            )
        e = dict(r)
        e["score"] = float(score)
        out.append(e)
    for e, kp in zip(out, _result_keypoints(data, num_keypoints, source).tolist(), strict=True):
        e["keypoints"] = kp
    return out


def _entry_keypoints(r: Mapping[str, Any], where: str, num_keypoints: int) -> np.ndarray:
    try:
        kp_in = np.asarray(r["keypoints"])
    except (ValueError, TypeError):
        kp_in = np.asarray([], dtype=object)
    if kp_in.dtype.kind not in "iuf":
        raise ValueError(f"{where}: 'keypoints' must be numbers, got {str(r['keypoints'])[:60]}")
    kp = kp_in.astype(np.float64).reshape(-1)
    if kp.size != 3 * num_keypoints:
        raise ValueError(
            f"{where} has {kp.size} keypoint numbers; expected 3*K = {3 * num_keypoints} (x, y, score per keypoint)"
        )
    if not np.all(np.isfinite(kp)):
        raise ValueError(f"{where} has non-finite keypoints")
    return kp


def _result_keypoints(data: Sequence[Mapping[str, Any]], num_keypoints: int, source: str) -> np.ndarray:
    """``(N, 3K)`` keypoints of every entry: all at once, or (on a bad one) entry by entry to name it."""
    try:
        arr = np.asarray([r["keypoints"] for r in data])
    except (ValueError, TypeError):
        arr = np.asarray([], dtype=object)
    if arr.dtype.kind in "iuf" and arr.size == len(data) * 3 * num_keypoints:
        arr = arr.astype(np.float64).reshape(len(data), -1)
        if np.all(np.isfinite(arr)):
            return arr
    return np.stack([_entry_keypoints(r, f"{source}: entry #{i} (image_id {r['image_id']})", num_keypoints)
                     for i, r in enumerate(data)])


def result_areas(results: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Area pycocotools' ``loadRes`` gives each result, ``(N,)``.

    When the *first* entry has a non-empty ``bbox``, pycocotools takes its box branch and every entry's
    area is its box ``w * h`` (each entry then needs a box); otherwise the area is that of the box spanned
    by all K keypoints (zero-score keypoints included).
    """
    if len(results) and results[0].get("bbox"):
        boxes = []
        for i, r in enumerate(results):
            bb = r.get("bbox")
            if bb is None or len(bb) != 4:
                raise ValueError(
                    f"results: entry #0 has a 'bbox', so pycocotools takes every entry's area from its box; "
                    f"entry #{i} has none"
                )
            boxes.append(bb)
        b = np.asarray(boxes, dtype=np.float64)
        return b[:, 2] * b[:, 3]
    kp = np.asarray([r["keypoints"] for r in results], dtype=np.float64)
    x, y = kp[:, 0::3], kp[:, 1::3]
    return (x.max(axis=1) - x.min(axis=1)) * (y.max(axis=1) - y.min(axis=1))


def keypoint_results(
    image_ids: Sequence[int] | np.ndarray,
    keypoints: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """Build COCO keypoint result entries (HRNet's ``_write_coco_keypoint_results`` layout).

    Args:
        image_ids: ``(N,)`` COCO image ids.
        keypoints: ``(N, K, 3)``, last axis (x, y, keypoint score), image pixel coordinates.
        scores: ``(N,)`` instance scores.
        category_id: the COCO category (1 = person).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    ids = np.asarray(image_ids).reshape(-1)
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"keypoints: expected shape (N, K, 3) with last axis (x, y, score), got {kp.shape}")
    if not (ids.size == sc.size == kp.shape[0]):
        raise ValueError(
            f"image_ids ({ids.size}), scores ({sc.size}) and keypoints ({kp.shape[0]}) must have the same N"
        )
    flat = kp.reshape(kp.shape[0], -1).tolist()
    return [
        {"image_id": int(i), "category_id": int(category_id), "keypoints": k, "score": float(s)}
        for i, k, s in zip(ids.tolist(), flat, sc.tolist(), strict=True)
    ]


def write_keypoint_results(path: PathLike, results: Sequence[Mapping[str, Any]]) -> Path:
    """Write a COCO keypoint result list as JSON atomically (temporary file, fsync, rename).

    An empty list is refused (no evaluator can read it back). Returns the path written.
    """
    if len(results) == 0:
        raise ValueError(f"results for {path}: refusing to write an empty result list")
    text = json.dumps([dict(r) for r in results], default=_json_default)
    atomic_write_text(path, text, make_parents=True)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def evaluate_with_pycocotools(
    gt: PathLike | Mapping[str, Any],
    results: PathLike | Sequence[Mapping[str, Any]],
    sigmas: Any = None,
    verbose: bool = False,
) -> dict[str, float]:
    """The 10 COCO keypoint statistics computed by pycocotools' ``COCOeval(iouType='keypoints')``.

    Inputs go through :func:`load_coco_gt` / :func:`load_keypoint_results` first (same checks and
    completions as our evaluator); pycocotools' own prints are suppressed unless ``verbose``.

    Args:
        gt: ground-truth JSON path or dict.
        results: result JSON path or list of result dicts.
        sigmas: per-keypoint σ ``(K,)`` or a preset name; default COCO (K must then be 17).
        verbose: let pycocotools print its progress and summary.

    Returns:
        ``{name: value}`` for :data:`STAT_NAMES` (-1 where pycocotools gives -1: no ground truth).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_data = load_coco_gt(gt)
    sig = resolve_sigmas(gt_data, sigmas)
    k = sig.size
    dataset = dict(gt_data)
    dataset["annotations"] = copy.deepcopy(normalized_gt_annotations(gt_data, k))
    res = copy.deepcopy(load_keypoint_results(results, gt_data, k))
    sink = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with sink:
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(res)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = sig
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}


def format_stats(stats: Mapping[str, float]) -> str:
    """pycocotools' summary layout for the 10 keypoint statistics."""
    return "\n".join(
        f"{label} = {stats[name]:0.3f}" for label, name in zip(STAT_LABELS, STAT_NAMES, strict=True)
    )
