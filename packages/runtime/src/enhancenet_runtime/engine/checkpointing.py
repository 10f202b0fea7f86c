"""What a training checkpoint was saved for: the architecture text every framework records and checks.

A training checkpoint (``enhancenet-torch``'s ``.pt``, ``enhancenet-paddle``'s ``.pdckpt``) stores
``architecture = describe_architecture(model_cfg)``; resuming or loading weights with another config is
refused by :func:`check_architecture` with one error naming the file and both architectures, worded the same
in every framework.
"""

from __future__ import annotations

import os
from typing import Any

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName

__all__ = ["CheckpointError", "check_architecture", "describe_architecture"]

#: The base-model field that sets its size, per base model (the others are fixed by the config's defaults).
_SIZE_FIELD: dict[BaseModelName, str] = {
    BaseModelName.SIMPLE_BASELINE: "depth",
    BaseModelName.CPN: "depth",
    BaseModelName.HRNET: "width",
    BaseModelName.HOURGLASS: "stages",
    BaseModelName.DLCM: "hourglass_channels",
    BaseModelName.AE_HOURGLASS: "stages",
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used for the requested model (names the file and the reason)."""


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def describe_architecture(model_cfg: ModelConfig) -> str:
    """What a set of weights fits, e.g. ``simple_baseline(depth=50,K=17)+enhancenet(L=3,C=128,r=4,subpixel,both)``.

    A summary of the fields that most often differ (the base model, its size field, K and the head's layers,
    channels, upscale r, upsampler and inputs): kernels and the base model's widths are not in it, so the
    frameworks still check every tensor's shape on load. ``input_size``, σ, the shuffle order (converted at
    load) and training settings never change the weights and are left out.
    """
    name = BaseModelName(model_cfg.base.name)
    size_field = _SIZE_FIELD.get(name)
    size = f"{size_field}={getattr(model_cfg.base, size_field)}" if size_field else "?"
    text = f"{name.value}({size},K={model_cfg.num_keypoints})"
    head = model_cfg.head
    if head.enabled:
        parts = [f"L={head.num_layers}", f"C={head.channels}", f"r={head.upscale}", _text(head.upsampler),
                 _text(head.inputs)]
        text += "+enhancenet(" + ",".join(parts) + ")"
    return text


def check_architecture(saved: Any, expected: str, path: str | os.PathLike[str]) -> None:
    """Raise :class:`CheckpointError` unless the checkpoint's recorded ``saved`` architecture is ``expected``.

    Args:
        saved: the ``architecture`` entry of the checkpoint (``None`` when it records none).
        expected: :func:`describe_architecture` of the config the caller builds.
        path: the checkpoint file, named in the message.
    """
    if saved != expected:
        raise CheckpointError(
            f"checkpoint {os.fspath(path)} was saved for architecture {saved!r}, but the config builds {expected!r}"
        )
