"""Checkpoints of other code bases into a PyTorch :class:`~enhancenet_torch.models.PoseModel`'s base model.

mmpose 1.x / 0.x top-down heatmap models (SimpleBaseline ResNet, HRNet), the HRNet repository's ``pose_resnet`` /
``pose_hrnet`` and bearpaw ``pytorch-pose`` stacked hourglasses: names mapped by
:mod:`enhancenet_core.foreign_names` (the table there and in the README), every tensor checked before anything is
copied; a file the map cannot bridge is refused with one line naming its first mismatching tensor. The EnhanceNet
head keeps its initialisation (no foreign file has one).

Files: a ``.safetensors`` file holding the foreign names (read with NumPy, never unpickled), or, only with
``trust_pickle=True`` (the explicit opt-in for a file the user trusts: unpickling can run code), the ``.pth``
itself, unwrapped from ``{"state_dict": ..., "meta": ...}`` / ``{"model": ...}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_torch.models.pose_model import PoseModel
from enhancenet_torch.models.pretrained import canonical_state_dict
from enhancenet_torch.weights import read_state_dict

__all__ = ["load_foreign_checkpoint", "load_foreign_tensors", "read_foreign_state_dict"]


def read_foreign_state_dict(path: str | os.PathLike[str], trust_pickle: bool = False) -> dict[str, Tensor]:
    """The tensors of a foreign checkpoint with the names it holds (``module.`` may already be removed).

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file without ``trust_pickle`` (nothing unpickled).
        ValueError: not a state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} not found")
    if p.suffix.lower() == ".safetensors":
        arrays, _ = canonical.read_safetensors(p)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    return dict(read_state_dict(p, trust_pickle))  # refuses a pickle file without trust_pickle (nothing unpickled)


def load_foreign_checkpoint(
    model: nn.Module,
    path: str | os.PathLike[str],
    model_cfg: ModelConfig,
    trust_pickle: bool = False,
    layout: str | None = None,
) -> str:
    """Load a foreign checkpoint into the base model of ``model`` (built from ``model_cfg``); returns the layout
    key (:data:`enhancenet_core.foreign_names.LAYOUTS`, detected unless ``layout`` is given).

    Raises:
        ForeignCheckpointError: one line naming the first tensor that does not fit; nothing loaded.
        ValueError: a pickle file without ``trust_pickle``, a non-floating or non-finite tensor.
    """
    return load_foreign_tensors(model, read_foreign_state_dict(path, trust_pickle), model_cfg, os.fspath(path), layout)


def load_foreign_tensors(model: nn.Module, tensors: dict[str, Tensor], model_cfg: ModelConfig, source: str,
                         layout: str | None = None) -> str:
    """:func:`load_foreign_checkpoint` for tensors already read (``source`` names them in errors)."""
    base = model.base if isinstance(model, PoseModel) else model
    expected = {k: tuple(v.shape) for k, v in canonical_state_dict(base).items()}
    mapped = foreign_names.to_canonical(tensors, model_cfg, source, expected=expected, layout=layout)
    canonical.check_tensors(mapped, expected, source)  # dtypes
    canonical.check_finite({k: v.detach().float().numpy() for k, v in mapped.items()}, source)
    base.load_state_dict(mapped, strict=False)  # every tensor but num_batches_tracked is there (checked)
    return layout or foreign_names.detect_layout(tensors)
