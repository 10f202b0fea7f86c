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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.files import atomic_write_text
from enhancenet_core.metrics.coco_results import check_keypoint_results
from enhancenet_core.metrics.oks import COCO_SIGMAS, as_sigmas
from enhancenet_core.metrics.validation import (
    CocoGtNumbers,
    check_coco_gt,
    infer_num_keypoints,
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
    return load_coco_gt_checked(gt)[0]


def load_coco_gt_checked(gt: PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], CocoGtNumbers]:
    """:func:`load_coco_gt` and the numeric fields its checks converted (keypoints, area, bbox as arrays),
    so that an evaluator does not convert the lists a second time."""
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
    return data, check_coco_gt(data, source)


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


@dataclass(frozen=True)
class GtColumns:
    """The annotations of a checked ground truth as columns, completed as :func:`normalized_gt_annotations`
    completes them, in file order (A annotations, K keypoints).

    Attributes:
        keypoints: ``(A, K, 3)`` float64.
        area: ``(A,)`` ``area``, or the box area ``w * h`` where absent.
        bbox: ``(A, 4)`` ``bbox``, or zeros where absent (only allowed with a labelled keypoint).
        num_keypoints: ``(A,)`` int64 ``num_keypoints``, or the count of keypoints with ``v > 0`` where absent.
        iscrowd: ``(A,)`` bool (absent: False).
        ids: ``(A,)`` the annotations' ``id`` (object array of Python ints).
    """

    keypoints: np.ndarray
    area: np.ndarray
    bbox: np.ndarray
    num_keypoints: np.ndarray
    iscrowd: np.ndarray
    ids: np.ndarray


def gt_columns(gt: Mapping[str, Any], num_keypoints: int, numbers: CocoGtNumbers | None = None) -> GtColumns:
    """Columns of a ground truth checked by :func:`load_coco_gt` (``numbers``: what its checks converted;
    recomputed when not given). Errors and the missing-``area`` warning as :func:`normalized_gt_annotations`."""
    source = "ground truth"
    anns = gt["annotations"]
    n = len(anns)
    if numbers is None:
        numbers = check_coco_gt(gt, source)
    kps = numbers.keypoints.reshape(n, num_keypoints, 3)
    labelled = kps[:, :, 2] > 0
    no_area, no_box = np.isnan(numbers.area), np.isnan(numbers.bbox[:, 0])
    bad = np.flatnonzero(no_box & (no_area | ~labelled.any(axis=1)))
    if bad.size:  # the first bad annotation, in the order normalized_gt_annotations checks them
        i = int(bad[0])
        why = ("neither 'area' nor 'bbox' is given" if no_area[i]
               else "no labelled keypoint and no 'bbox' (OKS then needs the box)")
        raise ValueError(f"{source}: annotation #{i} (id {anns[i]['id']}): {why}")
    bbox = np.where(no_box[:, None], 0.0, numbers.bbox)
    area = np.where(no_area, bbox[:, 2] * bbox[:, 3], numbers.area)
    if no_area.any():
        logger.warning(
            "ground truth: %d annotation(s) have no 'area'; using the box area w*h for OKS and area ranges",
            int(np.count_nonzero(no_area)),
        )
    nk_given = [a.get("num_keypoints") for a in anns]
    num = labelled.sum(axis=1).astype(np.int64)
    given = np.asarray([v is not None for v in nk_given], dtype=bool)
    if given.any():
        # checked ints >= 0; only == 0 matters downstream, so a count past int64 is clipped, not an error
        num[given] = np.asarray([min(v, 1 << 62) for v in nk_given if v is not None], dtype=np.int64)
    crowd = np.asarray([bool(a.get("iscrowd") or 0) for a in anns], dtype=bool)
    ids = np.empty(n, dtype=object)
    ids[:] = [a["id"] for a in anns]
    return GtColumns(keypoints=kps, area=area, bbox=bbox, num_keypoints=num, iscrowd=crowd, ids=ids)


def normalized_gt_annotations(gt: Mapping[str, Any], num_keypoints: int) -> list[dict[str, Any]]:
    """Annotations of a ground truth checked by :func:`load_coco_gt`, completed (shallow copies).

    Completes ``area`` (box area, with a warning), ``num_keypoints`` and ``iscrowd`` when absent (the values
    of :func:`gt_columns`).
    """
    cols = gt_columns(gt, num_keypoints)
    out: list[dict[str, Any]] = []
    for ann, area, bbox, num in zip(
        gt["annotations"], cols.area.tolist(), cols.bbox.tolist(), cols.num_keypoints.tolist(), strict=True
    ):
        a = dict(ann)
        if a.get("num_keypoints") is None:
            a["num_keypoints"] = num
        if a.get("iscrowd") is None:
            a["iscrowd"] = 0
        if a.get("area") is None:
            a["area"] = area
        if a.get("bbox") is None:
            a["bbox"] = bbox
        out.append(a)
    return out


def load_keypoint_results(
    results: PathLike | Sequence[Mapping[str, Any]],
    gt: Mapping[str, Any],
    num_keypoints: int,
) -> list[dict[str, Any]]:
    """Read a COCO keypoint result file (or take its list) and check every entry against the ground truth.

    Each entry needs ``image_id`` (an image of ``gt``), ``category_id`` (a category of ``gt``),
    ``keypoints`` (3·K numbers: x, y, score) and a finite ``score``
    (:func:`enhancenet_core.metrics.coco_results.check_keypoint_results`). Returns shallow copies with
    ``score`` a float and ``keypoints`` a list of floats.
    """
    cols = check_keypoint_results(results, gt, num_keypoints)
    out: list[dict[str, Any]] = []
    for r, kp, score in zip(cols.entries, cols.keypoints.tolist(), cols.score.tolist(), strict=True):
        e = dict(r)
        e["score"] = score
        e["keypoints"] = kp
        out.append(e)
    return out


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
