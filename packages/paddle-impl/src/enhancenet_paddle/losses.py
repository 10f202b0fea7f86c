"""Heat-map losses in Paddle: HRNet's joint MSE, online hard keypoint mining (OHKM), the EnhanceNet total (Eq. 8).

The same functions, names and numbers as :mod:`enhancenet_torch.losses`. Shapes: N instances, K keypoints,
heat maps (N, K, H, W); ``target_weight`` (N, K) or (N, K, 1).

HRNet semantics, reproduced exactly:

* :class:`JointsMSELoss`: per joint ``0.5 * mean_{n, pixels}((w * pred - w * gt) ** 2)``, averaged over the K
  joints; with weights in {0, 1} that is ``0.5 * mean over (N, K, H, W)`` of the masked squared error.
* :class:`JointsOHKMLoss`: per instance and joint ``0.5 * mean_{pixels}(...)``; per instance the mean of the
  ``topk`` largest joint losses; then the mean over instances.

:class:`EnhanceNetLoss` puts them together as the paper does (Sec. 3.2, Eq. 8), by the rules written once in
:func:`enhancenet_core.loss.enhancenet_loss_terms`::

    L = lr_weight * (L^LR(final) + sum_s L^LR(intermediate_s)) + eta * L^HR

η is ``hr_weight`` (1 in every experiment; times r² with ``loss.hr_reduction: sum``, Eq. 7). Intermediate
supervision covers every earlier stage of stacked hourglass / CPN's GlobalNet (the model's ``"intermediate"``
outputs). OHKM (CPN) is applied after EnhanceNet: with the head on it is the loss of ``M^HR`` and the LR maps get
plain MSE; with the head off it is the loss of the final ``M^LR`` (CPN's RefineNet). Losses are computed in float32
(also under AMP), as the torch package. """

from __future__ import annotations

from collections.abc import Mapping, Sequence

import paddle
from paddle import Tensor, nn

