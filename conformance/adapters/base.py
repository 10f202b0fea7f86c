"""The adapter interface every implementation provides to the conformance suite.

All arrays crossing the interface are NumPy, NCHW, named by :mod:`enhancenet_core.namemap` ("canonical").
An adapter never imports another implementation; the suite compares their outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from enhancenet_core.config import LossConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder

Params = dict[str, np.ndarray]


class NotSupportedError(NotImplementedError):
    """The implementation has no such capability (e.g. numpy-ref has no backward); the check is 'not run'."""


@runtime_checkable
class Adapter(Protocol):
    """One implementation, seen by the conformance suite."""

    #: short key: "numpy", "torch", "paddle", "mindspore"
    name: str

    def versions(self) -> dict[str, str]:
        """Distribution -> version of everything that decides the numbers (framework, numpy, python)."""
        ...

    def head_forward(
        self, params: Params, model_cfg: ModelConfig, f_lr: np.ndarray, m_lr: np.ndarray, dtype: type
    ) -> np.ndarray:
        """The head alone: canonical ``enhance.*`` params, F^LR (N, C_F, h, w), M^LR (N, K, h, w) -> M^HR
        (N, K, r·h, r·w), computed in ``dtype`` (np.float32 or np.float64)."""
        ...

    def model_forward(
        self, params: Params, model_cfg: ModelConfig, images: np.ndarray, dtype: type
    ) -> dict[str, np.ndarray]:
        """The full model in eval mode: images (N, 3, H, W) -> {"lr": M^LR, "hr": M^HR, "features": F^LR}."""
        ...

    def pixel_shuffle(self, x: np.ndarray, r: int, order: ShuffleOrder) -> np.ndarray:
        """The implementation's own shuffle path for ``order`` (the one its head uses): (N, K·r², H, W) ->
        (N, K, r·H, r·W)."""
        ...

    def train_step(
        self,
        params: Params,
        model_cfg: ModelConfig,
        loss_cfg: LossConfig,
        batch: dict[str, np.ndarray],
        lr: float,
        feature_channels: int | None = None,
    ) -> tuple[float, Params, Params]:
        """One training step in float32, train mode (BN batch statistics), Adam(lr, betas (0.9, 0.999),
        eps 1e-8), from ``params``.

        ``feature_channels=None``: the full model; ``batch`` has ``images`` (N, 3, H, W), ``target_lr``,
        ``target_weight_lr`` (N, K, 1), ``target_hr``, ``target_weight_hr`` and the loss is Eq. 8.
        An AE model (``model_cfg.base.name`` ``ae_hourglass``): ``batch`` has ``images`` and the keys of
        :data:`enhancenet_core.bottomup.loss.AE_BATCH_KEYS` (+ ``AE_HEAD_BATCH_KEYS`` with the head; ``pixels``
        int64, ``joint_mask`` bool) and the loss is the AE total (+ η · L^HR).
        A DLCM model (``dlcm``): ``batch`` has ``images``, every level's ``target_lr`` / ``target_weight_lr``,
        ``target_level{l}`` / ``target_weight_level{l}`` (l = 2, 3; :func:`enhancenet_core.compositional.
        level_target_keys`) and ``target_hr`` / ``target_weight_hr``; the loss is the framework's ``DlcmLoss``.
        ``feature_channels`` given: the head alone; ``batch`` has ``features``, ``heatmaps``, ``target_hr``,
        ``target_weight_hr`` and the loss is ``hr_weight · L^HR``.

        Returns (loss, gradient of every parameter by canonical name, every canonical tensor after one Adam
        step, BN running statistics included).
        """
        ...

    def bottomup_forward(self, params: Params, model_cfg: ModelConfig) -> Callable[[np.ndarray], dict[str, Any]]:
        """The AE model (``model_cfg.base.name`` ``ae_hourglass``) loaded with ``params`` in float32, eval mode, as
        the framework's own bottom-up ``forward`` (its ``evaluate.bottomup_forward``): images (N, 3, H, W) float32
        -> {"lr", "tags" (every stack's), "hr" with the head} as NumPy; the runtime's
        :func:`enhancenet_runtime.engine.bottomup_run.model_maps_fn` makes it the evaluator's ``maps_fn``."""
        ...

    def to_native(self, canonical: str | os.PathLike[str], model_cfg: ModelConfig, native: str | os.PathLike[str]) -> None:
        """Canonical safetensors -> the implementation's native checkpoint (through its weights module)."""
        ...

    def from_native(self, native: str | os.PathLike[str], model_cfg: ModelConfig, canonical: str | os.PathLike[str]) -> None:
        """The implementation's native checkpoint -> canonical safetensors."""
        ...


def batch_arrays(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Floating arrays as float32, integer / boolean ones (the AE batch's ``pixels``, ``joint_mask``) as they are."""
    return {k: np.asarray(v, np.float32) if np.issubdtype(np.asarray(v).dtype, np.floating) else np.asarray(v)
            for k, v in batch.items()}


def is_ae(model_cfg: ModelConfig) -> bool:
    """Whether ``model_cfg`` is the bottom-up AE hourglass (its training step reads the AE batch)."""
    return model_cfg.base.name is BaseModelName.AE_HOURGLASS


def is_dlcm(model_cfg: ModelConfig) -> bool:
    """Whether ``model_cfg`` is DLCM (its training step reads every level's targets and uses ``DlcmLoss``)."""
    return model_cfg.base.name is BaseModelName.DLCM


def strip_prefix(params: Params, prefix: str) -> Params:
    """``{prefix}name -> name`` for the names that start with ``prefix`` (head-alone modules)."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def check_same_names(own: set[str], given: set[str], where: str) -> None:
    """ValueError naming every missing / unexpected tensor (the suite must feed complete canonical sets)."""
    missing, extra = sorted(own - given), sorted(given - own)
    if missing or extra:
        raise ValueError(f"{where}: canonical tensors missing {missing[:5]}..., unexpected {extra[:5]}...")


TORCH_ADAM_RULE = "w -= lr/(1-b1^t) * m/(sqrt(v)/sqrt(1-b2^t)+eps) (torch.optim.Adam's rule)"
"""The Adam update every adapter's training step applies (stated in the report beside the weights-after-Adam
check): torch.optim.Adam; paddle.optimizer.Adam (same rule, eps scaled inside its kernel); MindSpore through
enhancenet_mindspore.optim.TorchAdam (MindSpore's own nn.Adam adds eps before the bias correction)."""
