"""Object keypoint similarity (OKS): the COCO per-keypoint constants and the vectorized OKS matrix.

Dimensions used throughout: D detections, G ground truths, K keypoints. Keypoint arrays are
``(..., K, 3)`` with last axis ``(x, y, v)`` (``v`` is the COCO visibility flag for ground truth and the
keypoint score for detections) or ``(..., K, 2)`` with last axis ``(x, y)``.

The formula is the one of ``pycocotools.cocoeval.COCOeval.computeOks``, in the same operation order
(so results agree with it to the last few ulps):

    e_k = (dx_k² + dy_k²) / (2σ_k)² / (area + eps) / 2,   OKS = mean_k exp(-e_k)

where the mean runs over the ground truth's labelled keypoints (``v > 0``). A ground truth with no
labelled keypoint is compared through its box doubled in size: ``dx`` is the distance of the detected
keypoint to the interval ``[x - w, x + 2w]`` (zero inside), likewise ``dy``, and the mean runs over all K.
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.datasets import DatasetName, dataset_info

_COCO = dataset_info(DatasetName.COCO)

#: COCO person keypoint σ (pycocotools ``Params.kpt_oks_sigmas``), in the COCO keypoint order: the ``oks_sigmas``
#: of the COCO row of :data:`enhancenet_core.datasets.DATASETS`.
COCO_SIGMAS: np.ndarray = np.array(_COCO.oks_sigmas, dtype=np.float64)
COCO_SIGMAS.setflags(write=False)

#: CrowdPose σ (14 keypoints: l/r shoulder, elbow, wrist, hip, knee, ankle, head top, neck), from the
#: CrowdPose API (``crowdposetools``).
CROWDPOSE_SIGMAS: np.ndarray = (
    np.array([0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89, 0.79, 0.79]) / 10.0
)
CROWDPOSE_SIGMAS.setflags(write=False)

#: COCO keypoint names (category ``person``), from the data-set table.
COCO_KEYPOINT_NAMES: tuple[str, ...] = _COCO.keypoint_names

#: Left/right counterpart of every COCO keypoint (``COCO_FLIP_INDEX[k]`` is the mirror of ``k``).
COCO_FLIP_INDEX: tuple[int, ...] = _COCO.flip_index

#: ``np.spacing(1)``: the epsilon pycocotools adds to the area.
AREA_EPS: float = float(np.spacing(1))

SIGMA_PRESETS: dict[str, np.ndarray] = {"coco": COCO_SIGMAS, "crowdpose": CROWDPOSE_SIGMAS}


def as_sigmas(
    sigmas: np.ndarray | list[float] | tuple[float, ...] | str | None, num_keypoints: int | None = None
) -> np.ndarray:
    """Validate per-keypoint σ and return them as a float64 array of shape ``(K,)``.

    Args:
        sigmas: ``None`` (COCO), a preset name (``"coco"``, ``"crowdpose"``) or K positive numbers.
        num_keypoints: when given, the K the σ must have.
    """
    if sigmas is None:
        out = np.array(COCO_SIGMAS)
    elif isinstance(sigmas, str):
        if sigmas.lower() not in SIGMA_PRESETS:
            raise ValueError(
                f"sigmas: unknown preset {sigmas!r}; expected one of {sorted(SIGMA_PRESETS)} or numbers"
            )
        out = np.array(SIGMA_PRESETS[sigmas.lower()])
    else:
        out = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if out.size == 0 or not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError(f"sigmas: expected K > 0 finite positive numbers, got {out.tolist()}")
    if num_keypoints is not None and out.size != num_keypoints:
        raise ValueError(f"sigmas: got {out.size} values but the keypoints have K = {num_keypoints}")
    return out


def keypoint_similarity(
    pred_xy: np.ndarray, gt_xy: np.ndarray, areas: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """Per-keypoint similarity ``ks = exp(-d² / (2σ)² / (area + eps) / 2)`` (no visibility handling).

    Args:
        pred_xy: ``(..., K, 2)`` predicted keypoints, last axis (x, y).
        gt_xy: ``(..., K, 2)`` ground-truth keypoints, broadcastable with ``pred_xy``.
        areas: ``(...)`` ground-truth areas, broadcastable with the leading axes.
        sigmas: ``(K,)``.

    Returns:
        ``(..., K)`` similarities in (0, 1].
    """
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    d = np.asarray(pred_xy, dtype=np.float64) - np.asarray(gt_xy, dtype=np.float64)
    sq = d[..., 0] ** 2 + d[..., 1] ** 2
    e = sq / variances / (np.asarray(areas, dtype=np.float64)[..., None] + AREA_EPS) / 2
    return np.exp(-e)


def oks_pairs(
    dt_kpts: np.ndarray,
    gt_kpts: np.ndarray,
    gt_areas: np.ndarray,
    gt_boxes: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS of P (detection, ground truth) pairs, exactly as pycocotools ``computeOks``.

    Args:
        dt_kpts: ``(P, K, 2|3)`` detected keypoints (x, y[, score]); the score is not used.
        gt_kpts: ``(P, K, 3)`` ground-truth keypoints (x, y, v).
        gt_areas: ``(P,)`` ground-truth ``area`` fields.
        gt_boxes: ``(P, 4)`` ground-truth boxes (x, y, w, h); only used for a ground truth without a
            labelled keypoint (its box doubled in size).
        sigmas: ``(K,)``.

    Returns:
        ``(P,)`` OKS values.
    """
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    xd, yd = dt_kpts[..., 0], dt_kpts[..., 1]
    xg, yg, vg = gt_kpts[..., 0], gt_kpts[..., 1], gt_kpts[..., 2]
    labelled = vg > 0
    k1 = np.count_nonzero(labelled, axis=-1)
    has_kpts = k1 > 0
    dx = xd - xg
    dy = yd - yg
    if not np.all(has_kpts):
        bb = gt_boxes
        x0 = (bb[:, 0] - bb[:, 2])[:, None]
        x1 = (bb[:, 0] + bb[:, 2] * 2)[:, None]
        y0 = (bb[:, 1] - bb[:, 3])[:, None]
        y1 = (bb[:, 1] + bb[:, 3] * 2)[:, None]
        bdx = np.maximum(0.0, x0 - xd) + np.maximum(0.0, xd - x1)
        bdy = np.maximum(0.0, y0 - yd) + np.maximum(0.0, yd - y1)
        use_box = ~has_kpts[:, None]
        dx = np.where(use_box, bdx, dx)
        dy = np.where(use_box, bdy, dy)
    e = (dx**2 + dy**2) / variances / (gt_areas[:, None] + AREA_EPS) / 2
    sim = np.exp(-e)
    mask = np.where(has_kpts[:, None], labelled, True)
    count = np.where(has_kpts, k1, sim.shape[-1])
    return np.sum(np.where(mask, sim, 0.0), axis=-1) / count


