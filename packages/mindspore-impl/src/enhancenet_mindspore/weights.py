"""Canonical weight I/O for MindSpore models, and MindSpore-native ``.ckpt`` checkpoints.

The canonical file format (a safetensors file whose tensors carry the names of :mod:`enhancenet_core.namemap`,
the metadata header, the checks and the shuffle-order conversion at load) is :mod:`enhancenet_core.canonical`,
shared by every implementation; this module only converts between MindSpore parameters and the canonical
NumPy arrays (the name table below; the layouts need no conversion).

MindSpore <-> canonical: the one table
======================================

The MindSpore cells are built with the same cell structure as the PyTorch modules (``SequentialCell`` and
``CellList`` children are named ``0``, ``1``, ... exactly like ``nn.Sequential`` / ``nn.ModuleList``;
``nn.Identity`` stands where PyTorch holds ``None`` or ``nn.Identity``), so a MindSpore parameter name differs
from the canonical name only in these rows (:data:`MINDSPORE_NAME_TABLE`, applied by :func:`canonical_name`):

=================================  ===================================  ==========================================
MindSpore (``Parameter.name``)     canonical                            why
=================================  ===================================  ==========================================
``base.<name>``                    ``<name>``                           :class:`PoseModel` holds the base model in
                                                                        ``base`` (torch strips the same prefix)
``enhance.<name>``                 ``enhance.<name>``                   (unchanged: the head's canonical prefix)
``<bn>.gamma``                     ``<bn>.weight``                      MindSpore's BatchNorm2d parameter name
``<bn>.beta``                      ``<bn>.bias``                        MindSpore's BatchNorm2d parameter name
``<bn>.moving_mean``               ``<bn>.running_mean``                MindSpore's BatchNorm2d buffer (a
                                                                        Parameter with ``requires_grad=False``)
``<bn>.moving_variance``           ``<bn>.running_var``                 as above
=================================  ===================================  ==========================================

Everything else is identical, value for value, and needs no conversion (verified by the tests):

- ``nn.Conv2d`` weight ``(C_out, C_in/groups, kh, kw)`` = OIHW; built with ``pad_mode="pad"`` and the explicit
  symmetric padding PyTorch uses (MindSpore's default ``pad_mode="same"`` would pad differently), ``has_bias``
  wherever torch has ``bias=True``, so the same set of tensors exists;
- ``nn.Conv2dTranspose`` weight ``(C_in, C_out/groups, kh, kw)``, the same layout as ``torch.nn.ConvTranspose2d``
  (no transpose). Its *behaviour* differs: MindSpore's ``output_padding`` appends zeros after the bias, so the
  models use :class:`enhancenet_mindspore.models.layers.ConvTranspose2d`, which crops asymmetrically instead
  (torch ``(p, op)`` -> MindSpore ``padding=(p, p - op, p, p - op)``) and gives PyTorch's output exactly;
- BatchNorm epsilon 1e-5 (:data:`enhancenet_core.namemap.BN_EPS`); momentum is not stored, but note the
  convention: MindSpore ``momentum=0.9`` is PyTorch's ``momentum=0.1`` (MindSpore weights the running statistic);
- ``num_batches_tracked`` (torch only) is not canonical and MindSpore has none; no ``Linear`` layer exists.

Loading checks everything before copying anything: a file of another architecture, a missing or unexpected
tensor, or a tensor of the wrong shape raises one ``ValueError`` listing each offending tensor with the expected
and the found shape. A sub-pixel head stored in the other shuffle order is converted at load. Writes are atomic
(:func:`enhancenet_runtime.engine.io.atomic_write_bytes`); MindSpore's ``save_checkpoint`` creates files
with mode 0400, so :func:`save_ckpt` writes a temporary file, gives it the usual permissions (0666 & ~umask) and
renames it over the target, which therefore stays overwritable.

ImageNet backbone weights (``model.base.pretrained``) are read by :func:`load_pretrained_backbone` from a
canonical-named ``.safetensors`` file (torchvision / HRNet names; a PyTorch ``.pth`` must be converted first,
this package never imports torch) or a MindSpore ``.ckpt`` (names mapped by the table); only the backbone
tensors (:func:`enhancenet_core.canonical.backbone_prefixes`) are taken, checked, then written in place.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn

from enhancenet_core import canonical
from enhancenet_core.canonical import FORMAT_NAME, FORMAT_VERSION, model_config_json, read_safetensors
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.files import atomic_write_with
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_mindspore.models.head import EnhanceNet
from enhancenet_mindspore.models.names import (
    MINDSPORE_NAME_TABLE,
    MINDSPORE_PREFIX_TABLE,
    MINDSPORE_SUFFIX_TABLE,
    assign_in_place,
    canonical_name,
    canonical_parameters,
    read_state_dict,
)
from enhancenet_mindspore.models.pose_model import PoseModel
from enhancenet_mindspore.models.pretrained import load_backbone_weights
from enhancenet_runtime.engine.io import atomic_write_bytes


# ------------------------------------------------------------------------------------------ names
def mindspore_names(model: nn.Cell) -> dict[str, str]:
    """Canonical name -> MindSpore parameter name of ``model`` (the inverse of :func:`canonical_name`)."""
    return {canon: param.name for canon, param in canonical_parameters(model).items()}


def model_tensors(model: nn.Cell) -> OrderedDict[str, np.ndarray]:
    """The canonical tensors of ``model`` as NumPy arrays (copies), in canonical order."""
    return OrderedDict((k, p.asnumpy().copy()) for k, p in canonical_parameters(model).items())


# ------------------------------------------------------------------------------------------ helpers
def _head(model: nn.Cell) -> EnhanceNet | None:
    if isinstance(model, PoseModel):
        return model.enhance if model.has_head else None
    return model if isinstance(model, EnhanceNet) else None


def _model_shapes(model: nn.Cell) -> dict[str, tuple[int, ...]]:
    return {k: tuple(p.shape) for k, p in canonical_parameters(model).items()}


def _order(model: nn.Cell) -> ShuffleOrder | None:
    head = _head(model)
    return head.shuffle_order if head is not None else None


def load_tensors(model: nn.Cell, tensors: dict[str, np.ndarray], source: str = "tensors") -> None:
    """Copy canonical ``tensors`` into ``model`` after checking every one (names, shapes, floating dtype).

    Values are cast to each parameter's dtype (float32) and written in place (:func:`assign_in_place`), so an
    optimizer that has already run updates the loaded values. Raises ValueError (nothing copied) on any problem.
    """
    params = canonical_parameters(model)
    canonical.check_tensors({k: np.asarray(v) for k, v in tensors.items()},
                            {k: tuple(p.shape) for k, p in params.items()}, source)
    for name, param in params.items():
        assign_in_place(param, tensors[name])


# ------------------------------------------------------------------------------------------ save / load
def save_canonical(
    model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig, metadata: dict[str, str] | None = None
) -> None:
    """Write the model's canonical tensors and the metadata header to ``path`` (atomically).

    Args:
        model: a :class:`PoseModel` built from ``model_cfg``.
        path: the ``.safetensors`` file; its directory must exist.
        model_cfg: the model's configuration, recorded as JSON in the header.
        metadata: extra entries for the header (may not use the reserved keys).
    """
    if not isinstance(model, PoseModel):
        raise TypeError(f"save_canonical: expected a PoseModel (build_model(model_cfg)), got {type(model).__name__}")
    canonical.save_canonical_arrays(path, model_tensors(model), model_cfg, metadata,
                                    shuffle_order=_order(model), model_shapes=_model_shapes(model))


def load_canonical(
    model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> dict[str, str]:
    """Load a canonical safetensors file into ``model`` after checking every tensor; returns the metadata.

    Raises FileNotFoundError when the file is missing, and ValueError (nothing loaded) when the file is not a
    canonical file of a supported version, was written for another architecture, or any tensor is missing,
    unexpected or mis-shaped (each listed with the expected and the found shape). ``model_cfg`` (default: the
    file's own) must describe ``model``; a model that does not match it is refused.
    """
    arrays = canonical.load_canonical_arrays(path, model_cfg, _order(model), model_shapes=_model_shapes(model))
    load_tensors(model, arrays, os.fspath(path))
    return canonical.read_canonical_metadata(path)


# ------------------------------------------------------------------------------ ImageNet backbone
def load_pretrained_backbone(model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of ``model`` (a :class:`PoseModel` or a bare base model) from local ImageNet
    weights (``.safetensors`` / ``.ckpt``; never downloaded):
    :func:`enhancenet_mindspore.models.pretrained.load_backbone_weights`.
    """
    load_backbone_weights(model.base if isinstance(model, PoseModel) else model, path, model_cfg)


# ------------------------------------------------------------------------------------ native .ckpt
def save_ckpt(model: nn.Cell, path: str | os.PathLike[str], append_dict: dict[str, Any] | None = None) -> None:
    """MindSpore-native checkpoint (``mindspore.save_checkpoint``, names relative to ``model``), written atomically.

    ``append_dict``: extra scalars/strings stored beside the parameters (``save_checkpoint``'s ``append_dict``).
    The file gets the usual permissions (``save_checkpoint`` alone creates mode 0400), so it can be overwritten.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    # names relative to ``model`` (Parameter.name gains a prefix once the model sits inside another Cell)
    items = [{"name": name, "data": p} for name, p in model.parameters_and_names()]

    def write(tmp: Path) -> None:
        tmp.unlink()  # save_checkpoint creates the file itself (mode 0400; atomic_write_with gives the usual one)
        ms.save_checkpoint(items, os.fspath(tmp), append_dict=append_dict)

    atomic_write_with(path, write, suffix=".tmp.ckpt")  # save_checkpoint insists on the .ckpt ending


def load_ckpt(model: nn.Cell, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a MindSpore-native checkpoint into ``model`` after checking every parameter; returns the extra
    (non-parameter) entries of the file.

    Raises FileNotFoundError when the file is missing, ValueError (nothing loaded) listing every missing,
    unexpected or mis-shaped parameter (MindSpore names, expected and found shape).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    check_not_pickle(path)
    try:
        found = ms.load_checkpoint(os.fspath(path))
    except Exception as exc:
        raise ValueError(f"{path}: not a readable MindSpore checkpoint ({exc})") from exc
    params = dict(model.parameters_and_names())  # names relative to ``model``, as save_ckpt writes them
    expected = {name: tuple(p.shape) for name, p in params.items()}
    tensors = {k: v for k, v in found.items() if isinstance(v, ms.Parameter) and k in expected}
    extras = {k: v for k, v in found.items() if k not in tensors}
    unexpected = {k: v for k, v in extras.items() if isinstance(v, ms.Parameter) and v.ndim > 0}
    canonical.check_tensors({**tensors, **unexpected}, expected, os.fspath(path), check_dtype=False)
    for name, p in params.items():
        assign_in_place(p, tensors[name])
    return {k: (v.asnumpy() if isinstance(v, ms.Parameter | ms.Tensor) else v) for k, v in extras.items()
            if k not in unexpected}


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MINDSPORE_NAME_TABLE",
    "MINDSPORE_PREFIX_TABLE",
    "MINDSPORE_SUFFIX_TABLE",
    "assign_in_place",
    "atomic_write_bytes",
    "canonical_name",
    "canonical_parameters",
    "load_canonical",
    "load_ckpt",
    "load_pretrained_backbone",
    "load_tensors",
    "mindspore_names",
    "model_config_json",
    "model_tensors",
    "read_safetensors",
    "read_state_dict",
    "save_canonical",
    "save_ckpt",
]
