"""Keypoint error types of Ronchi & Perona, "Benchmarking and Error Diagnosis in Multi-Instance Pose
Estimation" (ICCV 2017), as implemented in their ``coco-analyze`` (``COCOanalyze._find_kpt_errors``).

For the paper's Fig. 7 (frequency of each error type with and without EnhanceNet).

What we implement, precisely:

1. Matching: pycocotools' greedy matching (our :class:`~enhancenet_core.metrics.coco_eval.CocoKeypointEvaluator`)
   at one OKS threshold, default 0.1 (coco-analyze ``oksLocThrs``), area range [32², 1e10] (its ``areaRng``),
   20 detections per image. Every detection matched to a ground truth is analysed, except matches to a
   ground truth with ``num_keypoints == 0`` (counted in ``skipped_zero_keypoint_matches``).
2. For each keypoint k of a matched detection, the keypoint similarity
   ``ks = exp(-d² / (2σ_k)² / (area + eps) / 2)`` is computed against candidates, in this order:
   the matched person's keypoint k; keypoint k of every other person of the image; the matched person's
   left/right counterpart of k (``flip_index[k]``); the counterpart on every other person. Each candidate
   uses its own person's ``area``; candidates with visibility 0 are excluded.
3. ``best`` = the highest ks, the *first* candidate in that order on ties (``np.argmax``). Then, for
   keypoints the matched person has labelled (``v > 0``; others are not classified, code -1):

   * **good**: best ≥ 0.85 and best is the matched person's keypoint k;
   * **jitter**: 0.5 ≤ best < 0.85 and best is the matched person's keypoint k;
   * **inversion**: best ≥ 0.5 and best is the matched person's counterpart of k;
   * **swap**: best ≥ 0.5 and best is a keypoint (k or its counterpart) of another person;
   * **miss**: best < 0.5.

   The type follows the *best* candidate: a keypoint 0.9-close to its own location but 0.95-close to
   another person's is a swap. coco-analyze tests good with ``> 0.85`` (a ks of exactly 0.85 then falls in
   no class); we use ``≥`` so that the five types partition the labelled keypoints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from enhancenet_core.metrics.coco_eval import MAX_DETS, CocoKeypointEvaluator
from enhancenet_core.metrics.oks import COCO_FLIP_INDEX, keypoint_similarity

#: ks thresholds of coco-analyze (``jitterKsThrs``).
JITTER_KS: float = 0.5
GOOD_KS: float = 0.85
#: Matching threshold and area range of coco-analyze.
LOCALIZATION_OKS: float = 0.1
ANALYSIS_AREA_RANGE: tuple[float, float] = (32.0**2, 1e5**2)
#: Code of a keypoint the matched person has not labelled.
UNLABELLED: int = -1


class KeypointErrorType(StrEnum):
    """Per-keypoint outcome; the integer code of a type is its position in :data:`ERROR_TYPES`."""

    GOOD = "good"
    JITTER = "jitter"
    INVERSION = "inversion"
    SWAP = "swap"
    MISS = "miss"


ERROR_TYPES: tuple[KeypointErrorType, ...] = tuple(KeypointErrorType)
_GOOD, _JITTER, _INVERSION, _SWAP, _MISS = range(5)


def classify_keypoint_errors(
    pred: np.ndarray,
    people: np.ndarray,
    areas: np.ndarray,
    people_valid: np.ndarray,
    flip_index: Sequence[int] | np.ndarray,
    sigmas: np.ndarray,
    jitter_ks: float = JITTER_KS,
    good_ks: float = GOOD_KS,
) -> np.ndarray:
    """Classify each keypoint of M matched predictions (see the module docstring).

    Args:
        pred: ``(M, K, 2|3)`` predictions (x, y[, score]).
        people: ``(M, P, K, 3)`` ground-truth people of each prediction's image (x, y, v); index 0 along P
            is the person the prediction is matched to; padding rows are flagged by ``people_valid``.
        areas: ``(M, P)`` their areas.
        people_valid: ``(M, P)`` bool.
        flip_index: ``(K,)`` left/right counterpart of each keypoint.
        sigmas: ``(K,)``.

    Returns:
        ``(M, K)`` int8 codes: index into :data:`ERROR_TYPES`, or :data:`UNLABELLED` (-1).
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(people, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] not in (2, 3):
        raise ValueError(f"pred: expected shape (M, K, 2|3), got {p.shape}")
    if g.ndim != 4 or g.shape[-1] != 3 or g.shape[0] != p.shape[0] or g.shape[2] != p.shape[1]:
        raise ValueError(f"people: expected shape ({p.shape[0]}, P, {p.shape[1]}, 3), got {g.shape}")
    fi = np.asarray(flip_index, dtype=np.int64).reshape(-1)
    if fi.size != p.shape[1] or np.any(np.sort(fi) != np.arange(fi.size)):
        raise ValueError(f"flip_index: expected a permutation of range({p.shape[1]}), got {fi.tolist()}")
    n_p = g.shape[1]
    valid = np.asarray(people_valid, dtype=bool)
    ar = np.asarray(areas, dtype=np.float64)
    pxy = p[:, None, :, :2]
    ks_same = keypoint_similarity(pxy, g[..., :2], ar, sigmas)  # (M, P, K)
    g_inv = g[:, :, fi, :]
    ks_inv = keypoint_similarity(pxy, g_inv[..., :2], ar, sigmas)
    ok_same = (g[..., 2] > 0) & valid[..., None]
    ok_inv = (g_inv[..., 2] > 0) & valid[..., None]
    cand = np.concatenate(
        [np.where(ok_same, ks_same, -1.0), np.where(ok_inv, ks_inv, -1.0)], axis=1
    )  # (M, 2P, K)
    arg = np.argmax(cand, axis=1)
    best = np.take_along_axis(cand, arg[:, None, :], axis=1)[:, 0, :]
    code = np.where(
        best < jitter_ks,
        _MISS,
        np.where(
            arg == 0, np.where(best >= good_ks, _GOOD, _JITTER), np.where(arg == n_p, _INVERSION, _SWAP)
        ),
    )
    own_labelled = (g[:, 0, :, 2] > 0) & valid[:, :1]
    return np.where(own_labelled, code, UNLABELLED).astype(np.int8)


