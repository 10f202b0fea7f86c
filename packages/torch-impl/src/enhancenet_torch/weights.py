"""Canonical weight I/O for PyTorch models: between a model's ``state_dict`` and :mod:`enhancenet_core.canonical`.

The file format (safetensors, names of :mod:`enhancenet_core.namemap`, the metadata header, the checks and the
shuffle-order conversion at load) is enhancenet-core's, shared with every implementation. PyTorch needs no
conversion of names or layouts: ``model.state_dict()`` without BN ``num_batches_tracked`` *is* the canonical
set (conv weights OIHW, ``ConvTranspose2d`` weights ``(C_in, C_out/groups, kh, kw)``, BN ``weight``, ``bias``,
``running_mean``, ``running_var``), so this module only moves tensors to and from NumPy.

Loading checks everything before copying anything: a file of another architecture, a missing or unexpected
tensor, or a tensor of the wrong shape raises one ``ValueError`` that lists each offending tensor with the
expected and the found shape. A sub-pixel head stored in the other shuffle order is converted at load into the
order of the model's head, so a file written in the paper's order (Eq. 5) gives identical heat maps in a model
configured with the framework order, and vice versa.

Also here: :func:`load_hrnet_checkpoint` for HRNet's official ``pose_resnet`` / ``pose_hrnet`` ``.pth`` files
(same names, base model only) and :func:`load_pretrained_backbone` for local ImageNet weights of the
ResNet / HRNet backbones. Nothing is ever downloaded. This module never imports enhancenet-numpy.

Only safetensors files are read: a ``.pt`` / ``.pth`` (pickle) file is refused with one line
(:class:`enhancenet_core.safetensors_io.PickleRefusedError`) unless the caller passes ``trust_pickle=True``,
which ``enhancenet-convert --trust-pickle`` does for a file the user has said they trust: convert an HRNet or
ImageNet ``.pth`` once (``enhancenet-convert pose_hrnet_w32.pth pose_hrnet_w32.safetensors --trust-pickle
--config CONFIG``) and use the ``.safetensors``.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from enhancenet_core import canonical
from enhancenet_core.canonical import FORMAT_NAME, FORMAT_VERSION, model_config_json
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.restricted_pickle import ALLOWED_GLOBALS, is_allowed_global
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_runtime.engine.io import atomic_write_bytes
from enhancenet_torch.models.head import EnhanceNet
from enhancenet_torch.models.pose_model import PoseModel
from enhancenet_torch.models.pretrained import canonical_state_dict, load_backbone_weights


# ------------------------------------------------------------------------------------------ helpers
def read_safetensors(path: str | os.PathLike[str]) -> tuple[OrderedDict[str, Tensor], dict[str, str]]:
    """(tensors in file order, metadata) of a safetensors file; FileNotFoundError / ValueError naming it."""
    arrays, metadata = canonical.read_safetensors(path)
    return OrderedDict((k, torch.from_numpy(v)) for k, v in arrays.items()), metadata


def _to_numpy(t: Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    if t.dtype == torch.bfloat16:  # NumPy (and so the canonical writer) has no bfloat16
        t = t.float()
    return t.contiguous().numpy()


def _head(model: nn.Module) -> EnhanceNet | None:
    if isinstance(model, PoseModel):
        return model.enhance if model.has_head else None
    return model if isinstance(model, EnhanceNet) else None


def _order(model: nn.Module) -> ShuffleOrder | None:
    """The order the model's sub-pixel weights are in (the head's own: ``to_framework_order`` changes it)."""
    head = _head(model)
    return head.shuffle_order if head is not None else None


def _model_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in canonical_state_dict(model).items()}


# ------------------------------------------------------------------------------------------ save / load
def save_canonical(
    model: nn.Module,
    path: str | os.PathLike[str],
    model_cfg: ModelConfig,
    metadata: dict[str, str] | None = None,
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
    arrays = {k: _to_numpy(v) for k, v in canonical_state_dict(model).items()}
    canonical.save_canonical_arrays(path, arrays, model_cfg, metadata, shuffle_order=_order(model),
                                    model_shapes=_model_shapes(model))


def load_canonical(
    model: nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> dict[str, str]:
    """Load a canonical safetensors file into ``model`` after checking every tensor; returns the metadata.

    Raises FileNotFoundError when the file is missing, and ValueError (nothing loaded) when the file is not a
    canonical file of a supported version, was written for another architecture, or any tensor is missing,
    unexpected or mis-shaped (each listed with the expected and the found shape). ``model_cfg`` (default: the
    file's own, for the checks) must describe ``model``; a model that does not match it is refused.
    """
    arrays = canonical.load_canonical_arrays(path, model_cfg, _order(model),
                                             model_shapes=_model_shapes(model))
    state = {k: torch.from_numpy(v) for k, v in arrays.items()}
    model.load_state_dict(state, strict=True)
    return canonical.read_canonical_metadata(path)


# ------------------------------------------------------------------------------- third-party checkpoints
def _numpy_globals() -> list[Any]:
    """The objects :func:`~enhancenet_core.restricted_pickle.is_allowed_global` admits that this NumPy has."""
    import importlib
    import warnings

    found = []
    for module, name in sorted(ALLOWED_GLOBALS):
        try:
            with warnings.catch_warnings():  # NumPy 2 warns on numpy.core, NumPy 1 has no numpy._core
                warnings.simplefilter("ignore", DeprecationWarning)
                found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return found + [getattr(np.dtypes, n) for n in dir(np.dtypes) if is_allowed_global("numpy.dtypes", n)]


def load_trusted_pickle(path: str | os.PathLike[str]) -> object:
    """``torch.load`` of a ``.pt`` / ``.pth`` file the user has explicitly trusted (``--trust-pickle``).

    Read with ``weights_only=True`` (PyTorch's restricted unpickler: tensors, containers, scalars) plus NumPy's
    array reconstructors (:data:`enhancenet_core.restricted_pickle.ALLOWED_GLOBALS`, for mmpose's ``meta``), so
    even a trusted file cannot run code; anything else is refused in one line. Called only behind that opt-in,
    never by default and never as a fallback when a safe reader refuses a file.
    """
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # PyTorch's restricted unpickler named what it would not build
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = next((lines[i + 1] for i, ln in enumerate(lines[:-1]) if ln.endswith("WeightsUnpickler error:")),
                      lines[-1] if lines else type(exc).__name__)
        raise ValueError(f"{path}: refused even with --trust-pickle, nothing of it ran: {reason}") from exc
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: not a readable PyTorch file ({' '.join(str(exc).split())})") from exc


def read_state_dict(path: str | os.PathLike[str], trust_pickle: bool = False) -> OrderedDict[str, Tensor]:
    """Tensors of a ``.safetensors`` file or, only with ``trust_pickle``, a PyTorch ``.pth`` / ``.pt`` state dict.

    A dict holding ``state_dict`` / ``model`` is unwrapped; a ``module.`` prefix (DataParallel) is removed.

    Raises:
        PickleRefusedError: a pickle file without ``trust_pickle`` (nothing unpickled).
        ValueError: not a state dict (naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        return read_safetensors(path)[0]
    if not trust_pickle:
        check_not_pickle(path)
        raise ValueError(f"{path}: expected a .safetensors weight file")
    obj = load_trusted_pickle(path)
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict), got {type(obj).__name__}")
    out: OrderedDict[str, Tensor] = OrderedDict()
    for k, v in obj.items():
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def _base_module(model: nn.Module) -> nn.Module:
    return model.base if isinstance(model, PoseModel) else model


def load_hrnet_checkpoint(model: nn.Module, path: str | os.PathLike[str], trust_pickle: bool = False) -> None:
    """Load an official HRNet code-base checkpoint (``pose_resnet_*.pth`` / ``pose_hrnet_*.pth``) into the base
    model of ``model`` (the EnhanceNet head keeps its initialisation).

    The names are the canonical ones; ``num_batches_tracked`` is ignored. Every base-model tensor must be
    present with the right shape and no other tensor may be in the file, else ValueError lists each one
    (expected and found shape) and nothing is loaded. A ``.pth`` is read only with ``trust_pickle`` (else
    refused: convert it to safetensors once).
    """
    source = os.fspath(path)
    found = OrderedDict((k, v) for k, v in read_state_dict(path, trust_pickle).items()
                        if not k.endswith("num_batches_tracked"))
    base = _base_module(model)
    expected = {k: tuple(v.shape) for k, v in canonical_state_dict(base).items()}
    canonical.check_tensors(found, expected, source)
    base.load_state_dict(found, strict=False)  # num_batches_tracked is not in the file; everything else is


def load_pretrained_backbone(model: nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of ``model`` (a :class:`PoseModel` or a bare base model) from local ImageNet
    weights (``.safetensors``; never downloaded): :func:`enhancenet_torch.models.pretrained.load_backbone_weights`.
    """
    load_backbone_weights(_base_module(model), path, model_cfg)



__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "atomic_write_bytes",
    "load_canonical",
    "load_hrnet_checkpoint",
    "load_pretrained_backbone",
    "load_trusted_pickle",
    "model_config_json",
    "read_safetensors",
    "read_state_dict",
    "save_canonical",
]
