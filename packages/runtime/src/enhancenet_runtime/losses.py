"""The training losses' bookkeeping, written once for the three frameworks: which loss a config trains with, which
terms it has, their weights, the dict of named terms and the refusals. A framework writes only the tensor
primitives (HRNet's ``JointsMSELoss`` / ``JointsOHKMLoss``, the AE detection and tag losses, ``stack`` and
``detach``) and a thin loss class that resolves a :class:`LossPlan` at construction and calls the terms function
of its kind with those primitives.

Shapes: N instances, K keypoints, heat maps (N, K, H, W); ``target_weight`` (N, K) or (N, K, 1).

* Top-down (:func:`top_down_terms`, the rules of :func:`enhancenet_core.loss.enhancenet_loss_terms`, Sec. 3.2,
  Eq. 8): ``L = lr_weight * (L^LR(final) + sum_s L^LR(intermediate_s)) + eta * L^HR``; η is ``hr_weight`` (times
  r² with ``loss.hr_reduction: sum``, Eq. 7). OHKM (CPN) is applied after EnhanceNet: the loss of ``M^HR`` with
  the head, of the final ``M^LR`` without (CPN's RefineNet).
* DLCM (:func:`dlcm_terms`, :func:`enhancenet_core.compositional.dlcm_loss_terms`): every stack against its own
  level's target with the joint MSE, summed, times ``lr_weight``, plus η·L^HR on M^HR; no OHKM.
* Associative Embedding (:func:`ae_terms`, the spec's :func:`enhancenet_core.bottomup.loss.ae_total_loss`): every
  stack's tag push / pull (weights 1e-3) and detection loss (weight 1), each averaged over images and stacks,
  plus η times the detection loss of M^HR with the head.

The terms functions compile in MindSpore's GRAPH_MODE (a training step calls them inside ``construct``); the plan
is resolved before, in the loss's ``__init__``, so a bad config fails at construction, not at the first batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from enhancenet_core.bottomup.loss import AE_BATCH_KEYS, AE_HEAD_BATCH_KEYS, AE_LOSS_WEIGHTS
from enhancenet_core.compositional import (
    MPII_HIERARCHY,
    Hierarchy,
    dlcm_loss_terms,
    level_batch,
    level_target_keys,
    out_levels,
)
from enhancenet_core.config import Config, LossConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.loss import enhancenet_loss_terms, hr_term_weight

__all__ = [
    "LossKind",
    "LossPlan",
    "ae_plan",
    "ae_terms",
    "build_loss",
    "dlcm_plan",
    "dlcm_terms",
    "loss_kind",
    "ohkm_topk",
    "top_down_plan",
    "top_down_terms",
]

T = TypeVar("T")
MapLoss = Callable[[Any, Any, Any], Any]
"""``(pred, target, weight) -> scalar`` (a framework's ``JointsMSELoss`` / ``JointsOHKMLoss``)."""


class LossKind(Enum):
    """Which total loss a model trains with."""

    TOP_DOWN = "top_down"  # Eq. 8 (stacked hourglass, SimpleBaseline, HRNet, CPN)
    DLCM = "dlcm"  # every level of the compositional hierarchy
    ASSOCIATIVE_EMBEDDING = "associative_embedding"  # bottom-up


@dataclass(frozen=True)
class LossPlan:
    """A training loss resolved from the config once (never inside a compiled step).

    Attributes:
        kind: which total.
        cfg: the ``loss`` section (``lr_weight``, ``hr_weight`` = η, ``hr_reduction``, ``use_target_weight``,
            ``ohkm``, ``ohkm_topk``).
        head_enabled: whether the model has the EnhanceNet head (then ``outputs["hr"]`` is required).
        upscale: top-down: the head's r, for ``hr_reduction: sum``.
        levels: DLCM: the level each stack predicts (``(1, 2, 3, 2, 1)`` for MPII's hierarchy).
        level_keys: DLCM: the batch keys (target, weight) of levels 1 .. L.
        output_keys / batch_keys: AE: the model outputs and batch keys the loss reads.
    """

    kind: LossKind
    cfg: LossConfig
    head_enabled: bool
    upscale: int | None = None
    levels: tuple[int, ...] = ()
    level_keys: tuple[tuple[str, str], ...] = ()
    output_keys: tuple[str, ...] = ()
    batch_keys: tuple[str, ...] = ()


def ohkm_topk(topk: int) -> int:
    """``loss.ohkm_topk`` checked: how many joints OHKM keeps per instance (CPN / HRNet: 8 of 17), >= 1."""
    if topk < 1:
        raise ValueError(f"loss.ohkm_topk: expected an integer >= 1, got {topk}")
    return int(topk)


def top_down_plan(cfg: LossConfig, head_enabled: bool, upscale: int | None = None) -> LossPlan:
    """Eq. 8's plan; a bad ``hr_reduction`` / ``upscale`` pair fails here (:func:`enhancenet_core.loss.hr_term_weight`)."""
    hr_term_weight(cfg, upscale)
    return LossPlan(LossKind.TOP_DOWN, cfg, bool(head_enabled), upscale=upscale)


def dlcm_plan(cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> LossPlan:
    """DLCM's plan: the stacks' levels and every level's batch keys; OHKM refused (DLCM's loss has none)."""
    if cfg.ohkm:
        raise ValueError("loss.ohkm: DLCM's loss has no OHKM (expected false)")
    keys = tuple(level_target_keys(lv) for lv in range(1, hierarchy.num_levels + 1))
    return LossPlan(LossKind.DLCM, cfg, bool(head_enabled), levels=out_levels(hierarchy.num_levels), level_keys=keys)


def ae_plan(cfg: LossConfig, head_enabled: bool) -> LossPlan:
    """The AE plan: the outputs and batch keys it reads (:data:`enhancenet_core.bottomup.loss.AE_BATCH_KEYS`)."""
    head = bool(head_enabled)
    return LossPlan(LossKind.ASSOCIATIVE_EMBEDDING, cfg, head,
                    output_keys=("lr", "tags") + (("hr",) if head else ()),
                    batch_keys=AE_BATCH_KEYS + (AE_HEAD_BATCH_KEYS if head else ()))


def loss_kind(cfg: Config) -> LossKind:
    """The loss ``cfg``'s model trains with: AE for a bottom-up model (:func:`enhancenet_runtime.engine.data.
    is_bottom_up`), DLCM's for DLCM (every level's targets, ``target_level{2,3}``), else Eq. 8."""
    from enhancenet_runtime.engine.data import is_bottom_up

    if is_bottom_up(cfg):
        return LossKind.ASSOCIATIVE_EMBEDDING
    if cfg.model.base.name is BaseModelName.DLCM:
        return LossKind.DLCM
    return LossKind.TOP_DOWN


def build_loss(cfg: Config, top_down: Callable[..., T], dlcm: Callable[..., T], ae: Callable[..., T]) -> T:
    """A framework's loss for ``cfg`` (:func:`loss_kind`): ``top_down(cfg.loss, head_enabled=, upscale=)``,
    ``dlcm(cfg.loss, head_enabled=)`` or ``ae(cfg.loss, head_enabled=)``, the framework's three classes."""
    head = cfg.model.head.enabled
    kind = loss_kind(cfg)
    if kind is LossKind.ASSOCIATIVE_EMBEDDING:
        return ae(cfg.loss, head_enabled=head)
    if kind is LossKind.DLCM:
        return dlcm(cfg.loss, head_enabled=head)
    return top_down(cfg.loss, head_enabled=head, upscale=cfg.model.head.upscale)


def top_down_terms(plan: LossPlan, outputs: Mapping[str, Any], batch: Mapping[str, Any], mse: MapLoss,
                   ohkm: MapLoss | None, detach: Callable[[T], T]) -> dict[str, Any]:
    """Eq. 8's terms of one batch (:func:`enhancenet_core.loss.enhancenet_loss_terms`).

    Args:
        plan: :func:`top_down_plan`'s.
        outputs: ``"lr"`` (N, K, h, w), ``"hr"`` (N, K, rh, rw) with the head, optional ``"intermediate"``
            (earlier stages' (N, K, h, w) maps).
        batch: ``"target_lr"`` (N, K, h, w), ``"target_weight_lr"`` (N, K[, 1]); with the head ``"target_hr"``
            (N, K, rh, rw), ``"target_weight_hr"``.
        mse, ohkm: the framework's joint MSE and OHKM losses (``ohkm`` None when off).
        detach: cuts a tensor from the autograd graph (for the logged terms).

    Returns:
        ``"loss"`` (to back-propagate), ``"loss_lr"`` (every LR term, before ``lr_weight``) and with the head
        ``"loss_hr"`` (before η and r²).
    """
    return enhancenet_loss_terms(outputs, batch, plan.cfg, plan.head_enabled, mse, ohkm, detach=detach,
                                 upscale=plan.upscale)


def dlcm_terms(plan: LossPlan, outputs: Mapping[str, Any], batch: Mapping[str, Any], mse: MapLoss,
               detach: Callable[[T], T]) -> dict[str, Any]:
    """DLCM's terms of one batch.

    Args:
        plan: :func:`dlcm_plan`'s.
        outputs: the DLCM model's dict (``"intermediate"``: the stacks before the last, ``"lr"``, ``"hr"``).
        batch: ``target_lr`` / ``target_weight_lr`` and ``target_level{2,3}`` / ``target_weight_level{2,3}``
            ((N, P_l, h, w) / (N, P_l)); with the head ``target_hr`` / ``target_weight_hr``.
        mse: the framework's joint MSE.
        detach: as :func:`top_down_terms`.

    Returns:
        ``"loss"``, ``"loss_lr"``, ``"loss_stacks"`` (each stack's term) and with the head ``"loss_hr"``.
    """
    out, b = level_batch(outputs, batch, len(plan.level_keys))
    return dlcm_loss_terms(out, b, plan.levels, plan.cfg, plan.head_enabled, mse, detach=detach)


def ae_terms(plan: LossPlan, outputs: Mapping[str, Any], batch: Mapping[str, Any], detection: Callable[..., Any],
             tag: Callable[..., Any], stack: Callable[..., Any], detach: Callable[[T], T]) -> dict[str, Any]:
    """The AE terms of one batch.

    Args:
        plan: :func:`ae_plan`'s.
        outputs: ``"lr"`` (N, K, h, w) the last stack's detection, ``"intermediate"`` the earlier stacks',
            ``"tags"`` every stack's tag maps, ``"hr"`` (N, K, rh, rw) with the head.
        batch: ``"target_lr"`` (N, K, h, w), ``"mask_lr"`` (N, h, w), ``"pixels"`` (N, P, K, 2) LR map pixels
            (x, y), ``"joint_mask"`` (N, P, K); with the head ``"target_hr"``, ``"mask_hr"``.
        detection: the framework's ``ae_detection_loss`` ((N,) per image); tag: its ``ae_tag_loss``
            (push (N,), pull (N,)); stack: the framework's ``stack`` of a list of tensors.
        detach: as :func:`top_down_terms`.

    Returns:
        ``"loss"`` and, before their weights, ``"loss_push"``, ``"loss_pull"``, ``"loss_detection"`` (means over
        images and stacks; also as ``"loss_lr"``, the training log's LR column) and with the head ``"loss_hr"``.
    """
    for key in plan.output_keys:
        if key not in outputs:
            raise ValueError(f"AssociativeEmbeddingLoss: the model outputs have no {key!r}")
    for key in plan.batch_keys:
        if key not in batch:
            raise ValueError(f"AssociativeEmbeddingLoss: the batch has no {key!r}")
    dets = [*outputs.get("intermediate", []), outputs["lr"]]
    tags = list(outputs["tags"])
    if len(tags) != len(dets):
        raise ValueError(f"AssociativeEmbeddingLoss: {len(tags)} tag maps for {len(dets)} stacks")
    det = stack([detection(d, batch["target_lr"], batch["mask_lr"]) for d in dets]).mean()
    pp = [tag(t, batch["pixels"], batch["joint_mask"]) for t in tags]
    push = stack([a for a, _ in pp]).mean()
    pull = stack([b for _, b in pp]).mean()
    wt = AE_LOSS_WEIGHTS
    total = wt["push"] * push + wt["pull"] * pull + wt["detection"] * det
    out = {"loss_push": detach(push), "loss_pull": detach(pull), "loss_detection": detach(det)}
    if plan.head_enabled:
        hr = detection(outputs["hr"], batch["target_hr"], batch["mask_hr"]).mean()
        total = total + float(plan.cfg.hr_weight) * wt["detection"] * hr  # η
        out["loss_hr"] = detach(hr)
    out["loss_lr"] = out["loss_detection"]  # the training log's LR column (the loops read loss_lr)
    out["loss"] = total
    return out
