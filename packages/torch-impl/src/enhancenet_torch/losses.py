"""Heat-map losses in PyTorch: the tensor primitives (HRNet's joint MSE and OHKM, the AE detection and tag losses)
and thin total losses whose terms, weights and refusals are written once in :mod:`enhancenet_runtime.losses`
(Eq. 8, DLCM, Associative Embedding).

Shapes: N instances, K keypoints, heat maps (N, K, H, W); ``target_weight`` (N, K) or (N, K, 1). HRNet semantics,
reproduced exactly:

* :class:`JointsMSELoss`: per joint ``0.5 * mean_{n, pixels}((w * pred - w * gt) ** 2)``, averaged over the K
  joints; with weights in {0, 1} that is ``0.5 * mean over (N, K, H, W)`` of the masked squared error.
* :class:`JointsOHKMLoss`: per instance and joint ``0.5 * mean_{pixels}(...)``; per instance the mean of the
  ``topk`` largest joint losses; then the mean over instances.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from enhancenet_core.compositional import MPII_HIERARCHY, Hierarchy
from enhancenet_core.config import Config, LossConfig
from enhancenet_runtime import losses as shared

__all__ = [
    "AssociativeEmbeddingLoss",
    "DlcmLoss",
    "EnhanceNetLoss",
    "JointsMSELoss",
    "JointsOHKMLoss",
    "ae_detection_loss",
    "ae_tag_loss",
    "build_loss",
    "per_joint_mse",
]


def _check(pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None, name: str) -> None:
    if pred.dim() != 4:
        raise ValueError(f"{name}: expected heat maps of shape (N, K, H, W), got {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape"
        )
    if target_weight is not None and target_weight.shape[:2] != pred.shape[:2]:
        raise ValueError(
            f"{name}: target_weight must be (N, K) or (N, K, 1) = {tuple(pred.shape[:2])}, "
            f"got {tuple(target_weight.shape)}"
        )


def per_joint_mse(
    pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None = None, name: str = "heatmaps"
) -> torch.Tensor:
    """HRNet's per-instance, per-joint loss ``0.5 * mean_pixels((w * pred - w * gt) ** 2)``.

    Args:
        pred: (N, K, H, W) predicted heat maps.
        target: (N, K, H, W) ground-truth heat maps.
        target_weight: (N, K) or (N, K, 1) weights, or ``None`` for all ones.
        name: what the maps are, for error messages.

    Returns:
        (N, K) float32 losses (computed in float32 even under autocast).
    """
    _check(pred, target, target_weight, name)
    diff = pred.float() - target.float()
    if target_weight is not None:
        diff = diff * target_weight.float().reshape(pred.shape[0], pred.shape[1], 1, 1)
    return 0.5 * diff.pow(2).flatten(2).mean(dim=2)


class JointsMSELoss(nn.Module):
    """HRNet's ``JointsMSELoss``: 0.5 × MSE per joint, masked by target weights, averaged over joints.

    Args:
        use_target_weight: multiply prediction and target by the joint's weight (HRNet ``USE_TARGET_WEIGHT``).
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        return per_joint_mse(pred, target, weight).mean()


class JointsOHKMLoss(nn.Module):
    """HRNet's ``JointsOHKMLoss``: per instance the mean of the ``topk`` largest per-joint losses.

    Args:
        use_target_weight: as :class:`JointsMSELoss`.
        topk: how many joints to keep per instance (CPN / HRNet: 8 of 17); must be in [1, K].
    """

    def __init__(self, use_target_weight: bool = True, topk: int = 8) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.topk = shared.ohkm_topk(topk)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        losses = per_joint_mse(pred, target, weight)
        if self.topk > losses.shape[1]:
            raise ValueError(
                f"loss.ohkm_topk: expected at most K = {losses.shape[1]} joints, got {self.topk}"
            )
        hardest = torch.topk(losses, k=self.topk, dim=1, sorted=False).values
        return hardest.mean()


class EnhanceNetLoss(nn.Module):
    """Total loss of a top-down model with (or without) the EnhanceNet head, Eq. 8
    (:func:`enhancenet_runtime.losses.top_down_terms`: outputs ``"lr"``, ``"hr"``, ``"intermediate"``; returns
    ``"loss"``, ``"loss_lr"``[, ``"loss_hr"``]). ``upscale``: the head's r, for ``loss.hr_reduction: sum``."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, upscale: int | None = None) -> None:
        super().__init__()
        self.plan = shared.top_down_plan(cfg, head_enabled, upscale)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)
        self.ohkm = JointsOHKMLoss(cfg.use_target_weight, cfg.ohkm_topk) if cfg.ohkm else None

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return shared.top_down_terms(self.plan, outputs, batch, self.mse, self.ohkm, torch.Tensor.detach)


class DlcmLoss(nn.Module):
    """DLCM's total loss (:func:`enhancenet_runtime.losses.dlcm_terms`): every stack against its own level's
    target, summed, times ``lr_weight``, plus η·L^HR; returns ``"loss"``, ``"loss_lr"``, ``"loss_stacks"``[,
    ``"loss_hr"``]."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> None:
        super().__init__()
        self.plan = shared.dlcm_plan(cfg, head_enabled, hierarchy)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        return shared.dlcm_terms(self.plan, outputs, batch, self.mse, torch.Tensor.detach)


