"""COCO keypoint result lists: checked against the ground truth and converted to columns in one pass.

Both evaluators read results through :func:`check_keypoint_results` (pycocotools' wrapper through
:func:`enhancenet_core.metrics.coco.load_keypoint_results`, which builds dicts from its columns), so they
refuse the same entries with the same message. The checks, per entry: an object with ``image_id`` (an
image of the ground truth), ``category_id`` (a category of it), ``keypoints`` (3·K finite numbers), a
finite ``score`` and, when given, a ``bbox`` of 4 finite numbers; an empty list is refused.

Speed: the checks run column by column (a few passes at C speed over the list); only when a column
fails do they run entry by entry, which names the first bad entry. A 5,000-image evaluation has ~17 k
entries, which the per-entry checks took ~0.3 s to pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from enhancenet_core.metrics.validation import finite_numbers, is_member, read_json_file

__all__ = ["ResultColumns", "check_keypoint_results", "result_areas"]


@dataclass(frozen=True)
class ResultColumns:
    """A checked result list as columns (N entries, K keypoints).

    Attributes:
        entries: the entries as given (the list read from the file, or the caller's sequence).
        image_id, category_id: ``(N,)`` as given (ints, or whatever equals a ground-truth id).
        keypoints: ``(N, 3K)`` float64 (x, y, score per keypoint).
        score: ``(N,)`` float64.
        area: ``(N,)`` pycocotools' ``loadRes`` area (:func:`result_areas`).
    """

    entries: Sequence[Mapping[str, Any]]
    image_id: list[Any]
    category_id: list[Any]
    keypoints: np.ndarray
    score: np.ndarray
    area: np.ndarray


def check_keypoint_results(
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    gt: Mapping[str, Any],
    num_keypoints: int,
) -> ResultColumns:
    """Read a COCO keypoint result file (or take its list), check every entry against the ground truth
    (module docstring) and return its columns. ValueError naming the file and the entry."""
    source = f"results {results}" if isinstance(results, str | os.PathLike) else "results"
    data = read_json_file(results, "results") if isinstance(results, str | os.PathLike) else results
    if isinstance(data, Mapping) or not isinstance(data, Sequence):
        raise ValueError(f"{source}: expected a JSON list of result objects, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(
            f"{source}: the result list is empty; there is nothing to evaluate "
            "(pycocotools would crash on it). Write at least one detection."
        )
    img_ids = {img["id"] for img in gt["images"]}
    cat_ids = {cat["id"] for cat in gt["categories"]}
    scores = _scores_if_all_pass(data, img_ids, cat_ids)
    if scores is None:
        scores = _check_entries(data, img_ids, cat_ids, source)
    kps = _result_keypoints(data, num_keypoints, source)
    return ResultColumns(
        entries=data,
        image_id=[r["image_id"] for r in data],
        category_id=[r["category_id"] for r in data],
        keypoints=kps,
        score=scores,
        area=result_areas(data, kps),
    )


def _scores_if_all_pass(data: Sequence[Any], img_ids: set[Any], cat_ids: set[Any]) -> np.ndarray | None:
    """The scores ``(N,)`` when every entry passes :func:`_check_entries`' checks, decided column by column;
    None means "check entry by entry" (conservative: any unusual type says None)."""
    try:
        if any(type(r) is not dict for r in data):
            return None
        if not all("keypoints" in r and "score" in r for r in data):
            return None
        if not ({r["image_id"] for r in data} <= img_ids and {r["category_id"] for r in data} <= cat_ids):
            return None
        boxes = [r["bbox"] for r in data if r.get("bbox")]
        if boxes:
            if set(map(type, boxes)) - {list} or set(map(type, chain.from_iterable(boxes))) - {int, float}:
                return None
            b = np.asarray(boxes, dtype=np.float64)
            if b.shape != (len(boxes), 4) or not np.all(np.isfinite(b)):
                return None
        raw = [r["score"] for r in data]
        if set(map(type, raw)) - {int, float}:
            return None
        scores = np.asarray(raw, dtype=np.float64)
        return scores if bool(np.all(np.isfinite(scores))) else None
    except (KeyError, TypeError, ValueError, OverflowError):  # a missing key, an unhashable id, a huge int
        return None


def _check_entries(data: Sequence[Any], img_ids: set[Any], cat_ids: set[Any], source: str) -> np.ndarray:
    """The checks entry by entry (the first bad entry is named); returns the scores ``(N,)`` float64."""
    scores: list[float] = []
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
        scores.append(float(score))
    return np.asarray(scores, dtype=np.float64)


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
        arr = arr.astype(np.float64, copy=False).reshape(len(data), -1)
        if np.all(np.isfinite(arr)):
            return arr
    return np.stack([_entry_keypoints(r, f"{source}: entry #{i} (image_id {r['image_id']})", num_keypoints)
                     for i, r in enumerate(data)])


def result_areas(results: Sequence[Mapping[str, Any]], keypoints: np.ndarray | None = None) -> np.ndarray:
    """Area pycocotools' ``loadRes`` gives each result, ``(N,)``.

    When the *first* entry has a non-empty ``bbox``, pycocotools takes its box branch and every entry's
    area is its box ``w * h`` (each entry then needs a box); otherwise the area is that of the box spanned
    by all K keypoints (zero-score keypoints included). ``keypoints``: the entries' ``(N, 3K)`` float64
    keypoints when already converted.
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
    kp = np.asarray([r["keypoints"] for r in results], dtype=np.float64) if keypoints is None else keypoints
    x, y = kp[:, 0::3], kp[:, 1::3]
    return (x.max(axis=1) - x.min(axis=1)) * (y.max(axis=1) - y.min(axis=1))
