"""Canonical-name helpers shared by the model files: a conv / BN / deconv read from ``params`` by prefix."""

from __future__ import annotations

import numpy as np

from enhancenet_core.namemap import BN_EPS
from enhancenet_numpy import ops


def conv(
    params: dict[str, np.ndarray], prefix: str, x: np.ndarray, stride: int = 1, padding: int | None = None
) -> np.ndarray:
    """``{prefix}.weight`` (and ``{prefix}.bias`` when present) applied to x; padding defaults to k // 2."""
    w = params[f"{prefix}.weight"]
    pad = w.shape[-1] // 2 if padding is None else padding
    return ops.conv2d(x, w, params.get(f"{prefix}.bias"), stride=stride, padding=pad)


def bn(params: dict[str, np.ndarray], prefix: str, x: np.ndarray) -> np.ndarray:
    """Evaluation-mode batch norm with ``{prefix}.weight/bias/running_mean/running_var``, eps 1e-5."""
    return ops.batch_norm(
        x,
        params[f"{prefix}.weight"],
        params[f"{prefix}.bias"],
        params[f"{prefix}.running_mean"],
        params[f"{prefix}.running_var"],
        BN_EPS,
    )


def has(params: dict[str, np.ndarray], prefix: str) -> bool:
    """Whether the module ``prefix`` has a weight in ``params`` (e.g. an optional downsample)."""
    return f"{prefix}.weight" in params
