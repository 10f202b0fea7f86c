"""How the EnhanceNet training loss is put together from its terms (Sec. 3.2, Eq. 8), for any tensor type.

    L = lr_weight * (L^LR(final) + sum_s L^LR(intermediate_s)) + hr_term_weight(cfg, r) * L^HR

``hr_term_weight`` is η (``hr_weight``) with ``loss.hr_reduction: mean`` (HRNet's per-pixel mean on both maps, the
default) and η·r² with ``sum`` (Eq. 7's sums over pixels: M^HR has r² times the pixels of M^LR).

Each framework supplies only the per-map losses (HRNet's ``JointsMSELoss`` and ``JointsOHKMLoss``) and how to
cut a tensor from the graph; which term uses which loss lives here once:

* every intermediate stage (stacked hourglass, CPN's GlobalNet) is supervised with plain MSE on the LR target;
* OHKM (CPN) is applied *after* EnhanceNet: with the head on it is the loss of ``M^HR`` and the final LR maps
  get plain MSE; with the head off it is the loss of the final ``M^LR`` (CPN's RefineNet, as in the CPN paper).

Every framework's ``EnhanceNetLoss`` calls it through :func:`enhancenet_runtime.losses.top_down_terms`, MindSpore's
inside a GRAPH_MODE-compiled ``construct`` too (keep this body compilable there: no ``zip(strict=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from enhancenet_core.config import LossConfig
from enhancenet_core.conventions import HrReduction

__all__ = ["enhancenet_loss_terms", "hr_term_weight"]

T = TypeVar("T")
MapLoss = Callable[[T, T, T], T]


def hr_term_weight(cfg: LossConfig, upscale: int | None) -> float:
    """The factor of L^HR in the total loss: η with ``hr_reduction: mean``, η·r² with ``sum``.

    Args:
        cfg: the ``loss`` section (``hr_weight`` = η, ``hr_reduction``).
        upscale: the head's ratio r (``model.head.upscale``); needed only for ``sum``.

    Raises:
        ValueError: ``sum`` without a positive integer ``upscale``.
    """
    if HrReduction(cfg.hr_reduction) is HrReduction.MEAN:
        return float(cfg.hr_weight)
    if upscale is None or isinstance(upscale, bool) or int(upscale) != upscale or upscale < 1:
        raise ValueError(f"loss.hr_reduction=sum needs the head's upscale r (a positive integer), got {upscale!r}")
    return float(cfg.hr_weight) * float(upscale) ** 2


def enhancenet_loss_terms(
    outputs: Mapping[str, Any],
    batch: Mapping[str, Any],
    cfg: LossConfig,
    head_enabled: bool,
    mse: MapLoss,
    ohkm: MapLoss | None,
    detach: Callable[[T], T],
    upscale: int | None = None,
) -> dict[str, Any]:
    """The loss terms of one batch.

    Args:
        outputs: the model's dict: ``"lr"`` (N, K, h, w); ``"hr"`` (N, K, rh, rw) when the head is on;
            optional ``"intermediate"``: a sequence of (N, K, h, w) maps of earlier stages.
        batch: ``"target_lr"`` (N, K, h, w), ``"target_weight_lr"`` (N, K[, 1]) and, with the head,
            ``"target_hr"`` (N, K, rh, rw), ``"target_weight_hr"`` (N, K[, 1]).
        cfg: the ``loss`` section (``lr_weight``, ``hr_weight`` = η).
        head_enabled: whether the model has the EnhanceNet head (then ``outputs["hr"]`` is required).
        mse: ``(pred, target, weight) -> scalar``, HRNet's joint MSE.
        ohkm: ``(pred, target, weight) -> scalar``, HRNet's OHKM loss, or ``None`` when OHKM is off.
        detach: returns a tensor cut from the autograd graph (for the logged parts).
        upscale: the head's r, for ``cfg.hr_reduction = sum`` (:func:`hr_term_weight`).

    Returns:
        ``"loss"`` (the total, to back-propagate), ``"loss_lr"`` (every LR term, before ``lr_weight``,
        detached) and, with the head, ``"loss_hr"`` (before η and r², detached).

    Raises:
        ValueError: naming the missing model output or batch field; ``sum`` without ``upscale``.
    """
    hr_factor = hr_term_weight(cfg, upscale) if head_enabled else 0.0
    if "lr" not in outputs:
        raise ValueError("EnhanceNetLoss: model outputs have no 'lr' heat maps")
    if "target_lr" not in batch or "target_weight_lr" not in batch:
        raise ValueError("EnhanceNetLoss: batch needs 'target_lr' and 'target_weight_lr'")
    target, weight = batch["target_lr"], batch["target_weight_lr"]
    final_lr_loss = ohkm if ohkm is not None and not head_enabled else mse
    lr_loss = final_lr_loss(outputs["lr"], target, weight)
    stages: Sequence[Any] = outputs.get("intermediate", None) or ()
    for stage in stages:
        lr_loss = lr_loss + mse(stage, target, weight)
    total = cfg.lr_weight * lr_loss
    result = {"loss_lr": detach(lr_loss)}
    if head_enabled:
        if outputs.get("hr") is None:
            raise ValueError("EnhanceNetLoss: the head is enabled but model outputs have no 'hr' maps")
        if "target_hr" not in batch or "target_weight_hr" not in batch:
            raise ValueError("EnhanceNetLoss: the head is enabled but the batch has no 'target_hr'/'target_weight_hr'")
        hr_loss = (ohkm or mse)(outputs["hr"], batch["target_hr"], batch["target_weight_hr"])
        total = total + hr_factor * hr_loss
        result["loss_hr"] = detach(hr_loss)
    result["loss"] = total
    return result
