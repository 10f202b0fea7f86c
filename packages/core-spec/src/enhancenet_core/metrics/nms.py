"""OKS-NMS and HRNet's rescoring for top-down COCO evaluation with detector boxes.

HRNet's test pipeline (``lib/dataset/coco.py`` ``evaluate`` + ``lib/nms/nms.py``), reproduced here:

1. every person box gives one pose (N, K, 3) (x, y, keypoint score) and carries the box score and the
   box area ``area = (scale_w · 200) · (scale_h · 200)`` (the enlarged box of the crop);
2. rescoring: ``score = box_score × mean(keypoint scores > in_vis_thre)`` (0 when no keypoint passes;
   HRNet uses in_vis_thre = 0.2);
3. per image, OKS-NMS at ``oks_thre`` = 0.9: visit poses by descending score, keep one, drop every
   remaining pose whose OKS with it is > the threshold.

The OKS of NMS (:func:`oks_iou`) differs from the evaluation OKS: the area is the mean of the two
poses' areas, every keypoint counts (no visibility flags), and with ``in_vis_thre`` set HRNet's
``list(vg > t) and list(vd > t)`` evaluates to the *candidate's* mask ``vd > t`` alone (Python ``and``
of two non-empty lists returns the second); we keep that behaviour (named ``in_vis_thre``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from enhancenet_core.metrics.oks import AREA_EPS, as_sigmas

#: HRNet's defaults (``TEST.IN_VIS_THRE``, ``TEST.OKS_THRE``).
HRNET_IN_VIS_THRE: float = 0.2
HRNET_OKS_THRE: float = 0.9


def oks_iou(
    g: np.ndarray,
    d: np.ndarray,
    a_g: float,
    a_d: np.ndarray,
    sigmas: Any = None,
    in_vis_thre: float | None = None,
) -> np.ndarray:
    """OKS of one pose against N others, as HRNet's ``oks_iou``.

    Args:
        g: ``(K, 3)`` or ``(3K,)`` the kept pose (x, y, score).
        d: ``(N, K, 3)`` or ``(N, 3K)`` the candidates.
        a_g: area of ``g``; ``a_d``: ``(N,)`` areas of the candidates.
        sigmas: ``(K,)``; default COCO.
        in_vis_thre: when set, only keypoints whose *candidate* score is > it count; a candidate with
            none scores 0.

    Returns:
        ``(N,)`` OKS values.
    """
    gk = np.asarray(g, dtype=np.float64).reshape(-1, 3)
    dk = np.asarray(d, dtype=np.float64).reshape(-1, gk.shape[0], 3)
    sig = as_sigmas(sigmas, gk.shape[0])
    variances = (sig * 2) ** 2
    a_d = np.asarray(a_d, dtype=np.float64).reshape(-1)
    dx = dk[..., 0] - gk[None, :, 0]
    dy = dk[..., 1] - gk[None, :, 1]
    e = (dx**2 + dy**2) / variances / ((a_g + a_d[:, None]) / 2 + AREA_EPS) / 2
    sim = np.exp(-e)
    if in_vis_thre is None:
        return np.sum(sim, axis=-1) / sim.shape[-1]
    mask = dk[..., 2] > in_vis_thre
    count = np.count_nonzero(mask, axis=-1)
    total = np.sum(np.where(mask, sim, 0.0), axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def oks_nms_arrays(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    thresh: float,
    sigmas: Any = None,
    in_vis_thre: float | None = None,
) -> np.ndarray:
    """Greedy OKS-NMS over the poses of one image.

    Args:
        keypoints: ``(N, K, 3)`` poses (x, y, keypoint score).
        scores: ``(N,)`` pose scores; areas: ``(N,)`` pose areas.
        thresh: a pose is dropped when its OKS with a kept pose is > ``thresh``.
        sigmas, in_vis_thre: see :func:`oks_iou`.

    Returns:
        ``(M,)`` int indices of the kept poses, in visiting order (descending score; among equal scores
        the later index first, i.e. a stable sort reversed — HRNet's default quicksort leaves that order
        unspecified).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp.reshape(kp.shape[0], -1, 3)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"keypoints: expected shape (N, K, 3) with last axis (x, y, score), got {kp.shape}")
    n = kp.shape[0]
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    ar = np.asarray(areas, dtype=np.float64).reshape(-1)
    if sc.size != n or ar.size != n:
        raise ValueError(f"scores ({sc.size}) and areas ({ar.size}) must have one value per pose (N = {n})")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sig = as_sigmas(sigmas, kp.shape[1])
    # full OKS matrix: row i = kept pose, column j = candidate
    variances = (sig * 2) ** 2
    dx = kp[None, :, :, 0] - kp[:, None, :, 0]
    dy = kp[None, :, :, 1] - kp[:, None, :, 1]
    e = (dx**2 + dy**2) / variances / ((ar[:, None, None] + ar[None, :, None]) / 2 + AREA_EPS) / 2
    sim = np.exp(-e)
    if in_vis_thre is None:
        ovr = np.sum(sim, axis=-1) / sim.shape[-1]
    else:
        mask = np.broadcast_to(kp[None, :, :, 2] > in_vis_thre, sim.shape)
        count = np.count_nonzero(mask, axis=-1)
        ovr = np.where(count > 0, np.sum(np.where(mask, sim, 0.0), axis=-1) / np.maximum(count, 1), 0.0)
    order = np.argsort(sc, kind="stable")[::-1]
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[ovr[i, rest] <= thresh]
    return np.asarray(keep, dtype=np.int64)


