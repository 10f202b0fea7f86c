"""Our pure-NumPy COCO keypoint evaluator: the numbers of pycocotools, vectorized across images.

It reproduces ``COCOeval(iouType='keypoints')`` step by step (see ``packages/core-spec/README.md``,
"Metrics", for the list of its conventions that we keep):

* OKS with variances (2σ)², the ground truth's ``area``; a ground truth without a labelled keypoint is
  matched through its box doubled in size (:mod:`enhancenet_core.metrics.oks`);
* per image and category the detections are sorted by score with a stable sort (ties keep file order)
  and cut to ``maxDets`` = 20 before anything else;
* ground truths are ignored when ``iscrowd`` or ``num_keypoints == 0``, and, per area range
  (all [0, 1e10], medium [32², 96²], large [96², 1e10]), when their ``area`` falls outside the range;
* greedy matching per OKS threshold in score order: each detection takes the not-yet-matched (crowd
  ground truths may be matched again) ground truth of highest OKS ≥ min(t, 1 − 1e-10), non-ignored ones
  first, an ignored one only when no non-ignored one qualifies; ties go to the later ground truth in file
  order (pycocotools' ``<`` test with a running best);
* a detection matched to an ignored ground truth is ignored; an unmatched one is ignored when its own
  area (keypoint box, or ``bbox`` when results carry one) is outside the range;
* precision/recall accumulated over all images of a category with a stable score sort, precision made
  monotone and read at the 101 recall points by ``searchsorted(..., side='left')``; -1 where a category
  has no non-ignored ground truth; the statistics average the entries > -1.
* pycocotools quirk kept: a ground truth whose ``id`` is 0 counts its matches as unmatched (it stores
  matches by id and tests ``id != 0``).

Matching is sequential only over the ≤ 20 detection ranks; every other axis (images, categories, area
ranges, thresholds, ground truths, keypoints) is an array axis.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from enhancenet_core.metrics.coco import (
    STAT_NAMES,
    gt_columns,
    load_coco_gt_checked,
    normalized_gt_annotations,
    resolve_sigmas,
)
from enhancenet_core.metrics.coco_results import ResultColumns, check_keypoint_results
from enhancenet_core.metrics.oks import oks_grid

#: OKS thresholds .50:.05:.95 (pycocotools builds them with linspace, not arange).
IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: The 101 recall points 0:.01:1.
RECALL_THRESHOLDS: np.ndarray = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
#: Keypoint area ranges and their labels.
AREA_RANGES: tuple[tuple[float, float], ...] = ((0.0**2, 1e5**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS: tuple[str, ...] = ("all", "medium", "large")
MAX_DETS: int = 20

#: groups per OKS block (a block's grid is n · D · G · K float64)
_BLOCK_GROUPS = 4096


@dataclass(frozen=True)
class CocoEvalResult:
    """Result of :meth:`CocoKeypointEvaluator.evaluate`.

    Attributes:
        stats: the 10 statistics by name (:data:`~enhancenet_core.metrics.coco.STAT_NAMES`).
        precision: ``(T, R, C, A)`` interpolated precision (T OKS thresholds, R = 101 recall points,
            C categories, A area ranges); -1 where a category has no non-ignored ground truth.
        recall: ``(T, C, A)`` final recall; -1 likewise.
        iou_thresholds: ``(T,)``.
        recall_thresholds: ``(R,)``.
        category_ids: ``(C,)`` category ids in the order of the C axis.
        area_labels: labels of the A axis.
    """

    stats: dict[str, float]
    precision: np.ndarray
    recall: np.ndarray
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    category_ids: np.ndarray
    area_labels: tuple[str, ...]


@dataclass(frozen=True)
class _Detections:
    """Detections kept for evaluation (top ``max_dets`` per image and category), sorted by
    (category, image, score desc, file order). N kept detections."""

    source_index: np.ndarray  # (N,) index into the checked result list
    group: np.ndarray  # (N,) cat_index * n_images + image_index
    rank: np.ndarray  # (N,) rank within its group
    keypoints: np.ndarray  # (N, K, 3)
    scores: np.ndarray  # (N,)
    areas: np.ndarray  # (N,)


@dataclass(frozen=True)
class Matches:
    """Greedy matching of kept detections to ground truths at T thresholds and A area ranges.

    Attributes:
        dt_source_index: ``(N,)`` index of each kept detection in the checked result list.
        dt_group: ``(N,)`` its (category, image) group; ``dt_image_id``: ``(N,)`` its image id.
        dt_scores: ``(N,)``; dt_keypoints: ``(N, K, 3)``.
        gt_index: ``(A, T, N)`` index (into :attr:`CocoKeypointEvaluator.gt_annotations`) of the matched
            ground truth, -1 when unmatched.
        dt_ignore: ``(A, T, N)`` pycocotools' ``dtIgnore``.
        gt_ignore: ``(A, G)`` pycocotools' ``gtIgnore`` for every ground truth.
        matched: ``(A, T, N)`` counted as a match by pycocotools (matched and the ground truth id != 0).
    """

    dt_source_index: np.ndarray
    dt_group: np.ndarray
    dt_image_id: np.ndarray
    dt_scores: np.ndarray
    dt_keypoints: np.ndarray
    gt_index: np.ndarray
    dt_ignore: np.ndarray
    gt_ignore: np.ndarray
    matched: np.ndarray


class CocoKeypointEvaluator:
    """COCO keypoint AP/AR in NumPy with pycocotools' numbers (agreement to ~1e-15 in tests).

    The ground truth is read and indexed once; :meth:`evaluate` can then be called for several result
    sets (e.g. a base model with and without EnhanceNet).

    Args:
        gt: ground-truth JSON path or dict (COCO keypoint format).
        sigmas: ``(K,)`` per-keypoint σ or a preset name (``"coco"``, ``"crowdpose"``); default COCO,
            which requires K = 17.
        max_dets: detections kept per image and category (pycocotools keypoints: 20).
    """

    def __init__(
        self, gt: str | os.PathLike | Mapping[str, Any], sigmas: Any = None, max_dets: int = MAX_DETS
    ) -> None:
        if int(max_dets) < 1:
            raise ValueError(f"max_dets: expected a positive integer, got {max_dets}")
        self.max_dets = int(max_dets)
        self.gt, numbers = load_coco_gt_checked(gt)
        self.sigmas = resolve_sigmas(self.gt, sigmas)
        self.num_keypoints = int(self.sigmas.size)
        self.image_ids = np.unique(np.asarray([img["id"] for img in self.gt["images"]]))
        self.category_ids = np.unique(np.asarray([cat["id"] for cat in self.gt["categories"]]))
        self._img_index = {v: i for i, v in enumerate(self.image_ids.tolist())}
        self._cat_index = {v: i for i, v in enumerate(self.category_ids.tolist())}
        cols = gt_columns(self.gt, self.num_keypoints, numbers)
        anns = self.gt["annotations"]
        group = self._groups([a["category_id"] for a in anns], [a["image_id"] for a in anns])
        order = np.argsort(group, kind="stable")  # file order within an image, as pycocotools' index
        self._gt_order = order
        self._gt_group = group[order]
        self._gt_kpts = cols.keypoints[order]
        self._gt_area = cols.area[order]
        self._gt_bbox = cols.bbox[order]
        self._gt_crowd = cols.iscrowd[order]
        self._gt_num_keypoints = cols.num_keypoints[order]
        self._gt_ignore = (self._gt_num_keypoints == 0) | self._gt_crowd
        self._gt_ids = cols.ids[order]
        self._gt_id_nonzero = np.asarray(self._gt_ids != 0, dtype=bool)
        self._gt_cat = self._gt_group // self.image_ids.size
        self._gt_annotations: list[dict[str, Any]] | None = None

    def _groups(self, category_ids: list[Any], image_ids: list[Any]) -> np.ndarray:
        """``(N,)`` int64 (category index · n_images + image index) of checked (known) ids."""
        n_img = self.image_ids.size
        return _index_of(self.category_ids, category_ids, self._cat_index) * n_img + _index_of(
            self.image_ids, image_ids, self._img_index
        )

    @property
    def gt_annotations(self) -> list[dict[str, Any]]:
        """The ground truth's annotations completed (:func:`~enhancenet_core.metrics.coco.normalized_gt_annotations`),
        sorted by (category, image, file order) as every ``(G,)`` array here; built on first use."""
        if self._gt_annotations is None:
            anns = normalized_gt_annotations(self.gt, self.num_keypoints)
            self._gt_annotations = [anns[i] for i in self._gt_order.tolist()]
        return self._gt_annotations

    @property
    def gt_ids(self) -> np.ndarray:
        """``(G,)`` the ``id`` of each of :attr:`gt_annotations` (object array of ints)."""
        return self._gt_ids

    @property
    def gt_num_keypoints(self) -> np.ndarray:
        """``(G,)`` int64 ``num_keypoints`` of :attr:`gt_annotations` (the count of labelled ones where absent)."""
        return self._gt_num_keypoints

    @property
    def gt_groups(self) -> np.ndarray:
        """``(G,)`` (category index · n_images + image index) of each of :attr:`gt_annotations` (sorted)."""
        return self._gt_group

    @property
    def gt_keypoints(self) -> np.ndarray:
        """``(G, K, 3)`` keypoints of :attr:`gt_annotations`."""
        return self._gt_kpts

    @property
    def gt_areas(self) -> np.ndarray:
        """``(G,)`` areas of :attr:`gt_annotations` (box area where ``area`` was absent)."""
        return self._gt_area

    # ------------------------------------------------------------------ detections
    def _detections(self, res: ResultColumns) -> _Detections:
        k = self.num_keypoints
        kpts = res.keypoints.reshape(-1, k, 3)
        scores = res.score
        areas = res.area
        group = self._groups(res.category_id, res.image_id)
        src = np.arange(group.size)
        order = np.lexsort((src, -scores, group))  # group, then score desc, then file order (stable)
        group_s = group[order]
        starts = np.flatnonzero(np.r_[True, group_s[1:] != group_s[:-1]])
        lengths = np.diff(np.r_[starts, group_s.size])
        rank = np.arange(group_s.size) - np.repeat(starts, lengths)
        keep = order[rank < self.max_dets]
        return _Detections(
            source_index=keep,
            group=group[keep],
            rank=rank[rank < self.max_dets],
            keypoints=kpts[keep],
            scores=scores[keep],
            areas=areas[keep],
        )

    # ------------------------------------------------------------------ matching
    def _match(self, dets: _Detections, thresholds: np.ndarray, area_ranges: np.ndarray) -> Matches:
        thr = np.minimum(np.asarray(thresholds, dtype=np.float64), 1 - 1e-10)  # (T,)
        rng = np.asarray(area_ranges, dtype=np.float64).reshape(-1, 2)  # (A, 2)
        n_a, n_t = rng.shape[0], thr.size
        gt_ignore = (
            self._gt_ignore[None, :]
            | (self._gt_area[None, :] < rng[:, :1])
            | (self._gt_area[None, :] > rng[:, 1:])
        )  # (A, G)

        # groups that have detections; their ground-truth segments
        groups, dt_start, dt_count = _segments(dets.group)
        gt_start = np.searchsorted(self._gt_group, groups, side="left")
        gt_count = np.searchsorted(self._gt_group, groups, side="right") - gt_start
        n_u = groups.size
        g_max = int(gt_count.max()) if n_u else 0
        d_max = int(dt_count.max()) if n_u else 0
        n_dt = dets.group.size
        gt_index = np.full((n_a, n_t, n_dt), -1, dtype=np.int64)

        if g_max > 0 and d_max > 0:
            oks = self._group_oks(dets, dt_start, dt_count, gt_start, gt_count, d_max, g_max)

            # padded ground-truth attributes (U, G)
            gpos = np.arange(g_max)
            g_valid = gpos[None, :] < gt_count[:, None]
            g_idx = np.where(g_valid, gt_start[:, None] + gpos[None, :], 0)
            g_crowd = self._gt_crowd[g_idx] & g_valid
            g_ig = gt_ignore[:, g_idx]  # (A, U, G)

            # pycocotools' scan, vectorised over (area range, threshold, group) and looped over the ground
            # truths: non-ignored ones first, then (only where none matched) the ignored ones; a ground
            # truth replaces the running best when its OKS is >= it (ties go to the later one), the running
            # best starting at the threshold. Groups are taken by decreasing ground-truth count, so that the
            # groups having a g-th ground truth are a prefix (slices, not copies).
            matched_gt = np.zeros((n_a, n_t, n_u, g_max), dtype=bool)
            for d in range(d_max):
                act = np.flatnonzero((dt_count > d) & (gt_count > 0))
                if act.size == 0:
                    continue
                act = act[np.argsort(-gt_count[act], kind="stable")]
                prefix = np.searchsorted(-gt_count[act], -np.arange(g_max), side="right")  # groups with > g
                o = oks[act, d, :]  # (u, G)
                free = ~(matched_gt[:, :, act] & ~g_crowd[act])  # (A, T, u, G)
                ig = g_ig[:, act]  # (A, u, G)
                best = np.repeat(thr[None, :, None], act.size, axis=2).repeat(n_a, axis=0)  # (A, T, u)
                m = np.full(best.shape, -1, dtype=np.int64)
                for ignored in (False, True):
                    none = m < 0 if ignored else None
                    for g in range(int(gt_count[act[0]])):
                        n = int(prefix[g])
                        og = o[:n, g]
                        cand = free[:, :, :n, g] & (og >= best[:, :, :n])
                        cand &= (ig[:, None, :n, g] if ignored else ~ig[:, None, :n, g])
                        if ignored:
                            cand &= none[:, :, :n]
                        np.copyto(best[:, :, :n], og, where=cand)
                        np.copyto(m[:, :, :n], g, where=cand)
                found = m >= 0
                a_i, t_i, u_i = np.nonzero(found)
                matched_gt[a_i, t_i, act[u_i], m[found]] = True
                gt_index[:, :, dt_start[act] + d] = np.where(found, gt_start[act][None, None] + m, -1)

        has = gt_index >= 0
        safe = np.where(has, gt_index, 0)
        a_idx = np.arange(n_a)[:, None, None]
        if self._gt_id_nonzero.size:
            matched = has & self._gt_id_nonzero[safe]
            hit_ignored = has & gt_ignore[a_idx, safe]
        else:  # no ground truth at all: nothing is matched
            matched = hit_ignored = np.zeros_like(has)
        dt_out = (dets.areas[None, :] < rng[:, :1]) | (dets.areas[None, :] > rng[:, 1:])  # (A, N)
        dt_ignore = hit_ignored | (~matched & dt_out[:, None, :])
        return Matches(
            dt_source_index=dets.source_index,
            dt_group=dets.group,
            dt_image_id=self.image_ids[dets.group % self.image_ids.size],
            dt_scores=dets.scores,
            dt_keypoints=dets.keypoints,
            gt_index=gt_index,
            dt_ignore=dt_ignore,
            gt_ignore=gt_ignore,
            matched=matched,
        )

    def _group_oks(
        self,
        dets: _Detections,
        dt_start: np.ndarray,
        dt_count: np.ndarray,
        gt_start: np.ndarray,
        gt_count: np.ndarray,
        d_max: int,
        g_max: int,
    ) -> np.ndarray:
        """``(U, D, G)`` OKS of every (detection, ground truth) pair of each group, -inf on the padding:
        computed per block of groups of equal (detection count, ground-truth count), on the block's grid."""
        oks = np.full((dt_count.size, d_max, g_max), -np.inf)
        key = dt_count * (g_max + 1) + gt_count
        order = np.argsort(key, kind="stable")
        keys, starts, counts = _segments(key[order])
        for kv, s0, c in zip(keys.tolist(), starts.tolist(), counts.tolist(), strict=True):
            n_d, n_g = divmod(kv, g_max + 1)
            if n_g == 0 or n_d == 0:
                continue
            for b in range(s0, s0 + c, _BLOCK_GROUPS):  # bounded temporaries
                us = order[b : min(b + _BLOCK_GROUPS, s0 + c)]
                di = dt_start[us][:, None] + np.arange(n_d)  # (n, D)
                gi = gt_start[us][:, None] + np.arange(n_g)  # (n, G)
                oks[us, :n_d, :n_g] = oks_grid(
                    dets.keypoints[di], self._gt_kpts[gi], self._gt_area[gi], self._gt_bbox[gi], self.sigmas
                )
        return oks

    def match(
        self,
        results: str | os.PathLike | Sequence[Mapping[str, Any]],
        thresholds: Sequence[float] | np.ndarray = IOU_THRESHOLDS,
        area_ranges: Sequence[tuple[float, float]] | np.ndarray = AREA_RANGES,
    ) -> Matches:
        """pycocotools' ``evaluateImg`` matching for a result set at the given OKS thresholds and area
        ranges (e.g. one threshold of 0.1 for the error analysis)."""
        res = check_keypoint_results(results, self.gt, self.num_keypoints)
        return self._match(
            self._detections(res), np.asarray(thresholds, dtype=np.float64), np.asarray(area_ranges)
        )

    # ------------------------------------------------------------------ accumulate
    def evaluate(self, results: str | os.PathLike | Sequence[Mapping[str, Any]]) -> CocoEvalResult:
        """Evaluate a result set (JSON path or list of result dicts); see :class:`CocoEvalResult`."""
        res = check_keypoint_results(results, self.gt, self.num_keypoints)
        dets = self._detections(res)
        mt = self._match(dets, IOU_THRESHOLDS, np.asarray(AREA_RANGES))
        n_img = self.image_ids.size
        n_t, n_r, n_c, n_a = (
            IOU_THRESHOLDS.size,
            RECALL_THRESHOLDS.size,
            self.category_ids.size,
            len(AREA_RANGES),
        )
        precision = -np.ones((n_t, n_r, n_c, n_a))
        recall = -np.ones((n_t, n_c, n_a))
        dt_cat = dets.group // n_img
        tps_all = mt.matched & ~mt.dt_ignore  # (A, T, N)
        fps_all = ~mt.matched & ~mt.dt_ignore
        eps = np.spacing(1)
        for c in range(n_c):
            sel = np.flatnonzero(dt_cat == c)  # (image, rank) order = pycocotools' concatenation
            inds = np.argsort(-dets.scores[sel], kind="mergesort")
            cols = sel[inds]
            gt_cat = self._gt_cat == c
            for a in range(n_a):
                npig = int(np.count_nonzero(gt_cat & ~mt.gt_ignore[a]))
                if npig == 0:
                    continue
                tp = np.cumsum(tps_all[a][:, cols], axis=1).astype(float)  # (T, n)
                fp = np.cumsum(fps_all[a][:, cols], axis=1).astype(float)
                nd = tp.shape[1]
                if nd == 0:
                    recall[:, c, a] = 0
                    precision[:, :, c, a] = 0
                    continue
                rc = tp / npig
                pr = tp / (fp + tp + eps)
                recall[:, c, a] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                for t in range(n_t):
                    ri = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                    inside = ri < nd
                    precision[t, :, c, a] = np.where(inside, pr[t, np.minimum(ri, nd - 1)], 0.0)
        stats = _summarize(precision, recall)
        return CocoEvalResult(
            stats=stats,
            precision=precision,
            recall=recall,
            iou_thresholds=IOU_THRESHOLDS.copy(),
            recall_thresholds=RECALL_THRESHOLDS.copy(),
            category_ids=self.category_ids.copy(),
            area_labels=AREA_LABELS,
        )


