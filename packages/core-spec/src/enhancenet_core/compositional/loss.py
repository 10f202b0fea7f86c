"""DLCM's training loss with EnhanceNet, for any tensor type, and its NumPy reference.

    L = lr_weight * sum_s L^LR_s  +  eta * L^HR

with one term per stack ``s`` (bottom-up 1 .. L, top-down L-1 .. 1): the weighted joint MSE of the stack's
maps against the target of its own level (``levels[s]``), so every level is supervised and every stack but
the last is intermediate supervision; the last stack's level-1 maps are M^LR. ``L^HR`` is the weighted joint
MSE of M^HR against the joint Gaussians at r·σ (EnhanceNet enhances the final joint maps only).

The per-map loss is HRNet's ``JointsMSELoss`` (``0.5 · mean((w·(pred - target))^2)`` over N, channels, H,
W) as everywhere in this project, not the authors' plain ``MSECriterion`` (no 0.5, empty maps supervised
towards zero unless ``-ignoreEmptyLabel``); OHKM is not used with DLCM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from enhancenet_core.config import LossConfig

__all__ = ["dlcm_loss", "dlcm_loss_terms", "joints_mse", "level_batch", "level_target_keys"]

T = TypeVar("T")
MapLoss = Callable[[T, T, T], T]


def joints_mse(
    pred: ArrayLike, target: ArrayLike, weight: ArrayLike, use_target_weight: bool = True
) -> float:
    """HRNet's ``JointsMSELoss``: ``0.5 · mean over (N, P, H, W) of (w · (pred - target))^2`` (float64).

    ``pred``/``target`` ``(N, P, H, W)``; ``weight`` ``(N, P)`` or ``(N, P, 1)``, ignored without
    ``use_target_weight``.
    """
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 4:
        raise ValueError(f"pred and target must be (N, P, H, W) of one shape, got {p.shape} and {t.shape}")
    diff = p - t
    if use_target_weight:
        w = np.asarray(weight, dtype=np.float64).reshape(p.shape[0], p.shape[1], 1, 1)
        diff = diff * w
    return float(0.5 * np.mean(diff**2))


def level_target_keys(level: int) -> tuple[str, str]:
    """The batch keys of a level's target and weight: level 1 (the joints) uses the ordinary ``target_lr`` /
    ``target_weight_lr`` of every base model, level ``l >= 2`` ``target_level{l}`` / ``target_weight_level{l}``."""
    if level < 1:
        raise ValueError(f"level must be >= 1, got {level}")
    if level == 1:
        return "target_lr", "target_weight_lr"
    return f"target_level{level}", f"target_weight_level{level}"


def level_batch(
    outputs: Mapping[str, Any], batch: Mapping[str, Any], num_levels: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A framework model's outputs and a collated batch in :func:`dlcm_loss_terms`' form.

    ``outputs``: ``"intermediate"`` (the stacks before the last) and ``"lr"`` (the last, M^LR) become
    ``"stacks"``, ``"hr"`` is kept; ``batch``: the :func:`level_target_keys` of levels ``1 .. num_levels`` become
    ``"targets"`` / ``"target_weights"``, ``target_hr`` / ``target_weight_hr`` are kept when present. A missing
    key raises ValueError naming it.
    """
    out = {"stacks": [*(outputs.get("intermediate") or ()), outputs["lr"]], "hr": outputs.get("hr")}
    targets, weights = [], []
    for lv in range(1, num_levels + 1):
        t_key, w_key = level_target_keys(lv)
        for key in (t_key, w_key):
            if key not in batch:
                raise ValueError(f"DLCM loss: the batch has no {key!r} (level {lv}'s target); is the data a DLCM config's?")
        targets.append(batch[t_key])
        weights.append(batch[w_key])
    b: dict[str, Any] = {"targets": targets, "target_weights": weights}
    b.update({k: batch[k] for k in ("target_hr", "target_weight_hr") if k in batch})
    return out, b


