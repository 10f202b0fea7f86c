"""Heat-map losses in Paddle: the tensor primitives and thin totals of :mod:`enhancenet_torch.losses` (same names,
contracts and numbers; HRNet's semantics are described there), their terms, weights and refusals written once in
:mod:`enhancenet_runtime.losses`. Losses are computed in float32 (also under AMP), as the torch package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import paddle
from paddle import Tensor, nn

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


def _check(pred: Tensor, target: Tensor, target_weight: Tensor | None, name: str) -> None:
    if pred.ndim != 4:
        raise ValueError(f"{name}: expected heat maps of shape (N, K, H, W), got {tuple(pred.shape)}")
    if list(pred.shape) != list(target.shape):
        raise ValueError(
            f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape"
        )
    if target_weight is not None and list(target_weight.shape[:2]) != list(pred.shape[:2]):
        raise ValueError(
            f"{name}: target_weight must be (N, K) or (N, K, 1) = {tuple(pred.shape[:2])}, "
            f"got {tuple(target_weight.shape)}"
        )


def per_joint_mse(
    pred: Tensor, target: Tensor, target_weight: Tensor | None = None, name: str = "heatmaps"
) -> Tensor:
    """HRNet's per-instance, per-joint loss ``0.5 * mean_pixels((w * pred - w * gt) ** 2)``.

    Args:
        pred: (N, K, H, W) predicted heat maps.
        target: (N, K, H, W) ground-truth heat maps.
        target_weight: (N, K) or (N, K, 1) weights, or ``None`` for all ones.
        name: what the maps are, for error messages.

    Returns:
        (N, K) float32 losses.
    """
    _check(pred, target, target_weight, name)
    n, k = pred.shape[0], pred.shape[1]
    diff = pred.astype("float32") - target.astype("float32")
    if target_weight is not None:
        diff = diff * target_weight.astype("float32").reshape([n, k, 1, 1])
    return 0.5 * diff.pow(2).flatten(start_axis=2).mean(axis=2)


class JointsMSELoss(nn.Layer):
    """HRNet's ``JointsMSELoss`` (:class:`enhancenet_torch.losses.JointsMSELoss`)."""

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, pred: Tensor, target: Tensor, target_weight: Tensor | None = None) -> Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        return per_joint_mse(pred, target, weight).mean()


class JointsOHKMLoss(nn.Layer):
    """HRNet's ``JointsOHKMLoss`` (:class:`enhancenet_torch.losses.JointsOHKMLoss`), ``topk`` in [1, K]."""

    def __init__(self, use_target_weight: bool = True, topk: int = 8) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.topk = shared.ohkm_topk(topk)

    def forward(self, pred: Tensor, target: Tensor, target_weight: Tensor | None = None) -> Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        losses = per_joint_mse(pred, target, weight)
        if self.topk > losses.shape[1]:
            raise ValueError(f"loss.ohkm_topk: expected at most K = {losses.shape[1]} joints, got {self.topk}")
        hardest, _ = paddle.topk(losses, k=self.topk, axis=1, sorted=False)
        return hardest.mean()