# ------------------------------------------------------------------------------------ Associative Embedding
def ae_tag_loss(tags: torch.Tensor, pixels: torch.Tensor, joint_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """pose-ae-train's push and pull per image (the spec's :func:`enhancenet_core.bottomup.loss.tag_loss`, T = 1).

    Args:
        tags: (N, K, H, W) tag maps of one stack.
        pixels: (N, P, K, 2) map pixels (x, y) of the ground-truth joints (any dtype; truncated to integers and
            clipped to the map; joints off the map must be masked out).
        joint_mask: (N, P, K) which joints are tagged (nonzero = yes).

    Returns:
        ``push`` (N,) and ``pull`` (N,) float32: pull = mean over persons with tagged joints of the mean squared
        distance of their tags to the person's mean tag; push = 0.5 · mean over person pairs of
        ``exp(-(m_i - m_j)²)``; 0 without persons (push also with one).
    """
    if tags.dim() != 4:
        raise ValueError(f"tags: expected (N, K, H, W), got {tuple(tags.shape)}")
    n, k, h, w = tags.shape
    if pixels.dim() != 4 or pixels.shape[0] != n or pixels.shape[2] != k or pixels.shape[3] != 2:
        raise ValueError(f"pixels: expected ({n}, P, {k}, 2) for tags {tuple(tags.shape)}, got {tuple(pixels.shape)}")
    if tuple(joint_mask.shape) != tuple(pixels.shape[:3]):
        raise ValueError(f"joint_mask: expected {tuple(pixels.shape[:3])} (N, P, K), got {tuple(joint_mask.shape)}")
    p = pixels.shape[1]
    x = pixels[..., 0].long().clamp(0, w - 1)
    y = pixels[..., 1].long().clamp(0, h - 1)
    index = (torch.arange(k, device=tags.device).view(1, 1, k) * (h * w) + y * w + x).reshape(n, p * k)
    tj = torch.gather(tags.float().reshape(n, k * h * w), 1, index).reshape(n, p, k)
    m = (joint_mask != 0).float()
    count = m.sum(dim=2)
    present = (count > 0).float()
    mean = (tj * m).sum(dim=2) / count.clamp(min=1)
    per_person = ((tj - mean.unsqueeze(2)) ** 2 * m).sum(dim=2) / count.clamp(min=1)
    people = present.sum(dim=1)
    pull = (per_person * present).sum(dim=1) / people.clamp(min=1)
    pair = present.unsqueeze(2) * present.unsqueeze(1) * torch.ones(p, p, device=tags.device).triu(1)
    pairs = people * (people - 1) / 2
    push = 0.5 * (torch.exp(-((mean.unsqueeze(2) - mean.unsqueeze(1)) ** 2)) * pair).sum(dim=(1, 2))
    return push / pairs.clamp(min=1), pull


def ae_detection_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """pose-ae-train's ``HeatmapLoss``: ``mean_{K,H,W} (pred - target)² · mask`` per image, (N,) float32.

    Args:
        pred, target: (N, K, H, W) detection maps and multi-peak targets.
        mask: (N, H, W) loss mask (0 on crowds), shared by the joints; masked pixels still count in the mean.
    """
    _check(pred, target, None, "detection")
    if tuple(mask.shape) != (pred.shape[0], *pred.shape[2:]):
        raise ValueError(f"mask: expected (N, H, W) = {(pred.shape[0], *tuple(pred.shape[2:]))}, got "
                         f"{tuple(mask.shape)}")
    return ((pred.float() - target.float()) ** 2 * mask.float().unsqueeze(1)).mean(dim=(1, 2, 3))


class AssociativeEmbeddingLoss(nn.Module):
    """The bottom-up total (:func:`enhancenet_runtime.losses.ae_terms`): push / pull / detection of every stack
    plus η times the M^HR detection with the head; returns ``"loss"``, ``"loss_push"``, ``"loss_pull"``,
    ``"loss_detection"``, ``"loss_lr"``[, ``"loss_hr"``]."""

    def __init__(self, cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.plan = shared.ae_plan(cfg, head_enabled)
        self.head_enabled = self.plan.head_enabled

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return shared.ae_terms(self.plan, outputs, batch, ae_detection_loss, ae_tag_loss, torch.stack, torch.Tensor.detach)


def build_loss(cfg: Config) -> nn.Module:
    """The training loss of ``cfg``'s model (:func:`enhancenet_runtime.losses.build_loss` chooses)."""
    return shared.build_loss(cfg, EnhanceNetLoss, DlcmLoss, AssociativeEmbeddingLoss)
