"""Which device a MindSpore run uses (:func:`resolve_device`); shared by training, evaluation and prediction."""

from __future__ import annotations

from typing import Any

import mindspore as ms

_DEVICES = {"cpu": "CPU", "gpu": "GPU", "cuda": "GPU", "ascend": "Ascend", "npu": "Ascend"}


def resolve_device(device: str | None) -> str:
    """Set and return the MindSpore device target: ``None`` keeps the current one; ``cpu``, ``gpu``/``cuda``,
    ``ascend``/``npu``, optionally ``:N`` for the device id."""
    if device is None:
        return str(ms.get_context("device_target"))
    name, _, index = str(device).partition(":")
    target = _DEVICES.get(name.lower())
    if target is None:
        raise ValueError(f"device {device!r}: expected cpu, gpu (cuda) or ascend (npu), optionally ':N'")
    if index and not index.isdigit():
        raise ValueError(f"device {device!r}: the device id after ':' must be a number")
    kwargs: dict[str, Any] = {}
    if index:
        kwargs["device_id"] = int(index)
    if target != ms.get_context("device_target") or kwargs:
        try:
            ms.set_context(device_target=target, **kwargs)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"device {device!r}: MindSpore cannot use {target} here ({exc})") from exc
    return target


__all__ = ["resolve_device"]