class EnhanceNetLoss(nn.Layer):
    """Eq. 8's total, :func:`enhancenet_runtime.losses.top_down_terms` (the contract of
    :class:`enhancenet_torch.losses.EnhanceNetLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, upscale: int | None = None) -> None:
        super().__init__()
        self.plan = shared.top_down_plan(cfg, head_enabled, upscale)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)
        self.ohkm = JointsOHKMLoss(cfg.use_target_weight, cfg.ohkm_topk) if cfg.ohkm else None

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return shared.top_down_terms(self.plan, outputs, batch, self.mse, self.ohkm, Tensor.detach)


class DlcmLoss(nn.Layer):
    """DLCM's total, :func:`enhancenet_runtime.losses.dlcm_terms` (the contract of
    :class:`enhancenet_torch.losses.DlcmLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> None:
        super().__init__()
        self.plan = shared.dlcm_plan(cfg, head_enabled, hierarchy)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Tensor]) -> dict[str, Any]:
        return shared.dlcm_terms(self.plan, outputs, batch, self.mse, Tensor.detach)


# ------------------------------------------------------------------------------------ Associative Embedding
def ae_tag_loss(tags: Tensor, pixels: Tensor, joint_mask: Tensor) -> tuple[Tensor, Tensor]:
    """pose-ae-train's push and pull per image (the spec's :func:`enhancenet_core.bottomup.loss.tag_loss`, T = 1).

    Args:
        tags: (N, K, H, W) tag maps of one stack.
        pixels: (N, P, K, 2) map pixels (x, y) of the ground-truth joints (truncated to integers, clipped to the
            map; joints off the map must be masked out).
        joint_mask: (N, P, K) which joints are tagged (nonzero = yes).

    Returns:
        ``push`` (N,) and ``pull`` (N,) float32 (see :func:`enhancenet_torch.losses.ae_tag_loss`).
    """
    if tags.ndim != 4:
        raise ValueError(f"tags: expected (N, K, H, W), got {tuple(tags.shape)}")
    n, k, h, w = tags.shape
    if pixels.ndim != 4 or pixels.shape[0] != n or pixels.shape[2] != k or pixels.shape[3] != 2:
        raise ValueError(f"pixels: expected ({n}, P, {k}, 2) for tags {tuple(tags.shape)}, got {tuple(pixels.shape)}")
    if list(joint_mask.shape) != list(pixels.shape[:3]):
        raise ValueError(f"joint_mask: expected {tuple(pixels.shape[:3])} (N, P, K), got {tuple(joint_mask.shape)}")
    p = pixels.shape[1]
    x = paddle.clip(pixels[..., 0].astype("int64"), 0, w - 1)
    y = paddle.clip(pixels[..., 1].astype("int64"), 0, h - 1)
    index = (paddle.arange(k, dtype="int64").reshape([1, 1, k]) * (h * w) + y * w + x).reshape([n, p * k])
    tj = paddle.take_along_axis(tags.astype("float32").reshape([n, k * h * w]), index, axis=1).reshape([n, p, k])
    m = (joint_mask != 0).astype("float32")
    count = m.sum(axis=2)
    present = (count > 0).astype("float32")
    mean = (tj * m).sum(axis=2) / paddle.clip(count, min=1.0)
    per_person = ((tj - mean.unsqueeze(2)) ** 2 * m).sum(axis=2) / paddle.clip(count, min=1.0)
    people = present.sum(axis=1)
    pull = (per_person * present).sum(axis=1) / paddle.clip(people, min=1.0)
    pair = present.unsqueeze(2) * present.unsqueeze(1) * paddle.triu(paddle.ones([p, p], dtype="float32"), 1)
    pairs = people * (people - 1) / 2
    push = 0.5 * (paddle.exp(-((mean.unsqueeze(2) - mean.unsqueeze(1)) ** 2)) * pair).sum(axis=[1, 2])
    return push / paddle.clip(pairs, min=1.0), pull


def ae_detection_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """pose-ae-train's ``HeatmapLoss``: ``mean_{K,H,W} (pred - target)² · mask`` per image, (N,) float32.

    Args:
        pred, target: (N, K, H, W) detection maps and multi-peak targets.
        mask: (N, H, W) loss mask (0 on crowds), shared by the joints; masked pixels still count in the mean.
    """
    _check(pred, target, None, "detection")
    if list(mask.shape) != [pred.shape[0], *pred.shape[2:]]:
        raise ValueError(f"mask: expected (N, H, W) = {(pred.shape[0], *tuple(pred.shape[2:]))}, got "
                         f"{tuple(mask.shape)}")
    diff = pred.astype("float32") - target.astype("float32")
    return (diff**2 * mask.astype("float32").unsqueeze(1)).mean(axis=[1, 2, 3])


class AssociativeEmbeddingLoss(nn.Layer):
    """The bottom-up total, :func:`enhancenet_runtime.losses.ae_terms` (the contract of
    :class:`enhancenet_torch.losses.AssociativeEmbeddingLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.plan = shared.ae_plan(cfg, head_enabled)
        self.head_enabled = self.plan.head_enabled

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return shared.ae_terms(self.plan, outputs, batch, ae_detection_loss, ae_tag_loss, paddle.stack, Tensor.detach)


def build_loss(cfg: Config) -> nn.Layer:
    """The training loss of ``cfg``'s model (:func:`enhancenet_runtime.losses.build_loss` chooses)."""
    return shared.build_loss(cfg, EnhanceNetLoss, DlcmLoss, AssociativeEmbeddingLoss)
