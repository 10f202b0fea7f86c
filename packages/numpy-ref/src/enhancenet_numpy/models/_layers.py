"""Canonical-name helpers shared by the model files: a conv / BN / deconv read from ``params`` by prefix.

BN runs in evaluation mode (running statistics) unless inside :func:`batch_statistics`, which makes every
:func:`bn` of a forward use the batch's own statistics, as a framework's train-mode step does (the conformance
suite's loss reference for a training step of a model with BN).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


_BATCH_STATISTICS: ContextVar[bool] = ContextVar("enhancenet_numpy_bn_batch_statistics", default=False)


@contextmanager
def batch_statistics() -> Iterator[None]:
    """Within the block, every :func:`bn` normalises with the batch's mean and biased variance over (N, H, W)
    (training mode; the running statistics are neither read nor updated)."""
    token = _BATCH_STATISTICS.set(True)
    try:
        yield
    finally:
        _BATCH_STATISTICS.reset(token)


def bn(params: dict[str, np.ndarray], prefix: str, x: np.ndarray) -> np.ndarray:
    """Batch norm with ``{prefix}.weight/bias/running_mean/running_var``, eps 1e-5: evaluation mode, or the
    batch's statistics inside :func:`batch_statistics`."""
    if _BATCH_STATISTICS.get():
        return ops.batch_norm_batch_stats(x, params[f"{prefix}.weight"], params[f"{prefix}.bias"], BN_EPS)
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