def dlcm_loss_terms(
    outputs: Mapping[str, Any],
    batch: Mapping[str, Any],
    levels: Sequence[int],
    cfg: LossConfig,
    head_enabled: bool,
    mse: MapLoss,
    detach: Callable[[T], T],
) -> dict[str, Any]:
    """The loss terms of one batch.

    Args:
        outputs: ``"stacks"``: one ``(N, P_l, h, w)`` map per stack, ``levels[s]`` its level, the last of level
            1 (M^LR); ``"hr"`` ``(N, K, rh, rw)`` when the head is on.
        batch: ``"targets"`` / ``"target_weights"``: per level 1 .. L, ``(N, P_l, h, w)`` / ``(N, P_l)``;
            with the head ``"target_hr"`` and ``"target_weight_hr"``.
        levels: the level of each stack, e.g. ``(1, 2, 3, 2, 1)``.
        cfg: ``lr_weight`` and ``hr_weight`` (η).
        head_enabled: whether ``outputs["hr"]`` exists and is supervised.
        mse: ``(pred, target, weight) -> scalar`` (:func:`joints_mse` or a framework's).
        detach: cuts a scalar from the autograd graph (for the logged terms).

    Returns:
        ``"loss"`` (to back-propagate), ``"loss_lr"`` (sum of the stack terms, before ``lr_weight``),
        ``"loss_stacks"`` (each stack's term), and with the head ``"loss_hr"`` (before η); logged terms detached.
    """
    stacks = outputs.get("stacks")
    if not stacks or len(stacks) != len(levels):
        raise ValueError(
            f"DLCM loss: expected {len(levels)} stack outputs, got {0 if not stacks else len(stacks)}"
        )
    if levels[-1] != 1:
        raise ValueError(
            f"DLCM loss: the last stack must predict level 1 (the joints), got levels {tuple(levels)}"
        )
    targets, weights = batch.get("targets"), batch.get("target_weights")
    if targets is None or weights is None or len(targets) < max(levels) or len(weights) < max(levels):
        raise ValueError(f"DLCM loss: batch needs 'targets' and 'target_weights' for levels 1..{max(levels)}")
    # an index loop, not zip(strict=...) (the lengths are checked above): MindSpore's GRAPH_MODE compiles this body
    terms = [mse(stacks[s], targets[levels[s] - 1], weights[levels[s] - 1]) for s in range(len(levels))]
    lr_loss = terms[0]
    for term in terms[1:]:
        lr_loss = lr_loss + term
    total = cfg.lr_weight * lr_loss
    result: dict[str, Any] = {"loss_lr": detach(lr_loss), "loss_stacks": [detach(t) for t in terms]}
    if head_enabled:
        if outputs.get("hr") is None:
            raise ValueError("DLCM loss: the head is enabled but model outputs have no 'hr' maps")
        if "target_hr" not in batch or "target_weight_hr" not in batch:
            raise ValueError(
                "DLCM loss: the head is enabled but the batch has no 'target_hr'/'target_weight_hr'"
            )
        hr_loss = mse(outputs["hr"], batch["target_hr"], batch["target_weight_hr"])
        total = total + cfg.hr_weight * hr_loss
        result["loss_hr"] = detach(hr_loss)
    result["loss"] = total
    return result


def dlcm_loss(
    outputs: Mapping[str, Any],
    batch: Mapping[str, Any],
    levels: Sequence[int],
    cfg: LossConfig,
    head_enabled: bool,
) -> dict[str, Any]:
    """:func:`dlcm_loss_terms` with :func:`joints_mse` (``cfg.use_target_weight``) on NumPy arrays."""

    def mse(p: Any, t: Any, w: Any) -> float:
        return joints_mse(p, t, w, cfg.use_target_weight)

    return dlcm_loss_terms(outputs, batch, levels, cfg, head_enabled, mse, lambda x: x)