def _index_of(sorted_ids: np.ndarray, values: list[Any], lookup: Mapping[Any, int]) -> np.ndarray:
    """``(N,)`` int64 position of each value in ``sorted_ids`` (every value is known: checked before), by
    ``searchsorted`` when the values convert to an integer array that hits exactly, else by ``lookup``."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        arr = np.asarray([], dtype=object)
    if arr.ndim == 1 and arr.dtype.kind in "iu" and sorted_ids.dtype.kind in "iu":  # floats: exact lookup
        idx = np.minimum(np.searchsorted(sorted_ids, arr), sorted_ids.size - 1)
        if np.array_equal(sorted_ids[idx], arr):
            return idx.astype(np.int64, copy=False)
    return np.asarray([lookup[v] for v in values], dtype=np.int64)


def _segments(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys of a sorted array with their start and length, ``(U,)`` each."""
    if sorted_keys.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    counts = np.diff(np.r_[starts, sorted_keys.size])
    return sorted_keys[starts], starts, counts


def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """pycocotools' ``_summarizeKps``: means over the entries > -1 (-1 when none)."""

    def mean(s: np.ndarray) -> float:
        v = s[s > -1]
        return float(np.mean(v)) if v.size else -1.0

    def t_sel(x: float | None) -> np.ndarray:
        return np.arange(IOU_THRESHOLDS.size) if x is None else np.where(x == IOU_THRESHOLDS)[0]

    vals = []
    for ap in (True, False):
        for thr, a in ((None, 0), (0.5, 0), (0.75, 0), (None, 1), (None, 2)):
            s = precision[t_sel(thr)][:, :, :, a] if ap else recall[t_sel(thr)][:, :, a]
            vals.append(mean(s))
    return dict(zip(STAT_NAMES, vals, strict=True))


def evaluate_coco(
    gt: str | os.PathLike | Mapping[str, Any],
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    sigmas: Any = None,
    max_dets: int = MAX_DETS,
) -> dict[str, float]:
    """The 10 COCO keypoint statistics (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl) by our
    evaluator; same inputs and numbers as :func:`~enhancenet_core.metrics.coco.evaluate_with_pycocotools`."""
    return CocoKeypointEvaluator(gt, sigmas=sigmas, max_dets=max_dets).evaluate(results).stats
