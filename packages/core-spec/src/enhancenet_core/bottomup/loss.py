"""Associative Embedding losses as NumPy reference formulas (pose-ae-train's ``my_lib.c`` and ``HeatmapLoss``).

Dimensions: batch B, stacks S, person number P, keypoint number K, map ``(W, H)``, tag dimension T.

Tag loss, one image (pose-ae-train's C extension, which its training uses; ``task/loss.py``'s Python
``singleTagLoss`` gives the same numbers): for every person with n ≥ 1 tagged joints (joints drawn on the LR
map, :func:`enhancenet_core.bottomup.targets.joint_mask`), its tags ``t_1..t_n`` (each T values) and their mean
``m``:

* ``pull = mean over persons of [ (1/n) Σ_j ||t_j - m||² / T ]`` (the squared difference to the mean tag,
  averaged over the person's joints and over the tag dimension);
* ``push = 0.5 · mean over person pairs i < j of exp(-||m_i - m_j||²)`` (squared L2 over T, not averaged);
* persons with no tagged joint are left out; with no person both terms are 0; with one person push is 0.

Detection loss (``HeatmapLoss``): ``mean over K, H, W of (pred - target)² · mask`` per image (and stack), the
mask ``(H, W)`` shared by the joints; masked pixels still count in the mean (it is not renormalised).

Totals (``task/pose.py``): every term is averaged over images and stacks, then weighted: push 1e-3, pull 1e-3,
detection 1. With EnhanceNet the HR detection term (same formula on M^HR, its target at r·σ and the LR mask
repeated r × r) is added with weight η (Eq. 8).

The batch a framework's ``AssociativeEmbeddingLoss`` reads (the one contract between the runtime's
``collate_bottomup`` and every framework's loss; top-down's names where the meaning is the same)::

    target_lr    (B, K, h, w)        float32   multi-peak LR target, max over people, σ
    mask_lr      (B, h, w)           float32   LR loss mask (0 in crowds and outside the image)
    pixels       (B, P, K, 2)        int64     LR pixels (x, y) the tag loss reads (P padded per batch)
    joint_mask   (B, P, K)           bool      joints drawn on the LR map (the tag loss's joints)
    target_hr    (B, K, r·h, r·w)    float32   with the head: the HR target at r·σ
    mask_hr      (B, r·h, r·w)       float32   with the head: ``mask_lr`` repeated r × r

(:data:`AE_BATCH_KEYS`, and :data:`AE_HEAD_BATCH_KEYS` with the head.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AE_BATCH_KEYS",
    "AE_HEAD_BATCH_KEYS",
    "AE_LOSS_WEIGHTS",
    "ae_total_loss",
    "detection_loss",
    "gather_tags",
    "tag_loss",
]

AE_BATCH_KEYS = ("target_lr", "mask_lr", "pixels", "joint_mask")
"""The batch keys every AE loss reads (module docstring)."""
AE_HEAD_BATCH_KEYS = ("target_hr", "mask_hr")
"""The batch keys the AE loss also reads when the EnhanceNet head is on."""

AE_LOSS_WEIGHTS = {"push": 1e-3, "pull": 1e-3, "detection": 1.0}
"""pose-ae-train's ``__config__['train']['loss']`` weights."""


def gather_tags(tags: ArrayLike, pixels: ArrayLike) -> NDArray[np.float64]:
    """The tags under each joint.

    Args:
        tags: ``(B, K, H, W)`` (T = 1) or ``(B, K, H, W, T)`` tag maps.
        pixels: ``(B, P, K, 2)`` integer map pixels (x, y) (:func:`enhancenet_core.bottomup.targets.map_pixels`);
            pixels off the map are clipped (their joints must be masked out by the caller).

    Returns:
        ``(B, P, K, T)`` float64.
    """
    t = np.asarray(tags, dtype=np.float64)
    if t.ndim == 4:
        t = t[..., None]
    if t.ndim != 5:
        raise ValueError(f"tags must have shape (B, K, H, W) or (B, K, H, W, T), got {np.shape(tags)}")
    pix = np.asarray(pixels)
    b, k, h, w = t.shape[:4]
    if pix.ndim != 4 or pix.shape[0] != b or pix.shape[2] != k or pix.shape[3] != 2:
        raise ValueError(
            f"pixels must have shape ({b}, P, {k}, 2) for tags of shape {t.shape}, got {pix.shape}"
        )
    x = np.clip(pix[..., 0].astype(np.int64), 0, w - 1)
    y = np.clip(pix[..., 1].astype(np.int64), 0, h - 1)
    bi = np.arange(b)[:, None, None]
    ki = np.arange(k)[None, None, :]
    return t[bi, ki, y, x]


