"""numpy-ref: the float64 ground truth. Forward only (no backward, no optimizer)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupportedError, Params
from enhancenet_core.config import LossConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import ae_hourglass, base_forward
from enhancenet_numpy.weights import load_weights, save_weights


def _cast(params: Params, dtype: type) -> Params:
    return {k: np.asarray(v, dtype=dtype) for k, v in params.items()}


class NumpyRefAdapter:
    name = "numpy"

    def versions(self) -> dict[str, str]:
        return {
            "enhancenet-numpy": metadata.version("enhancenet-numpy"),
            "numpy": np.__version__,
            "python": platform.python_version(),
        }

    def head_forward(self, params: Params, model_cfg: ModelConfig, f_lr: np.ndarray, m_lr: np.ndarray, dtype: type) -> np.ndarray:
        return head_forward(_cast(params, dtype), np.asarray(f_lr, dtype), np.asarray(m_lr, dtype), model_cfg.head)

    def model_forward(self, params: Params, model_cfg: ModelConfig, images: np.ndarray, dtype: type) -> dict[str, np.ndarray]:
        p = _cast(params, dtype)
        tags: dict[str, Any] = {}
        if model_cfg.base.name is BaseModelName.AE_HOURGLASS:
            ae = ae_hourglass.forward(p, np.asarray(images, dtype), model_cfg.base, model_cfg.num_keypoints)
            f_lr, m_lr = ae.features, ae.detection
            tags = {"tags": ae.stack_tags(model_cfg.num_keypoints),
                    "intermediate": ae.stack_detection(model_cfg.num_keypoints)[:-1]}
        else:
            f_lr, m_lr = base_forward(p, np.asarray(images, dtype), model_cfg)
        out: dict[str, Any] = {"lr": m_lr, "features": f_lr, **tags}
        if model_cfg.head.enabled:
            out["hr"] = head_forward(p, f_lr, m_lr, model_cfg.head)
        return out

    def pixel_shuffle(self, x: np.ndarray, r: int, order: ShuffleOrder) -> np.ndarray:
        return ops.pixel_shuffle(np.asarray(x), r, order)

    def train_step(self, params: Params, model_cfg: ModelConfig, loss_cfg: LossConfig, batch: dict[str, np.ndarray],
                   lr: float, feature_channels: int | None = None) -> tuple[float, Params, Params]:
        raise NotSupportedError("numpy-ref is a forward reference (no backward); training parity is compared "
                                "across frameworks, and the head's gradient against float64 finite differences")

    def bottomup_forward(self, params: Params, model_cfg: ModelConfig):
        p = _cast(params, np.float32)

        def forward(images: np.ndarray) -> dict[str, Any]:
            out = self.model_forward(p, model_cfg, np.asarray(images, np.float32), np.float32)
            return {k: v for k, v in out.items() if k in ("lr", "hr", "tags")}

        return forward

    def to_native(self, canonical: str | os.PathLike[str], model_cfg: ModelConfig, native: str | os.PathLike[str]) -> None:
        save_weights(native, load_weights(canonical, model_cfg), model_cfg)

    def from_native(self, native: str | os.PathLike[str], model_cfg: ModelConfig, canonical: str | os.PathLike[str]) -> None:
        save_weights(canonical, load_weights(native, model_cfg), model_cfg)


def make_adapter() -> NumpyRefAdapter:
    return NumpyRefAdapter()