@dataclass(frozen=True)
class KeypointErrorReport:
    """Error-type analysis of one result set.

    Attributes:
        codes: ``(M, K)`` per matched prediction and keypoint (:data:`ERROR_TYPES` index or -1).
        result_index: ``(M,)`` index of each analysed prediction in the checked result list.
        gt_ids: ``(M,)`` ``id`` of the ground truth each is matched to.
        counts: keypoints per type (:class:`KeypointErrorType` value -> count).
        frequencies: counts / labelled keypoints of analysed predictions (0 when there are none).
        per_keypoint_counts: ``(K, 5)`` counts per keypoint and type (types in :data:`ERROR_TYPES` order).
        num_labelled: labelled keypoints analysed.
        skipped_zero_keypoint_matches: matches to ground truths with ``num_keypoints == 0``.
    """

    codes: np.ndarray
    result_index: np.ndarray
    gt_ids: np.ndarray
    counts: dict[str, int]
    frequencies: dict[str, float]
    per_keypoint_counts: np.ndarray
    num_labelled: int
    skipped_zero_keypoint_matches: int


def report_from_codes(
    codes: np.ndarray, result_index: np.ndarray, gt_ids: np.ndarray, skipped: int = 0
) -> KeypointErrorReport:
    """Counts and frequencies of an ``(M, K)`` code array."""
    c = np.asarray(codes)
    k = c.shape[1] if c.ndim == 2 else 0
    per_kpt = np.stack([np.count_nonzero(c == t, axis=0) for t in range(len(ERROR_TYPES))], axis=1).reshape(
        k, -1
    )
    totals = per_kpt.sum(axis=0)
    n = int(totals.sum())
    counts = {t.value: int(totals[i]) for i, t in enumerate(ERROR_TYPES)}
    freqs = {t.value: (counts[t.value] / n if n else 0.0) for t in ERROR_TYPES}
    return KeypointErrorReport(
        c, np.asarray(result_index), np.asarray(gt_ids), counts, freqs, per_kpt, n, int(skipped)
    )


