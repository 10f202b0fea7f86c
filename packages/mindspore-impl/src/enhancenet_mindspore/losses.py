"""Heat-map losses in MindSpore: the tensor primitives and thin totals of :mod:`enhancenet_torch.losses` (same
names, contracts and numbers; HRNet's semantics are described there), their terms, weights and refusals written
once in :mod:`enhancenet_runtime.losses`.

All cells run in PYNATIVE_MODE and GRAPH_MODE (inside a cell that is compiled, e.g. a training step): the
runtime's terms functions compile, and each loss resolves its plan in ``__init__``, outside ``construct``.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

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
    """HRNet's ``JointsMSELoss`` (:class:`enhancenet_torch.losses.JointsMSELoss`)."""

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def construct(self, pred, target, target_weight=None):
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        if self.use_target_weight:
            return per_joint_mse(pred, target, target_weight).mean()
        return per_joint_mse(pred, target, None).mean()


class JointsOHKMLoss(nn.Cell):
    """HRNet's ``JointsOHKMLoss`` (:class:`enhancenet_torch.losses.JointsOHKMLoss`), ``topk`` in [1, K]."""

    def __init__(self, use_target_weight: bool = True, topk: int = 8) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.topk = shared.ohkm_topk(topk)

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
    """Eq. 8's total, :func:`enhancenet_runtime.losses.top_down_terms` (the contract of
    :class:`enhancenet_torch.losses.EnhanceNetLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, upscale: int | None = None) -> None:
        super().__init__()
        self.plan = shared.top_down_plan(cfg, head_enabled, upscale)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)
        self.ohkm = JointsOHKMLoss(cfg.use_target_weight, cfg.ohkm_topk) if cfg.ohkm else None

    def construct(self, outputs, batch):
        return shared.top_down_terms(self.plan, outputs, batch, self.mse, self.ohkm, ops.stop_gradient)


class DlcmLoss(nn.Cell):
    """DLCM's total, :func:`enhancenet_runtime.losses.dlcm_terms` (the contract of
    :class:`enhancenet_torch.losses.DlcmLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> None:
        super().__init__()
        self.plan = shared.dlcm_plan(cfg, head_enabled, hierarchy)
        self.head_enabled = self.plan.head_enabled
        self.mse = JointsMSELoss(cfg.use_target_weight)

    def construct(self, outputs, batch):
        return shared.dlcm_terms(self.plan, outputs, batch, self.mse, ops.stop_gradient)


# ------------------------------------------------------------------------------------ Associative Embedding
def ae_tag_loss(tags, pixels, joint_mask):
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
    if tuple(joint_mask.shape) != tuple(pixels.shape[:3]):
        raise ValueError(f"joint_mask: expected {tuple(pixels.shape[:3])} (N, P, K), got {tuple(joint_mask.shape)}")
    p = pixels.shape[1]
    x = ops.clip_by_value(pixels[..., 0].astype(ms.int32), 0, w - 1)
    y = ops.clip_by_value(pixels[..., 1].astype(ms.int32), 0, h - 1)
    index = (ops.arange(k, dtype=ms.int32).reshape(1, 1, k) * (h * w) + y * w + x).reshape(n, p * k)
    tj = ops.gather_elements(tags.astype(ms.float32).reshape(n, k * h * w), 1, index).reshape(n, p, k)
    m = (joint_mask != 0).astype(ms.float32)
    count = m.sum(axis=2)
    present = (count > 0).astype(ms.float32)
    mean = (tj * m).sum(axis=2) / ops.maximum(count, 1.0)
    per_person = (ops.square(tj - mean.expand_dims(2)) * m).sum(axis=2) / ops.maximum(count, 1.0)
    people = present.sum(axis=1)
    pull = (per_person * present).sum(axis=1) / ops.maximum(people, 1.0)
    pair = present.expand_dims(2) * present.expand_dims(1) * ops.triu(ops.ones((p, p), ms.float32), 1)
    pairs = people * (people - 1) / 2
    push = 0.5 * (ops.exp(-ops.square(mean.expand_dims(2) - mean.expand_dims(1))) * pair).sum(axis=(1, 2))
    return push / ops.maximum(pairs, 1.0), pull


def ae_detection_loss(pred, target, mask):
    """pose-ae-train's ``HeatmapLoss``: ``mean_{K,H,W} (pred - target)² · mask`` per image, (N,) float32.

    Args:
        pred, target: (N, K, H, W) detection maps and multi-peak targets.
        mask: (N, H, W) loss mask (0 on crowds), shared by the joints; masked pixels still count in the mean.
    """
    _check(pred, target, None)
    if tuple(mask.shape) != (pred.shape[0], pred.shape[2], pred.shape[3]):
        raise ValueError(f"mask: expected (N, H, W) = {(pred.shape[0], pred.shape[2], pred.shape[3])}, got "
                         f"{tuple(mask.shape)}")
    diff = pred.astype(ms.float32) - target.astype(ms.float32)
    return (ops.square(diff) * mask.astype(ms.float32).expand_dims(1)).mean(axis=(1, 2, 3))


class AssociativeEmbeddingLoss(nn.Cell):
    """The bottom-up total, :func:`enhancenet_runtime.losses.ae_terms` (the contract of
    :class:`enhancenet_torch.losses.AssociativeEmbeddingLoss`)."""

    def __init__(self, cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.plan = shared.ae_plan(cfg, head_enabled)
        self.head_enabled = self.plan.head_enabled

    def construct(self, outputs, batch):
        return shared.ae_terms(self.plan, outputs, batch, ae_detection_loss, ae_tag_loss, ops.stack, ops.stop_gradient)


def build_loss(cfg: Config) -> nn.Cell:
    """The training loss of ``cfg``'s model (:func:`enhancenet_runtime.losses.build_loss` chooses)."""
    return shared.build_loss(cfg, EnhanceNetLoss, DlcmLoss, AssociativeEmbeddingLoss)
