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

from enhancenet_core.bottomup.loss import AE_BATCH_KEYS, AE_HEAD_BATCH_KEYS, AE_LOSS_WEIGHTS
from enhancenet_core.compositional import MPII_HIERARCHY, Hierarchy, level_target_keys, out_levels
from enhancenet_core.config import Config, LossConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.loss import hr_term_weight

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


class DlcmLoss(nn.Cell):
    """DLCM's total loss, the rules of :func:`enhancenet_core.compositional.dlcm_loss_terms` (every stack against
    its own level's target with :class:`JointsMSELoss`, summed, times ``lr_weight``, plus η·L^HR on M^HR); the same
    contract as :class:`enhancenet_torch.losses.DlcmLoss`.

    Written out here rather than by calling the spec's generic function, so that GRAPH_MODE compiles it (the
    batch keys of each stack are resolved once, in ``__init__``).

    Args:
        cfg: the ``loss`` section (``lr_weight``, ``hr_weight`` = η, ``use_target_weight``; no OHKM with DLCM).
        head_enabled: whether the model has the EnhanceNet head.
        hierarchy: the compositional hierarchy (MPII's).
    """

    def __init__(self, cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> None:
        super().__init__()
        if cfg.ohkm:
            raise ValueError("loss.ohkm: DLCM's loss has no OHKM (expected false)")
        self.lr_weight = float(cfg.lr_weight)
        self.hr_weight = float(cfg.hr_weight)
        self.head_enabled = bool(head_enabled)
        self.levels = out_levels(hierarchy.num_levels)
        self.level_keys = tuple(level_target_keys(lv) for lv in range(1, hierarchy.num_levels + 1))
        self.stack_keys = tuple(level_target_keys(lv) for lv in self.levels)  # (target, weight) per stack
        self.mse = JointsMSELoss(cfg.use_target_weight)

    def construct(self, outputs, batch):
        """``outputs``: the DLCM model's dict (``"intermediate"``: the stacks of levels 1, 2, 3, 2; ``"lr"``;
        ``"hr"``); ``batch``: ``target_lr`` / ``target_weight_lr`` and ``target_level{2,3}`` /
        ``target_weight_level{2,3}`` ((N, P_l, h, w) / (N, P_l)), with the head ``target_hr`` /
        ``target_weight_hr``. Returns ``"loss"``, ``"loss_lr"``, ``"loss_stacks"`` and with the head ``"loss_hr"``."""
        if "lr" not in outputs:
            raise ValueError("DLCM loss: model outputs have no 'lr' heat maps")
        for pair in self.level_keys:
            for key in pair:
                if key not in batch:
                    raise ValueError(f"DLCM loss: the batch has no {key!r} (a level's target); is the data a "
                                     "DLCM config's?")
        stacks = [*outputs.get("intermediate", []), outputs["lr"]]
        if len(stacks) != len(self.levels):
            raise ValueError(f"DLCM loss: expected {len(self.levels)} stack outputs, got {len(stacks)}")
        # an index loop, not zip(strict=...): GRAPH_MODE unrolls it over the constant number of stacks
        terms = [self.mse(stacks[i], batch[self.stack_keys[i][0]], batch[self.stack_keys[i][1]])
                 for i in range(len(self.stack_keys))]
        lr_loss = terms[0]
        for term in terms[1:]:
            lr_loss = lr_loss + term
        total = self.lr_weight * lr_loss
        result = {"loss_lr": ops.stop_gradient(lr_loss), "loss_stacks": [ops.stop_gradient(t) for t in terms]}
        if self.head_enabled:
            if "hr" not in outputs:
                raise ValueError("DLCM loss: the head is enabled but model outputs have no 'hr' maps")
            if "target_hr" not in batch or "target_weight_hr" not in batch:
                raise ValueError("DLCM loss: the head is enabled but the batch has no 'target_hr'/'target_weight_hr'")
            hr_loss = self.mse(outputs["hr"], batch["target_hr"], batch["target_weight_hr"])
            total = total + self.hr_weight * hr_loss
            result["loss_hr"] = ops.stop_gradient(hr_loss)
        result["loss"] = total
        return result


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
    """The bottom-up total (the spec's :func:`enhancenet_core.bottomup.loss.ae_total_loss`); the same contract as
    :class:`enhancenet_torch.losses.AssociativeEmbeddingLoss` (outputs ``"lr"``, ``"intermediate"``, ``"tags"``,
    ``"hr"``; batch ``"target_lr"``, ``"mask_lr"``, ``"pixels"``, ``"joint_mask"``, ``"target_hr"``,
    ``"mask_hr"``; returns ``"loss"``, ``"loss_push"``, ``"loss_pull"``, ``"loss_detection"``[, ``"loss_hr"``]).

    Args:
        cfg: the ``loss`` section (``hr_weight`` = η is read).
        head_enabled: whether the model has the EnhanceNet head.
    """

    def __init__(self, cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.eta = float(cfg.hr_weight)
        self.head_enabled = head_enabled

    def construct(self, outputs, batch):
        """Every stack's push / pull / detection (averaged over images and stacks) + η · the M^HR detection."""
        for key in ("lr", "tags") + (("hr",) if self.head_enabled else ()):
            if key not in outputs:
                raise ValueError(f"AssociativeEmbeddingLoss: the model outputs have no {key!r}")
        needed = AE_BATCH_KEYS + (AE_HEAD_BATCH_KEYS if self.head_enabled else ())
        for key in needed:
            if key not in batch:
                raise ValueError(f"AssociativeEmbeddingLoss: the batch has no {key!r}")
        dets = [*outputs.get("intermediate", []), outputs["lr"]]
        tags = list(outputs["tags"])
        if len(tags) != len(dets):
            raise ValueError(f"AssociativeEmbeddingLoss: {len(tags)} tag maps for {len(dets)} stacks")
        det = ops.stack([ae_detection_loss(d, batch["target_lr"], batch["mask_lr"]) for d in dets]).mean()
        pp = [ae_tag_loss(t, batch["pixels"], batch["joint_mask"]) for t in tags]
        push = ops.stack([a for a, _ in pp]).mean()
        pull = ops.stack([b for _, b in pp]).mean()
        wt = AE_LOSS_WEIGHTS
        total = wt["push"] * push + wt["pull"] * pull + wt["detection"] * det
        out = {"loss_push": ops.stop_gradient(push), "loss_pull": ops.stop_gradient(pull),
               "loss_detection": ops.stop_gradient(det)}
        if self.head_enabled:
            hr = ae_detection_loss(outputs["hr"], batch["target_hr"], batch["mask_hr"]).mean()
            total = total + self.eta * wt["detection"] * hr
            out["loss_hr"] = ops.stop_gradient(hr)
        out["loss_lr"] = out["loss_detection"]  # the training log's LR column (the loops read loss_lr)
        out["loss"] = total
        return out


def build_loss(cfg: Config) -> nn.Cell:
    """The training loss of ``cfg``'s model: :class:`AssociativeEmbeddingLoss` for a bottom-up model
    (:func:`enhancenet_runtime.engine.data.is_bottom_up`), :class:`DlcmLoss` for DLCM (every level's targets,
    ``target_level{2,3}``), else :class:`EnhanceNetLoss` (Eq. 8)."""
    from enhancenet_runtime.engine.data import is_bottom_up

    if is_bottom_up(cfg):
        return AssociativeEmbeddingLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    if cfg.model.base.name is BaseModelName.DLCM:
        return DlcmLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    return EnhanceNetLoss(cfg.loss, head_enabled=cfg.model.head.enabled, upscale=cfg.model.head.upscale)
