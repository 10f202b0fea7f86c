"""Heat-map losses: HRNet's joint MSE, online hard keypoint mining (OHKM), and the EnhanceNet total (Eq. 8).

Mirrors :mod:`enhancenet_torch.losses` term for term. Shapes: N instances, K keypoints, heat maps (N, K, H, W);
``target_weight`` (N, K) or (N, K, 1).

HRNet semantics, reproduced exactly:

* :class:`JointsMSELoss`: per joint ``0.5 * mean_{n, pixels}((w * pred - w * gt) ** 2)``, averaged over the K
  joints; with weights in {0, 1} that is ``0.5 * mean over (N, K, H, W)`` of the masked squared error.
* :class:`JointsOHKMLoss`: per instance and joint ``0.5 * mean_{pixels}(...)``; per instance the mean of the
  ``topk`` largest joint losses; then the mean over instances.

:class:`EnhanceNetLoss` puts them together as the paper does (Sec. 3.2, Eq. 8)::

    L = lr_weight * (L^LR(final) + sum_s L^LR(intermediate_s)) + eta * L^HR

The paper's η is ``hr_weight`` (1 in every experiment; times r² with ``loss.hr_reduction: sum``, Eq. 7).
Intermediate supervision covers every earlier stage of stacked hourglass / CPN's GlobalNet (the ``"intermediate"``
outputs of the model). OHKM (CPN) is applied after EnhanceNet: with the head on it is the loss of ``M^HR`` and the
LR maps get plain MSE; with the head off it is the loss of the final ``M^LR`` (CPN's RefineNet, as in the CPN
paper).

All cells run in PYNATIVE_MODE and GRAPH_MODE (inside a cell that is compiled, e.g. a training step).
"""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from enhancenet_core.config import LossConfig
from enhancenet_core.loss import hr_term_weight

__all__ = ["EnhanceNetLoss", "JointsMSELoss", "JointsOHKMLoss", "per_joint_mse"]


def _check(pred, target, target_weight):
    if pred.ndim != 4:
        raise ValueError("heat maps: expected prediction of shape (N, K, H, W)")
    if pred.shape != target.shape:
        raise ValueError("heat maps: prediction and target must have the same shape (N, K, H, W)")
    if target_weight is not None:
        if target_weight.shape[0] != pred.shape[0] or target_weight.shape[1] != pred.shape[1]:
            raise ValueError("heat maps: target_weight must be (N, K) or (N, K, 1) for (N, K, H, W) maps")


def per_joint_mse(pred, target, target_weight=None):
    """HRNet's per-instance, per-joint loss ``0.5 * mean_pixels((w * pred - w * gt) ** 2)``.

    Args:
        pred: (N, K, H, W) predicted heat maps.
        target: (N, K, H, W) ground-truth heat maps.
        target_weight: (N, K) or (N, K, 1) weights, or ``None`` for all ones.

    Returns:
        (N, K) float32 losses.
    """
    _check(pred, target, target_weight)
    n, k = pred.shape[0], pred.shape[1]
    diff = pred.astype(ms.float32) - target.astype(ms.float32)
    if target_weight is not None:
        diff = diff * target_weight.astype(ms.float32).reshape(n, k, 1, 1)
    return 0.5 * ops.square(diff).reshape(n, k, -1).mean(axis=2)


