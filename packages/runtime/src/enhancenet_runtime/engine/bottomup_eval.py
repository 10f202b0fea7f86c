"""Bottom-up (Associative Embedding) evaluation, framework-free: maps -> people -> COCO results -> AP.

A framework (or a test oracle) supplies ``maps_fn(images, record) -> (det, tag)``: ``images`` ``(N, 3, H, W)``
float32 RGB in [0, 1] (pose-ae-train's input), ``det`` ``(N, K, Hd, Wd)`` detection maps (LR, or EnhanceNet's
M^HR at r × the LR size), ``tag`` ``(N, K, h, w)`` (or ``(N, K, h, w, 1)``) LR tag maps. A model ignores
``record`` (:class:`~enhancenet_runtime.data.bottomup.BottomUpRecord`); an oracle may read the ground truth
from it. :func:`predict_people` runs pose-ae-train's ``test.py`` ``multiperson`` for one image:

1. per scale s of ``bottomup.scales``: the whole image resized and centred into a square input of side
   ``⌈s·W_in/m⌉·m`` (m = ``bottomup.size_multiple``; :func:`enhancenet_core.bottomup.ae_transform`), pixels / 255;
2. flip test (``bottomup.flip_test``): the image and its mirror in one batch; the mirror's maps are mirrored
   back and their joints swapped (``data.flip_pairs``); detections are **summed**, the two tag maps are
   **concatenated** along a last axis (T = 2 per scale);
3. a scale whose summed detections exceed 10 is skipped (pose-ae-train); the first kept scale fixes the map
   size, later scales' detections are resized to it (``cv2.resize``, bilinear) and added; tags are kept only
   from scales with |s - 1| < 0.5, resized to the first scale's tag size;
4. detections / (number of scales · 2 with flip), grouped by :func:`enhancenet_core.bottomup.group` with
   ``bottomup.grouping_params()`` (clipping at 1, NMS, matching, adjust, refine);
5. back-projection: map pixels × (input side / map side) -> input pixels -> the inverse of the first scale's
   transform -> image pixels.

:func:`people_to_results` writes pose-ae-train's ``genDtByPred`` entries: one per person with a joint > 0,
score = the person score (mean of the K detection values before refine), every missing joint placed at the
mean of the person's found joints; the third number of each keypoint is the joint's detection value (COCO's
OKS does not read it). :func:`evaluate_bottomup` runs every record, writes the results JSON atomically and
scores it with our COCO evaluator (and pycocotools with ``check_pycocotools``).

Bad input: maps with NaN/inf, a tag map whose K or size does not fit the detections (the size must be the
detection size / r for one integer r), or a wrong number of axes -> a one-line ``ValueError`` naming the image;
an image where nothing passes the threshold (or every scale is skipped) -> no people, not an error; no person
in any image -> every statistic 0 (no results file is written).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from enhancenet_core.bottomup import (
    Grouping,
    ae_transform,
    affine_points,
    group,
    input_side_at_scale,
    invert_affine,
    whole_image_center_scale,
)
from enhancenet_core.config import Config
from enhancenet_core.metrics.coco import (
    STAT_NAMES,
    evaluate_with_pycocotools,
    keypoint_results,
    write_keypoint_results,
)
from enhancenet_core.metrics.coco_eval import evaluate_coco
from enhancenet_runtime.data.bottomup import BottomUpRecord, flip_permutation
from enhancenet_runtime.data.image import read_image

__all__ = ["BottomUpEvalResult", "MapsFn", "evaluate_bottomup", "people_to_results", "predict_people"]

MapsFn = Callable[[NDArray[np.float32], BottomUpRecord], tuple[NDArray, NDArray]]
SKIP_SCALE_ABOVE = 10.0  # pose-ae-train drops a scale whose flip-summed detections exceed this


@dataclass(frozen=True)
class BottomUpEvalResult:
    """``stats`` by our evaluator, ``results`` (COCO entries), the file written, pycocotools' stats if asked."""

    stats: dict[str, float]
    results: list[dict[str, Any]]
    results_file: Path | None = None
    pycocotools_stats: dict[str, float] | None = None
    people_per_image: dict[int, int] = field(default_factory=dict)


def _resize(maps: NDArray, size: tuple[int, int]) -> NDArray[np.float32]:
    """``(C, H, W)`` -> ``(C, h, w)`` with ``size = (w, h)``, bilinear per channel (pose-ae-train's resize)."""
    if maps.shape[1:] == (size[1], size[0]):
        return maps.astype(np.float32)
    return np.stack([cv2.resize(np.ascontiguousarray(m, dtype=np.float32), size) for m in maps])


def _maps(maps_fn: MapsFn, batch: NDArray, record: BottomUpRecord, k: int) -> tuple[NDArray, NDArray]:
    det, tag = maps_fn(batch, record)
    det, tag = np.asarray(det, np.float32), np.asarray(tag, np.float32)
    if tag.ndim == 5 and tag.shape[-1] == 1:
        tag = tag[..., 0]
    n = batch.shape[0]
    if det.ndim != 4 or det.shape[:2] != (n, k):
        raise ValueError(f"det must have shape ({n}, {k}, H, W), got {det.shape}")
    if tag.ndim != 4 or tag.shape[:2] != (n, k):
        raise ValueError(f"tag must have shape ({n}, {k}, h, w) (one tag per joint), got {tag.shape}")
    return det, tag