def oks_grid(
    dt_kpts: np.ndarray,
    gt_kpts: np.ndarray,
    gt_areas: np.ndarray,
    gt_boxes: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS of every detection with every ground truth of the same block, batched over leading axes ``B``:
    the operations of :func:`oks_pairs` on the broadcast ``(..., D, G, K)`` grid, so that the values are
    bit-identical to it, without gathering a copy of each keypoint array per pair; in place where it can.

    Args:
        dt_kpts: ``(..., D, K, 2|3)`` float64 detections (x, y[, score]).
        gt_kpts: ``(..., G, K, 3)`` float64 ground truths (x, y, v).
        gt_areas: ``(..., G)``; gt_boxes: ``(..., G, 4)`` (used only for a ground truth without a labelled
            keypoint); sigmas: ``(K,)``.

    Returns:
        ``(..., D, G)`` OKS values.
    """
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    xd, yd = dt_kpts[..., :, None, :, 0], dt_kpts[..., :, None, :, 1]  # (..., D, 1, K)
    xg, yg, vg = gt_kpts[..., None, :, :, 0], gt_kpts[..., None, :, :, 1], gt_kpts[..., None, :, :, 2]
    labelled = vg > 0  # (..., 1, G, K)
    k1 = np.count_nonzero(labelled, axis=-1)  # (..., 1, G)
    has_kpts = k1 > 0
    dx = xd - xg  # (..., D, G, K)
    dy = yd - yg
    if not np.all(has_kpts):
        bb = gt_boxes[..., None, :, None, :]  # (..., 1, G, 1, 4)
        x0, x1 = bb[..., 0] - bb[..., 2], bb[..., 0] + bb[..., 2] * 2
        y0, y1 = bb[..., 1] - bb[..., 3], bb[..., 1] + bb[..., 3] * 2
        bdx = np.maximum(0.0, x0 - xd) + np.maximum(0.0, xd - x1)
        bdy = np.maximum(0.0, y0 - yd) + np.maximum(0.0, yd - y1)
        use_box = ~has_kpts[..., None]
        dx = np.where(use_box, bdx, dx)
        dy = np.where(use_box, bdy, dy)
    e = np.square(dx, out=dx)  # (dx² + dy²) / var / (area + eps) / 2, pycocotools' order
    e += np.square(dy, out=dy)
    e /= variances
    e /= np.asarray(gt_areas, dtype=np.float64)[..., None, :, None] + AREA_EPS
    e /= 2
    sim = np.exp(np.negative(e, out=e), out=e)
    np.copyto(sim, 0.0, where=~np.where(has_kpts[..., None], labelled, True))
    count = np.where(has_kpts, k1, sim.shape[-1])
    return np.sum(sim, axis=-1) / count


def oks_matrix(
    dt_kpts: np.ndarray,
    gt_kpts: np.ndarray,
    gt_areas: np.ndarray,
    gt_boxes: np.ndarray | None = None,
    sigmas: np.ndarray | None = None,
) -> np.ndarray:
    """OKS between every detection and every ground truth of one image (pycocotools ``computeOks``).

    Args:
        dt_kpts: ``(D, K, 2|3)`` detections, last axis (x, y[, score]).
        gt_kpts: ``(G, K, 3)`` ground truths, last axis (x, y, v).
        gt_areas: ``(G,)``.
        gt_boxes: ``(G, 4)`` (x, y, w, h); needed only for ground truths without a labelled keypoint.
        sigmas: ``(K,)``; default COCO.

    Returns:
        ``(D, G)`` OKS matrix.
    """
    dt = np.asarray(dt_kpts, dtype=np.float64)
    gt = np.asarray(gt_kpts, dtype=np.float64)
    if dt.ndim != 3 or dt.shape[-1] not in (2, 3):
        raise ValueError(f"dt_kpts: expected shape (D, K, 2|3), got {dt.shape}")
    if gt.ndim != 3 or gt.shape[-1] != 3:
        raise ValueError(f"gt_kpts: expected shape (G, K, 3), got {gt.shape}")
    if dt.shape[1] != gt.shape[1]:
        raise ValueError(f"dt_kpts has K = {dt.shape[1]} keypoints but gt_kpts has K = {gt.shape[1]}")
    sig = as_sigmas(sigmas, gt.shape[1])
    n_d, n_g = dt.shape[0], gt.shape[0]
    areas = np.asarray(gt_areas, dtype=np.float64).reshape(n_g)
    boxes = np.zeros((n_g, 4)) if gt_boxes is None else np.asarray(gt_boxes, dtype=np.float64).reshape(n_g, 4)
    if gt_boxes is None and np.any(np.count_nonzero(gt[..., 2] > 0, axis=-1) == 0):
        raise ValueError("gt_boxes: required when a ground truth has no labelled keypoint (v > 0)")
    di, gi = np.meshgrid(np.arange(n_d), np.arange(n_g), indexing="ij")
    di, gi = di.reshape(-1), gi.reshape(-1)
    return oks_pairs(dt[di], gt[gi], areas[gi], boxes[gi], sig).reshape(n_d, n_g)
