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

from enhancenet_core.config import LossConfig
from enhancenet_core.loss import enhancenet_loss_terms, hr_term_weight

__all__ = ["EnhanceNetLoss", "JointsMSELoss", "JointsOHKMLoss", "per_joint_mse"]


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
