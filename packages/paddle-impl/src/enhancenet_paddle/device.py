"""Which device a Paddle run uses (:func:`resolve_device`); shared by training, evaluation and prediction."""

from __future__ import annotations

import paddle


def _gpu_available() -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def resolve_device(device: str | None, local_rank: int = 0) -> str:
    """``None``: ``gpu:local_rank`` when a GPU is available, else ``cpu``. ``cuda[:N]`` is accepted for ``gpu[:N]``.

    Raises:
        ValueError: an unknown device, or a GPU requested where Paddle has none.
    """
    if device is None:
        device = "gpu" if _gpu_available() else "cpu"
    name = str(device).strip().lower().replace("cuda", "gpu")
    kind, _, index = name.partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind != "gpu" or (index and not index.isdigit()):
        raise ValueError(f"device {device!r}: expected cpu, gpu, gpu:N (or cuda, cuda:N)")
    if not _gpu_available():
        raise ValueError(f"device {device!r}: this Paddle has no usable GPU (use --device cpu)")
    return f"gpu:{index or local_rank}"


__all__ = ["resolve_device"]
