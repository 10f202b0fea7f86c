"""MindSpore parameter names -> canonical names, reading backbone files, and in-place parameter writes.

The one name table is documented in :mod:`enhancenet_mindspore.weights` (which re-exports these); the functions
live here, beside the models, so that building a model (which may load a pretrained backbone) never imports the
weight-file module, itself a user of the models (no import cycle).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from enhancenet_core.canonical import read_safetensors
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_mindspore.models.head import EnhanceNet

__all__ = [
    "BASE_ATTRIBUTE",
    "MINDSPORE_NAME_TABLE",
    "MINDSPORE_PREFIX_TABLE",
    "MINDSPORE_SUFFIX_TABLE",
    "assign_in_place",
    "canonical_name",
    "canonical_parameters",
    "read_state_dict",
]

#: The attribute under which :class:`~enhancenet_mindspore.models.PoseModel` holds its base model.
BASE_ATTRIBUTE = "base"

#: The whole MindSpore -> canonical name mapping: (MindSpore prefix, canonical prefix) and
#: (MindSpore suffix, canonical suffix). See the module docstring.
MINDSPORE_PREFIX_TABLE: tuple[tuple[str, str], ...] = ((BASE_ATTRIBUTE + ".", ""),)
MINDSPORE_SUFFIX_TABLE: tuple[tuple[str, str], ...] = (
    (".gamma", ".weight"),
    (".beta", ".bias"),
    (".moving_mean", ".running_mean"),
    (".moving_variance", ".running_var"),
)
MINDSPORE_NAME_TABLE = MINDSPORE_PREFIX_TABLE + MINDSPORE_SUFFIX_TABLE
_BN_CANONICAL_ORDER = (".weight", ".bias", ".running_mean", ".running_var")


def canonical_name(mindspore_name: str) -> str:
    """Canonical name of a MindSpore parameter name of a :class:`PoseModel` (see the table)."""
    name = mindspore_name
    for ms_prefix, canonical_prefix in MINDSPORE_PREFIX_TABLE:
        if name.startswith(ms_prefix):
            name = canonical_prefix + name[len(ms_prefix):]
            break
    for ms_suffix, canonical_suffix in MINDSPORE_SUFFIX_TABLE:
        if name.endswith(ms_suffix):
            return name[: -len(ms_suffix)] + canonical_suffix
    return name


def canonical_parameters(model: nn.Cell) -> OrderedDict[str, ms.Parameter]:
    """Canonical name -> MindSpore Parameter of ``model`` (a :class:`PoseModel`), in PyTorch ``state_dict`` order.

    MindSpore lists a BatchNorm's tensors as moving_mean, moving_variance, gamma, beta; they are reordered to
    the canonical weight, bias, running_mean, running_var. A bare :class:`EnhanceNet` gets the ``enhance.`` prefix.
    """
    prefix = HEAD_PREFIX if isinstance(model, EnhanceNet) else ""
    out: OrderedDict[str, ms.Parameter] = OrderedDict()
    pending: dict[str, dict[str, ms.Parameter]] = {}
    for name, param in model.parameters_and_names():
        canon = prefix + canonical_name(name)
        bn_suffix = next((c for m, c in MINDSPORE_SUFFIX_TABLE if name.endswith(m)), None)
        if bn_suffix is None:
            if canon in out:
                raise ValueError(f"two MindSpore parameters map to the canonical name {canon!r}")
            out[canon] = param
            continue
        stem = canon[: -len(bn_suffix)]
        group = pending.setdefault(stem, {})
        group[bn_suffix] = param
        if len(group) == len(_BN_CANONICAL_ORDER):
            for suffix in _BN_CANONICAL_ORDER:
                out[stem + suffix] = group[suffix]
            del pending[stem]
    for stem, group in pending.items():  # an incomplete BatchNorm (never built by this package)
        for suffix, param in group.items():
            out[stem + suffix] = param
    return out


def assign_in_place(param: ms.Parameter, value: np.ndarray | ms.Tensor) -> None:
    """Write ``value`` (same shape, cast to ``param``'s dtype) into ``param``'s existing storage (``ops.assign``).

    Not ``Parameter.set_data``: in PYNATIVE mode, once an optimizer has run on ``param``, ``set_data`` (and
    ``Parameter.assign_value``) give the Parameter new storage while a kernel optimizer such as ``nn.Adam`` keeps
    updating the old one, so the loaded values are silently lost at the next step (tested).
    """
    array = value.asnumpy() if isinstance(value, ms.Tensor) else np.asarray(value)
    ops.assign(param, ms.Tensor(np.ascontiguousarray(array, dtype=ms.dtype_to_nptype(param.dtype))))


def read_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """Arrays of a ``.safetensors`` file or a MindSpore ``.ckpt``, under canonical names.

    safetensors names are taken as canonical (torchvision / HRNet names); ``.ckpt`` parameter names are mapped
    by :func:`canonical_name` (``gamma`` -> ``weight``, ``moving_mean`` -> ``running_mean``, ``base.``
    removed) and its scalar / string entries are dropped. A ``module.`` prefix (DataParallel) is removed.

    Raises FileNotFoundError when the file is missing, ValueError naming the file when it is of another kind
    (a PyTorch ``.pth`` must be converted to safetensors first: enhancenet-mindspore does not import torch) or
    unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    check_not_pickle(path)  # a .pth / .pdparams: the one-line refusal with the safe format and how to convert
    raw: dict[str, np.ndarray] = {}
    if path.suffix == ".safetensors":
        raw = read_safetensors(path)[0]
    elif path.suffix == ".ckpt":
        try:
            found = ms.load_checkpoint(os.fspath(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a readable MindSpore checkpoint ({exc})") from exc
        raw = {canonical_name(k): v.asnumpy() for k, v in found.items()
               if isinstance(v, ms.Parameter | ms.Tensor) and v.ndim > 0}
    else:
        raise ValueError(
            f"{path}: expected a .safetensors (canonical names) or MindSpore .ckpt file; PyTorch .pth files must "
            "be converted to safetensors first (enhancenet-mindspore does not import torch)"
        )
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, np.asarray(v)) for k, v in raw.items())