class JointsMSELoss(nn.Cell):
    """HRNet's ``JointsMSELoss``: 0.5 × MSE per joint, masked by target weights, averaged over joints.

    Args:
        use_target_weight: multiply prediction and target by the joint's weight (HRNet ``USE_TARGET_WEIGHT``).
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def construct(self, pred, target, target_weight=None):
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        if self.use_target_weight:
            return per_joint_mse(pred, target, target_weight).mean()
        return per_joint_mse(pred, target, None).mean()


class JointsOHKMLoss(nn.Cell):
    """HRNet's ``JointsOHKMLoss``: per instance the mean of the ``topk`` largest per-joint losses.

    Args:
        use_target_weight: as :class:`JointsMSELoss`.
        topk: how many joints to keep per instance (CPN / HRNet: 8 of 17); must be in [1, K].
    """

    def __init__(self, use_target_weight: bool = True, topk: int = 8) -> None:
        super().__init__()
        if topk < 1:
            raise ValueError(f"loss.ohkm_topk: expected an integer >= 1, got {topk}")
        self.use_target_weight = use_target_weight
        self.topk = int(topk)

    def construct(self, pred, target, target_weight=None):
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        if self.use_target_weight:
            losses = per_joint_mse(pred, target, target_weight)
        else:
            losses = per_joint_mse(pred, target, None)
        if self.topk > losses.shape[1]:
            raise ValueError("loss.ohkm_topk: expected at most K joints (the number of heat maps)")
        hardest, _ = ops.topk(losses, self.topk, dim=1)
        return hardest.mean()


class EnhanceNetLoss(nn.Cell):
    """Total training loss of a base model with (or without) the EnhanceNet head (Eq. 8).

    Args:
        cfg: the ``loss`` section of the config (``lr_weight``, ``hr_weight`` = η, ``hr_reduction``,
            ``use_target_weight``, ``ohkm``, ``ohkm_topk``).
        head_enabled: whether the model has the EnhanceNet head (then ``outputs["hr"]`` is required).
        upscale: the head's r (``model.head.upscale``); needed for ``loss.hr_reduction: sum`` (L^HR weighs η·r²,
            :func:`enhancenet_core.loss.hr_term_weight`).
    """

    def __init__(self, cfg: LossConfig, head_enabled: bool, upscale: int | None = None) -> None:
        super().__init__()
        self.lr_weight = float(cfg.lr_weight)
        self.hr_weight = hr_term_weight(cfg, upscale) if head_enabled else float(cfg.hr_weight)  # η (· r² for sum)
        self.head_enabled = bool(head_enabled)
        self.use_ohkm = bool(cfg.ohkm)
        self.mse = JointsMSELoss(cfg.use_target_weight)
        self.ohkm = JointsOHKMLoss(cfg.use_target_weight, cfg.ohkm_topk)
        self.final_lr_ohkm = self.use_ohkm and not self.head_enabled

    def construct(self, outputs, batch):
        """Compute the loss terms.

        Args:
            outputs: the model's dict: ``"lr"`` (N, K, h, w), ``"hr"`` (N, K, rh, rw) when the head is on,
                optional ``"intermediate"``: list of (N, K, h, w) maps of earlier stages.
            batch: ``"target_lr"`` (N, K, h, w), ``"target_weight_lr"`` (N, K[, 1]), and with the head
                ``"target_hr"`` (N, K, rh, rw), ``"target_weight_hr"`` (N, K[, 1]).

        Returns:
            dict with ``"loss"`` (the total, a scalar to differentiate), ``"loss_lr"`` (all LR terms, before
            ``lr_weight``) and, with the head, ``"loss_hr"`` (before η); the parts carry no gradient.
        """
        if "lr" not in outputs:
            raise ValueError("EnhanceNetLoss: model outputs have no 'lr' heat maps")
        if "target_lr" not in batch or "target_weight_lr" not in batch:
            raise ValueError("EnhanceNetLoss: batch needs 'target_lr' and 'target_weight_lr'")
        target = batch["target_lr"]
        weight = batch["target_weight_lr"]
        if self.final_lr_ohkm:
            lr_loss = self.ohkm(outputs["lr"], target, weight)
        else:
            lr_loss = self.mse(outputs["lr"], target, weight)
        if "intermediate" in outputs:
            for stage in outputs["intermediate"]:
                lr_loss = lr_loss + self.mse(stage, target, weight)
        total = self.lr_weight * lr_loss
        result = {"loss_lr": ops.stop_gradient(lr_loss)}
        if self.head_enabled:
            if "hr" not in outputs:
                raise ValueError("EnhanceNetLoss: the head is enabled but model outputs have no 'hr' maps")
            if "target_hr" not in batch or "target_weight_hr" not in batch:
                raise ValueError("EnhanceNetLoss: the head is enabled but the batch has no "
                                 "'target_hr'/'target_weight_hr'")
            if self.use_ohkm:
                hr_loss = self.ohkm(outputs["hr"], batch["target_hr"], batch["target_weight_hr"])
            else:
                hr_loss = self.mse(outputs["hr"], batch["target_hr"], batch["target_weight_hr"])
            total = total + self.hr_weight * hr_loss
            result["loss_hr"] = ops.stop_gradient(hr_loss)
        result["loss"] = total
        return result