def predict_people(image: NDArray[np.uint8], record: BottomUpRecord, maps_fn: MapsFn, cfg: Config) -> Grouping:
    """People of one ``(H, W, 3)`` RGB image in image pixels: ``(P, K, 3 + T)`` and scores (module docstring)."""
    bu, k = cfg.bottomup, cfg.model.num_keypoints
    perm = flip_permutation(cfg.data.flip_pairs, k)
    h_img, w_img = image.shape[:2]
    center, scale = whole_image_center_scale(w_img, h_img)
    dets: NDArray | None = None
    tags: list[NDArray] = []
    ref: tuple[NDArray, int, tuple[int, int]] | None = None  # inverse transform, input side, tag size (w, h)
    for s in bu.scales:
        side = input_side_at_scale(s, cfg.model.input_size[0], bu.size_multiple)
        mat = ae_transform(center, scale, (side, side))
        inp = cv2.warpAffine(np.ascontiguousarray(image), mat[:2], (side, side)).astype(np.float32) / 255
        chw = inp.transpose(2, 0, 1)
        batch = np.stack([chw, chw[:, :, ::-1]]) if bu.flip_test else chw[None]
        det, tag = _maps(maps_fn, np.ascontiguousarray(batch), record, k)
        d = det[0] + det[1, perm, :, ::-1] if bu.flip_test else det[0]
        t = [tag[0], tag[1, perm, :, ::-1]] if bu.flip_test else [tag[0]]
        if not np.all(np.isfinite(d)):
            raise ValueError("det contains NaN or infinite values")
        if d.max() > SKIP_SCALE_ABOVE:
            continue
        if dets is None:
            dets = d.astype(np.float32)
            ref = (invert_affine(mat), side, (t[0].shape[2], t[0].shape[1]))
        else:
            dets = dets + _resize(d, (dets.shape[2], dets.shape[1]))
        if abs(s - 1.0) < 0.5:
            tags += [_resize(x, ref[2]) for x in t]
    if dets is None or not tags or ref is None:
        return Grouping(np.zeros((0, k, 3 + max(1, len(tags))), np.float32), np.zeros(0))
    dets = dets / len(bu.scales) / (2 if bu.flip_test else 1)
    people, scores = group(dets, np.stack(tags, axis=-1), bu.grouping_params())
    out = people.copy()
    inv, side, _ = ref
    xy = out[..., :2].astype(np.float64) * (side / dets.shape[2])
    out[..., :2] = affine_points(xy, inv)
    out[..., :2][people[..., 2] <= 0] = 0.0
    return Grouping(out.astype(np.float32), scores)


def people_to_results(image_id: int, grouping: Grouping) -> list[dict[str, Any]]:
    """COCO result entries of one image (pose-ae-train's ``genDtByPred``, module docstring)."""
    people, scores = grouping
    found = people[..., 2] > 0
    keep = found.any(axis=1)
    if not keep.any():
        return []
    people, scores, found = people[keep], scores[keep], found[keep]
    xy = people[..., :2].astype(np.float64)
    mean = (xy * found[..., None]).sum(axis=1) / found.sum(axis=1)[:, None]
    xy = np.where(found[..., None], xy, mean[:, None, :])
    kp = np.concatenate([xy, people[..., 2:3].astype(np.float64)], axis=2)
    return keypoint_results(np.full(len(kp), image_id), kp, scores)


def evaluate_bottomup(
    records: Sequence[BottomUpRecord],
    maps_fn: MapsFn,
    cfg: Config,
    gt_file: str | os.PathLike[str],
    results_file: str | os.PathLike[str] | None = None,
    check_pycocotools: bool = False,
) -> BottomUpEvalResult:
    """Predict every record's image, write the results JSON (if ``results_file``) and score it (module docstring)."""
    results: list[dict[str, Any]] = []
    counts: dict[int, int] = {}
    for r in records:
        image = read_image(r.image, cfg.data.color_rgb)
        try:
            grouping = predict_people(image, r, maps_fn, cfg)
        except ValueError as exc:
            raise ValueError(f"image {r.image_id} ({r.image.name}): {exc}") from None
        entries = people_to_results(r.image_id, grouping)
        counts[r.image_id] = len(entries)
        results += entries
    if not results:
        zeros = dict.fromkeys(STAT_NAMES, 0.0)
        return BottomUpEvalResult(zeros, [], None, dict(zeros) if check_pycocotools else None, counts)
    path = write_keypoint_results(results_file, results) if results_file is not None else None
    stats = evaluate_coco(gt_file, results)
    ref = evaluate_with_pycocotools(gt_file, results) if check_pycocotools else None
    return BottomUpEvalResult(stats, results, path, ref, counts)