def flip_index_for(gt: Mapping[str, Any], num_keypoints: int) -> np.ndarray:
    """Left/right counterparts: COCO's for K = 17, else from ``left_*`` / ``right_*`` keypoint names."""
    if num_keypoints == len(COCO_FLIP_INDEX):
        return np.asarray(COCO_FLIP_INDEX)
    for cat in gt.get("categories", []):
        names = cat.get("keypoints") or []
        if len(names) == num_keypoints:
            pos = {n: i for i, n in enumerate(names)}

            def mirror(name: str) -> str:
                for a, b in (("left", "right"), ("right", "left")):
                    if a in name:
                        return name.replace(a, b)
                return name

            try:
                return np.asarray([pos[mirror(n)] for n in names])
            except KeyError:
                break
    raise ValueError(f"flip_index: cannot derive left/right pairs for K = {num_keypoints}; pass flip_index")


def analyze_keypoint_errors(
    gt: str | os.PathLike | Mapping[str, Any] | CocoKeypointEvaluator,
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    sigmas: Any = None,
    flip_index: Sequence[int] | np.ndarray | None = None,
    oks_threshold: float = LOCALIZATION_OKS,
    area_range: tuple[float, float] = ANALYSIS_AREA_RANGE,
    max_dets: int = MAX_DETS,
) -> KeypointErrorReport:
    """Good / jitter / inversion / swap / miss counts of a COCO keypoint result set.

    Args:
        gt: ground-truth path/dict, or an existing evaluator (reuses its index; ``sigmas`` then ignored).
        results: result path or list.
        flip_index: ``(K,)`` left/right counterparts; default COCO's / from keypoint names.
        oks_threshold, area_range, max_dets: matching parameters (coco-analyze: 0.1, [32², 1e10], 20).
    """
    ev = (
        gt
        if isinstance(gt, CocoKeypointEvaluator)
        else CocoKeypointEvaluator(gt, sigmas=sigmas, max_dets=max_dets)
    )
    fi = flip_index_for(ev.gt, ev.num_keypoints) if flip_index is None else np.asarray(flip_index)
    mt = ev.match(results, [oks_threshold], [area_range])
    gidx = mt.gt_index[0, 0]
    matched = np.flatnonzero(gidx >= 0)
    num_kpts = ev.gt_num_keypoints
    zero = num_kpts[gidx[matched]] == 0 if matched.size else np.zeros(0, dtype=bool)
    skipped = int(np.count_nonzero(zero))
    matched = matched[~zero]
    m_gt = gidx[matched]
    k = ev.num_keypoints
    if matched.size == 0:
        empty = np.zeros((0, k), dtype=np.int8)
        return report_from_codes(empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), skipped)
    groups = ev.gt_groups
    g_start = np.searchsorted(groups, groups[m_gt], side="left")
    g_count = np.searchsorted(groups, groups[m_gt], side="right") - g_start
    m_local = m_gt - g_start
    n_p = int(g_count.max())
    j = np.arange(n_p)[None, :]
    local = np.where(j == 0, m_local[:, None], np.where(j - 1 < m_local[:, None], j - 1, j))
    valid = j < g_count[:, None]
    idx = np.where(valid, g_start[:, None] + local, 0)
    people = ev.gt_keypoints[idx]
    areas = ev.gt_areas[idx]
    codes = classify_keypoint_errors(mt.dt_keypoints[matched], people, areas, valid, fi, ev.sigmas)
    gt_ids = np.asarray(ev.gt_ids[m_gt].tolist())
    return report_from_codes(codes, mt.dt_source_index[matched], gt_ids, skipped)


def compare_error_frequencies(before: KeypointErrorReport, after: KeypointErrorReport) -> dict[str, float]:
    """Change of each type's frequency, ``after − before`` (Fig. 7: with minus without EnhanceNet)."""
    return {t.value: after.frequencies[t.value] - before.frequencies[t.value] for t in ERROR_TYPES}