from enhancenet_core.bottomup.loss import AE_BATCH_KEYS, AE_HEAD_BATCH_KEYS, AE_LOSS_WEIGHTS
from enhancenet_core.compositional import MPII_HIERARCHY, Hierarchy, dlcm_loss_terms, level_batch, out_levels
from enhancenet_core.config import Config, LossConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.loss import enhancenet_loss_terms, hr_term_weight

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
    """HRNet's ``JointsMSELoss``: 0.5 × MSE per joint, masked by target weights, averaged over joints.

    Args:
        use_target_weight: multiply prediction and target by the joint's weight (HRNet ``USE_TARGET_WEIGHT``).
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, pred: Tensor, target: Tensor, target_weight: Tensor | None = None) -> Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        return per_joint_mse(pred, target, weight).mean()


class JointsOHKMLoss(nn.Layer):
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

    def forward(self, pred: Tensor, target: Tensor, target_weight: Tensor | None = None) -> Tensor:
        """Scalar loss of (N, K, H, W) maps; ``target_weight`` (N, K) or (N, K, 1)."""
        weight = target_weight if self.use_target_weight else None
        losses = per_joint_mse(pred, target, weight)
        if self.topk > losses.shape[1]:
            raise ValueError(f"loss.ohkm_topk: expected at most K = {losses.shape[1]} joints, got {self.topk}")
        hardest, _ = paddle.topk(losses, k=self.topk, axis=1, sorted=False)
        return hardest.mean()


class EnhanceNetLoss(nn.Layer):
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
        self.cfg = cfg
        self.head_enabled = head_enabled
        self.upscale = upscale
        hr_term_weight(cfg, upscale)  # a bad reduction/upscale pair fails here, not at the first batch
        self.mse = JointsMSELoss(cfg.use_target_weight)
        self.ohkm = JointsOHKMLoss(cfg.use_target_weight, cfg.ohkm_topk) if cfg.ohkm else None

    def forward(
        self, outputs: Mapping[str, Tensor | Sequence[Tensor]], batch: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        """Compute the loss terms.

        Args:
            outputs: the model's dict: ``"lr"`` (N, K, h, w), ``"hr"`` (N, K, rh, rw) when the head is on,
                optional ``"intermediate"``: list of (N, K, h, w) maps of earlier stages.
            batch: the collated samples of :mod:`enhancenet_runtime.data.pipeline`: ``"target_lr"`` (N, K, h, w),
                ``"target_weight_lr"`` (N, K[, 1]), and with the head ``"target_hr"`` (N, K, rh, rw),
                ``"target_weight_hr"`` (N, K[, 1]).

        Returns:
            dict with ``"loss"`` (the total, a scalar to back-propagate), ``"loss_lr"`` (all LR terms,
            before ``lr_weight``) and, with the head, ``"loss_hr"`` (before η and r²).
        """
        return enhancenet_loss_terms(outputs, batch, self.cfg, self.head_enabled, self.mse, self.ohkm,
                                     detach=lambda t: t.detach(), upscale=self.upscale)


class DlcmLoss(nn.Layer):
    """DLCM's total loss (:func:`enhancenet_core.compositional.dlcm_loss_terms`, the spec's rules): every stack
    against its own level's target with :class:`JointsMSELoss`, summed, times ``lr_weight``, plus η·L^HR on M^HR.

    Args:
        cfg: the ``loss`` section (``lr_weight``, ``hr_weight`` = η, ``use_target_weight``; no OHKM with DLCM).
        head_enabled: whether the model has the EnhanceNet head.
        hierarchy: the compositional hierarchy (MPII's).
    """

    def __init__(self, cfg: LossConfig, head_enabled: bool, hierarchy: Hierarchy = MPII_HIERARCHY) -> None:
        super().__init__()
        if cfg.ohkm:
            raise ValueError("loss.ohkm: DLCM's loss has no OHKM (expected false)")
        self.cfg = cfg
        self.head_enabled = head_enabled
        self.num_levels = hierarchy.num_levels
        self.levels = out_levels(hierarchy.num_levels)
        self.mse = JointsMSELoss(cfg.use_target_weight)

    def forward(
        self, outputs: Mapping[str, paddle.Tensor | Sequence[paddle.Tensor]], batch: Mapping[str, paddle.Tensor]
    ) -> dict[str, paddle.Tensor | list[paddle.Tensor]]:
        """``outputs``: the DLCM model's dict (``"intermediate"``: the stacks of levels 1, 2, 3, 2; ``"lr"``;
        ``"hr"``); ``batch``: ``target_lr`` / ``target_weight_lr`` and ``target_level{2,3}`` /
        ``target_weight_level{2,3}`` ((N, P_l, h, w) / (N, P_l)), with the head ``target_hr`` /
        ``target_weight_hr``. Returns ``"loss"``, ``"loss_lr"``, ``"loss_stacks"`` and with the head ``"loss_hr"``."""
        out, b = level_batch(outputs, batch, self.num_levels)
        return dlcm_loss_terms(out, b, self.levels, self.cfg, self.head_enabled, self.mse,
                               detach=lambda t: t.detach())


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

    def forward(self, outputs: Mapping[str, Tensor | Sequence[Tensor]],
                batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
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
        det = paddle.stack([ae_detection_loss(d, batch["target_lr"], batch["mask_lr"]) for d in dets]).mean()
        pp = [ae_tag_loss(t, batch["pixels"], batch["joint_mask"]) for t in tags]
        push = paddle.stack([a for a, _ in pp]).mean()
        pull = paddle.stack([b for _, b in pp]).mean()
        wt = AE_LOSS_WEIGHTS
        total = wt["push"] * push + wt["pull"] * pull + wt["detection"] * det
        out = {"loss_push": push.detach(), "loss_pull": pull.detach(), "loss_detection": det.detach()}
        if self.head_enabled:
            hr = ae_detection_loss(outputs["hr"], batch["target_hr"], batch["mask_hr"]).mean()
            total = total + self.eta * wt["detection"] * hr
            out["loss_hr"] = hr.detach()
        out["loss_lr"] = out["loss_detection"]  # the training log's LR column (the loops read loss_lr)
        out["loss"] = total
        return out


def build_loss(cfg: Config) -> nn.Layer:
    """The training loss of ``cfg``'s model: :class:`AssociativeEmbeddingLoss` for a bottom-up model
    (:func:`enhancenet_runtime.engine.data.is_bottom_up`), :class:`DlcmLoss` for DLCM (every level's targets,
    ``target_level{2,3}``), else :class:`EnhanceNetLoss` (Eq. 8)."""
    from enhancenet_runtime.engine.data import is_bottom_up

    if is_bottom_up(cfg):
        return AssociativeEmbeddingLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    if cfg.model.base.name is BaseModelName.DLCM:
        return DlcmLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    return EnhanceNetLoss(cfg.loss, head_enabled=cfg.model.head.enabled, upscale=cfg.model.head.upscale)