def tag_loss(tags: ArrayLike, pixels: ArrayLike, mask: ArrayLike) -> tuple[NDArray, NDArray]:
    """Push and pull per image.

    Args:
        tags: ``(B, K, H, W)`` or ``(B, K, H, W, T)`` tag maps of one stack.
        pixels: ``(B, P, K, 2)`` integer LR map pixels (x, y) of the ground-truth joints.
        mask: ``(B, P, K)`` which joints are tagged (drawn on the LR map).

    Returns:
        ``push`` ``(B,)`` and ``pull`` ``(B,)`` float64.
    """
    tj = gather_tags(tags, pixels)  # (B, P, K, T)
    m = np.asarray(mask, dtype=bool)
    if m.shape != tj.shape[:3]:
        raise ValueError(f"mask must have shape {tj.shape[:3]} (B, P, K), got {m.shape}")
    if not np.all(np.isfinite(tj[m])):
        raise ValueError("tags contain NaN or infinite values under the ground-truth joints")
    tdim = tj.shape[-1]
    n = m.sum(axis=2)  # (B, P)
    present = n > 0
    mw = m[..., None].astype(np.float64)
    mean = (tj * mw).sum(axis=2) / np.maximum(n, 1)[..., None]  # (B, P, T)
    sq = (((tj - mean[:, :, None, :]) ** 2).sum(axis=-1) / tdim) * m  # (B, P, K)
    per_person = sq.sum(axis=2) / np.maximum(n, 1)
    n_people = present.sum(axis=1)  # (B,)
    pull = np.where(n_people > 0, (per_person * present).sum(axis=1) / np.maximum(n_people, 1), 0.0)
    d2 = ((mean[:, :, None, :] - mean[:, None, :, :]) ** 2).sum(axis=-1)  # (B, P, P)
    pair = present[:, :, None] & present[:, None, :] & np.triu(np.ones(d2.shape[1:], bool), 1)[None]
    n_pairs = n_people * (n_people - 1) // 2
    push = 0.5 * np.where(n_pairs > 0, (np.exp(-d2) * pair).sum(axis=(1, 2)) / np.maximum(n_pairs, 1), 0.0)
    return push, pull


def detection_loss(pred: ArrayLike, target: ArrayLike, mask: ArrayLike) -> NDArray[np.float64]:
    """pose-ae-train's masked MSE per image: ``mean_{K,H,W} (pred - target)² · mask``.

    Args:
        pred: ``(B, K, H, W)`` or ``(B, S, K, H, W)`` detection maps (all stacks).
        target: ``(B, K, H, W)`` multi-peak targets.
        mask: ``(B, H, W)`` loss mask (:func:`enhancenet_core.bottomup.targets.crowd_loss_mask`).

    Returns:
        ``(B,)`` or ``(B, S)`` float64.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(target, dtype=np.float64)
    mk = np.asarray(mask, dtype=np.float64)
    if g.ndim != 4:
        raise ValueError(f"target must have shape (B, K, H, W), got {g.shape}")
    if mk.shape != (g.shape[0], *g.shape[2:]):
        raise ValueError(f"mask must have shape (B, H, W) = {(g.shape[0], *g.shape[2:])}, got {mk.shape}")
    if p.ndim == 5:
        g, mk = g[:, None], mk[:, None]
    elif p.ndim != 4:
        raise ValueError(f"pred must have shape (B, K, H, W) or (B, S, K, H, W), got {p.shape}")
    if p.shape[-3:] != g.shape[-3:] or p.shape[0] != g.shape[0]:
        raise ValueError(f"pred {p.shape} and target {g.shape} differ in batch or (K, H, W)")
    return (((p - g) ** 2) * mk[..., None, :, :]).mean(axis=(-3, -2, -1))


def ae_total_loss(
    push: ArrayLike,
    pull: ArrayLike,
    detection: ArrayLike,
    detection_hr: ArrayLike | None = None,
    eta: float = 1.0,
) -> float:
    """pose-ae-train's scalar loss (+ η · the HR detection term with EnhanceNet, Eq. 8).

    Each argument is the per-image (``(B,)``) or per-image-and-stack (``(B, S)``) term; each is averaged, then
    weighted by :data:`AE_LOSS_WEIGHTS`.
    """
    w = AE_LOSS_WEIGHTS
    total = w["push"] * np.mean(push) + w["pull"] * np.mean(pull) + w["detection"] * np.mean(detection)
    if detection_hr is not None:
        total += eta * w["detection"] * np.mean(detection_hr)
    return float(total)
