"""Which device a PyTorch run uses (:func:`resolve_device`); shared by training, evaluation and prediction."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None, local_rank: int = 0) -> torch.device:
    """``None``: CUDA (``cuda:local_rank``) when available, else CPU. Raises for an unavailable CUDA."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except RuntimeError as exc:  # an unknown device type: bad input, not a traceback
        raise ValueError(f"device {device!r}: expected cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device}: CUDA is not available on this machine (use --device cpu)")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


__all__ = ["resolve_device"]