def oks_nms(
    kpts_db: Sequence[Mapping[str, Any]],
    thresh: float,
    sigmas: Any = None,
    in_vis_thre: float | None = None,
) -> list[int]:
    """HRNet's ``oks_nms``: entries with ``keypoints`` ((K, 3) or (3K,)), ``score`` and ``area``.

    Returns the indices (into ``kpts_db``) of the kept entries; see :func:`oks_nms_arrays`.
    """
    if len(kpts_db) == 0:
        return []
    for i, e in enumerate(kpts_db):
        for key in ("keypoints", "score", "area"):
            if key not in e:
                raise ValueError(f"kpts_db: entry #{i} has no '{key}'")
    kp = np.stack([np.asarray(e["keypoints"], dtype=np.float64).reshape(-1, 3) for e in kpts_db])
    sc = np.asarray([e["score"] for e in kpts_db], dtype=np.float64)
    ar = np.asarray([e["area"] for e in kpts_db], dtype=np.float64)
    return oks_nms_arrays(kp, sc, ar, thresh, sigmas, in_vis_thre).tolist()


def rescore(
    keypoints: np.ndarray, box_scores: np.ndarray, in_vis_thre: float = HRNET_IN_VIS_THRE
) -> np.ndarray:
    """HRNet's rescoring: ``box_score × mean(keypoint scores > in_vis_thre)`` (0 when none passes).

    Args:
        keypoints: ``(N, K, 3)`` (x, y, keypoint score); box_scores: ``(N,)``.

    Returns:
        ``(N,)`` new pose scores.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"keypoints: expected shape (N, K, 3) with last axis (x, y, score), got {kp.shape}")
    bs = np.asarray(box_scores, dtype=np.float64).reshape(-1)
    if bs.size != kp.shape[0]:
        raise ValueError(f"box_scores: expected {kp.shape[0]} values, got {bs.size}")
    s = kp[..., 2]
    valid = s > in_vis_thre
    n = np.count_nonzero(valid, axis=-1)
    kpt_score = np.where(n > 0, np.sum(np.where(valid, s, 0.0), axis=-1) / np.maximum(n, 1), 0.0)
    return kpt_score * bs


def rescore_and_nms(
    keypoints: np.ndarray,
    box_scores: np.ndarray,
    areas: np.ndarray,
    image_ids: np.ndarray | Sequence[int],
    in_vis_thre: float = HRNET_IN_VIS_THRE,
    oks_thre: float = HRNET_OKS_THRE,
    sigmas: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """HRNet's post-processing of top-down predictions: rescoring, then OKS-NMS per image.

    Args:
        keypoints: ``(N, K, 3)`` predictions in image pixels (x, y, keypoint score).
        box_scores: ``(N,)`` detector scores; areas: ``(N,)`` box areas (HRNet: ``s_w·s_h·200²``).
        image_ids: ``(N,)``.
        in_vis_thre: keypoint-score threshold of the rescoring (HRNet 0.2).
        oks_thre: NMS threshold (HRNet 0.9). NMS uses all keypoints (HRNet calls it without in_vis_thre).
        sigmas: ``(K,)``; default COCO.

    Returns:
        ``(keep, scores)``: ``keep`` ``(M,)`` indices of the kept predictions (images in order of first
        appearance, within an image in NMS order); ``scores`` ``(N,)`` the rescored values of all N.
    """
    new_scores = rescore(keypoints, box_scores, in_vis_thre)
    kp = np.asarray(keypoints, dtype=np.float64)
    ids = np.asarray(image_ids).reshape(-1)
    ar = np.asarray(areas, dtype=np.float64).reshape(-1)
    if ids.size != kp.shape[0] or ar.size != kp.shape[0]:
        raise ValueError(f"image_ids ({ids.size}) and areas ({ar.size}) must have N = {kp.shape[0]} values")
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    by_image = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_image], np.arange(first.size + 1))
    keep: list[np.ndarray] = []
    for u in np.argsort(first, kind="stable"):
        members = by_image[bounds[u] : bounds[u + 1]]
        k = oks_nms_arrays(kp[members], new_scores[members], ar[members], oks_thre, sigmas)
        keep.append(members[k] if k.size else members)
    return (np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)), new_scores
