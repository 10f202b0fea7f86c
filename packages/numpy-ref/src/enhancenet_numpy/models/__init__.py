"""Base pose models and the full model (base + EnhanceNet head), all reading canonical tensor names.

Each base model file has ``forward(params, x, cfg) -> (F_LR, M_LR)`` (the hourglass and DLCM also return
every stack's maps; the AE hourglass an :class:`~enhancenet_numpy.models.ae_hourglass.AeOutputs` with tags and
every stack's output); :func:`full_forward` adds the head: ``(M_LR, M_HR or None)`` (for the AE hourglass M_LR
is the detection maps). :func:`batch_statistics` switches every BN to training mode (batch statistics).
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.compositional.network import dlcm_config
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import ae_hourglass, dlcm, hourglass, hrnet, simple_baseline
from enhancenet_numpy.models._layers import batch_statistics


def base_forward(params: dict[str, np.ndarray], x: np.ndarray, model_cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(F^LR, M^LR) of the configured base model for x (N, 3, H, W)."""
    name = model_cfg.base.name
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"input: expected an (N, 3, H, W) image batch, got shape {x.shape}")
    if name == BaseModelName.SIMPLE_BASELINE:
        return simple_baseline.forward(params, x, model_cfg.base)
    if name == BaseModelName.HRNET:
        return hrnet.forward(params, x, model_cfg.base)
    if name == BaseModelName.HOURGLASS:
        f_lr, m_lr, _ = hourglass.forward(params, x, model_cfg.base)
        return f_lr, m_lr
    if name == BaseModelName.DLCM:
        f_lr, m_lr, _ = dlcm.forward(params, x, dlcm_config(model_cfg.base))
        return f_lr, m_lr
    if name == BaseModelName.AE_HOURGLASS:
        out = ae_hourglass.forward(params, x, model_cfg.base, model_cfg.num_keypoints)
        return out.features, out.detection
    raise ValueError(
        f"model.base.name: numpy-ref has no base model {name.value!r} "
        "(simple_baseline, hrnet, hourglass, dlcm, ae_hourglass)"
    )


def full_forward(
    params: dict[str, np.ndarray], x: np.ndarray, model_cfg: ModelConfig
) -> tuple[np.ndarray, np.ndarray | None]:
    """(M^LR (N, K, H/4, W/4), M^HR (N, K, r·H/4, r·W/4) or None when the head is disabled)."""
    f_lr, m_lr = base_forward(params, x, model_cfg)
    if not model_cfg.head.enabled:
        return m_lr, None
    return m_lr, head_forward(params, f_lr, m_lr, model_cfg.head)


__all__ = ["ae_hourglass", "base_forward", "batch_statistics", "dlcm", "full_forward", "hourglass", "hrnet", "simple_baseline"]
