"""Canonical weight I/O for Paddle models, and Paddle-native ``.pdparams`` checkpoints.

The file format (safetensors, names of :mod:`enhancenet_core.namemap`, the metadata header, the checks and the
shuffle-order conversion at load) is enhancenet-core's (:mod:`enhancenet_core.canonical`), shared with every
implementation; this module keeps only what is Paddle's: the name table below and the copy between Paddle
tensors and NumPy arrays.

Paddle <-> canonical: the one table
===================================

The Paddle models are built with the same sublayer structure as the PyTorch ones, so a Paddle structured name
differs from the canonical name only in these rows (:data:`PADDLE_NAME_TABLE`, applied by
:func:`canonical_name` / :func:`paddle_name`):

=================================  ===================================  ==========================================
Paddle (``state_dict()`` key)      canonical                            why
=================================  ===================================  ==========================================
``base.<name>``                    ``<name>``                           :class:`PoseModel` holds the base model in
                                                                        ``base``; the torch model strips the same
                                                                        prefix with state-dict hooks
``enhance.<name>``                 ``enhance.<name>``                   (unchanged: the head's canonical prefix)
``<bn>._mean``                     ``<bn>.running_mean``                Paddle's BatchNorm buffer name
``<bn>._variance``                 ``<bn>.running_var``                 Paddle's BatchNorm buffer name
=================================  ===================================  ==========================================

Everything else is identical, value for value, and needs no conversion (all verified by the tests):

- ``Conv2D`` weight ``(C_out, C_in/groups, kh, kw)`` = OIHW, as torch and the canonical format;
- ``Conv2DTranspose`` weight ``(C_in, C_out/groups, kh, kw)``, the same layout as ``torch.nn.ConvTranspose2d``
  and the canonical format (no transpose);
- ``bias_attr=False`` wherever torch has ``bias=False``, so the same set of tensors exists;
- BatchNorm epsilon 1e-5 (:data:`enhancenet_core.namemap.BN_EPS`); momentum is not stored, but note the
  convention: Paddle ``momentum=0.9`` is PyTorch's ``momentum=0.1`` (Paddle weights the running statistic,
  PyTorch the new batch statistic);
- no ``Linear`` layer exists in these models, so no Linear transpose (Paddle's ``(in, out)`` vs torch's
  ``(out, in)``) is needed;
- ``num_batches_tracked`` (torch only) is not canonical and Paddle has none.

Loading checks everything before copying anything: a file of another architecture, a missing or unexpected
tensor, or a tensor of the wrong shape raises one ``ValueError`` listing each offending tensor with the expected
and the found shape. A sub-pixel head stored in the other shuffle order is converted at load into the order
of the model's head (:func:`enhancenet_core.canonical.load_canonical_arrays`). Writes are atomic (temporary
file in the target directory + ``os.replace``). Nothing is ever downloaded.

Only safetensors files are read by default: ``.pdparams`` (:func:`paddle.load` is pickle) is refused with one line
(:class:`enhancenet_core.safetensors_io.PickleRefusedError`) unless the caller passes ``trust_pickle=True``, which
``enhancenet-convert --trust-pickle`` does for a file the user has said they trust.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from paddle import Tensor, nn

from enhancenet_core import canonical
from enhancenet_core.canonical import FORMAT_NAME, FORMAT_VERSION, LAYOUTS, RESERVED_KEYS, model_config_json
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_core.restricted_pickle import load_array_pickle
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_paddle.models.head import EnhanceNet
from enhancenet_paddle.models.names import BASE_PREFIX, BN_SUFFIXES, canonical_name
from enhancenet_paddle.models.names import assign_arrays as _assign
from enhancenet_paddle.models.names import tensor_shapes as _shapes
from enhancenet_paddle.models.pose_model import PoseModel
from enhancenet_paddle.models.pretrained import load_backbone_weights
from enhancenet_runtime.engine.io import atomic_write_bytes

PDPARAMS_FORMAT = "enhancenet-paddle-pdparams"
PADDLE_NAME_TABLE: tuple[tuple[str, str, str], ...] = (
    ("base.<name>", "<name>", "PoseModel holds the base model in `base` (torch strips it with hooks)"),
    ("enhance.<name>", "enhance.<name>", "unchanged"),
    ("<bn>._mean", "<bn>.running_mean", "Paddle's BatchNorm buffer name"),
    ("<bn>._variance", "<bn>.running_var", "Paddle's BatchNorm buffer name"),
)


# --------------------------------------------------------------------------------------------- the table
def paddle_name(name: str, in_pose_model: bool = True) -> str:
    """Canonical name -> Paddle structured name of a :class:`PoseModel` (``bn1.running_mean`` -> ``base.bn1._mean``).

    ``in_pose_model=False`` gives the name inside a bare base model or head (no ``base.`` prefix).
    """
    for paddle_suffix, canonical_suffix in BN_SUFFIXES:
        if name.endswith(canonical_suffix):
            name = name[: -len(canonical_suffix)] + paddle_suffix
            break
    if in_pose_model and not name.startswith(HEAD_PREFIX):
        name = BASE_PREFIX + name
    return name


def canonical_state_dict(model: nn.Layer) -> OrderedDict[str, Tensor]:
    """The model's tensors under their canonical names, in ``state_dict`` order (Paddle tensors, not copies).

    For a :class:`PoseModel` the ``base.`` prefix is removed; for a bare base model or head only the BN names
    change.
    """
    strip = isinstance(model, PoseModel)
    out: OrderedDict[str, Tensor] = OrderedDict()
    for name, tensor in model.state_dict().items():
        out[canonical_name(name, strip_base=strip)] = tensor
    return out


# ------------------------------------------------------------------------------ Paddle tensor <-> NumPy
def read_safetensors(path: str | os.PathLike[str]) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order as NumPy arrays, metadata) of a safetensors file; FileNotFoundError / ValueError."""
    arrays, metadata = canonical.read_safetensors(path)
    return OrderedDict(arrays), metadata


def _head(model: nn.Layer) -> EnhanceNet | None:
    if isinstance(model, PoseModel):
        return model.enhance if model.has_head else None
    return model if isinstance(model, EnhanceNet) else None


def _order(model: nn.Layer) -> ShuffleOrder | None:
    """The order the model's sub-pixel weights are in (the head's own)."""
    head = _head(model)
    return head.shuffle_order if head is not None else None


def _to_numpy(t: Tensor | Any) -> np.ndarray:
    return np.ascontiguousarray(t.numpy() if isinstance(t, Tensor) else np.asarray(t))


def save_canonical(
    model: nn.Layer,
    path: str | os.PathLike[str],
    model_cfg: ModelConfig,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write the model's canonical tensors and the metadata header to ``path`` (atomically).

    Args:
        model: a :class:`PoseModel` built from ``model_cfg``.
        path: the ``.safetensors`` file; its directory must exist.
        model_cfg: the model's configuration, recorded as JSON in the header.
        metadata: extra string entries for the header (may not use the reserved keys).
    """
    if not isinstance(model, PoseModel):
        raise TypeError(f"save_canonical: expected a PoseModel (build_model(model_cfg)), got {type(model).__name__}")
    for key, value in (metadata or {}).items():
        if not isinstance(value, str):
            raise ValueError(f"metadata {key!r}: values must be strings, got {type(value).__name__}")
    own = canonical_state_dict(model)
    arrays = {k: _to_numpy(v) for k, v in own.items()}
    canonical.save_canonical_arrays(path, arrays, model_cfg, metadata, shuffle_order=_order(model),
                                    model_shapes=_shapes(own))


def load_canonical(
    model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> dict[str, str]:
    """Load a canonical safetensors file into ``model`` after checking every tensor; returns the metadata.

    Raises FileNotFoundError when the file is missing, and ValueError (nothing loaded) when the file is not a
    canonical file of a supported version, was written for another architecture, or any tensor is missing,
    unexpected or mis-shaped (each listed with the expected and the found shape). ``model_cfg`` (default: the
    file's own, for the checks) must describe ``model``; a model that does not match it is refused.
    """
    own = canonical_state_dict(model)
    arrays = canonical.load_canonical_arrays(path, model_cfg, _order(model), model_shapes=_shapes(own))
    _assign(own, arrays)
    return canonical.read_canonical_metadata(path)


# ------------------------------------------------------------------------------ Paddle-native checkpoints
def save_pdparams(
    model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> None:
    """Save ``model.state_dict()`` (Paddle names, e.g. ``base.bn1._mean``) with :func:`paddle.save`, atomically.

    With ``model_cfg`` the file also records the configuration (key ``__enhancenet__``: ``format``,
    ``model_config`` JSON) so :func:`load_pdparams` can refuse a checkpoint of another architecture.
    """
    state: dict[str, Any] = dict(model.state_dict().items())
    if model_cfg is not None:
        state["__enhancenet__"] = {"format": PDPARAMS_FORMAT, "model_config": model_config_json(model_cfg)}
    buf = io.BytesIO()
    paddle.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_trusted_pickle(path: str | os.PathLike[str]) -> Any:
    """The state dict of a ``.pdparams`` the user has explicitly trusted (``--trust-pickle``), values as NumPy arrays.

    Read by :func:`enhancenet_core.restricted_pickle.load_array_pickle`, not :func:`paddle.load`: only NumPy's array
    reconstructors may be named by the file, so even a trusted file cannot run code (anything else is refused in
    one line). Called only behind that opt-in, never by default and never as a fallback. The parameter-name table
    :func:`paddle.save` adds (``StructuredToParameterName@@``) is dropped, as :func:`paddle.load` drops it.
    """
    state = load_array_pickle(path)
    if isinstance(state, dict):
        state.pop("StructuredToParameterName@@", None)
    return state


def load_pdparams(model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None,
                  trust_pickle: bool = False) -> None:
    """Load a ``.pdparams`` state dict strictly: every tensor of ``model`` present with its shape, no extra one.

    Paddle's own ``set_state_dict`` only warns about missing or mis-shaped tensors; this raises one ValueError
    listing each problem (Paddle names, expected and found shape) and loads nothing on failure. The file is
    pickle: without ``trust_pickle`` it is refused unread (:class:`~enhancenet_core.safetensors_io.PickleRefusedError`).
    """
    source = os.fspath(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {source} not found")
    if not trust_pickle:
        check_not_pickle(path)
        raise ValueError(f"{source}: expected a .pdparams file")  # pragma: no cover - .pdparams is refused above
    state = load_trusted_pickle(source)
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a state dict, got {type(state).__name__}")
    info = state.pop("__enhancenet__", None)
    preamble = ""
    if model_cfg is not None and isinstance(info, dict):
        preamble = canonical.base_mismatch(info, model_cfg)
    own = model.state_dict()
    arrays = {k: _to_numpy(v) for k, v in state.items()}
    expected = _shapes(own)
    if preamble and not canonical.tensor_problems(arrays, expected):
        raise ValueError(f"{source}: {preamble.rstrip('; ')}")
    canonical.check_tensors(arrays, expected, source, preamble)
    _assign(dict(own), arrays)


# -------------------------------------------------------------------------------- third-party checkpoints
def read_state_dict(path: str | os.PathLike[str], trust_pickle: bool = False) -> OrderedDict[str, np.ndarray]:
    """Arrays of a ``.safetensors`` file or (only with ``trust_pickle``) a ``.pdparams`` state dict, under
    canonical names.

    BN names are mapped by the table (``_mean`` -> ``running_mean``); a ``module.`` prefix (DataParallel) is
    removed. PyTorch ``.pth`` files need torch, which this package never imports: convert them to safetensors
    first (``enhancenet_torch.weights`` or ``safetensors.torch``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        raw: dict[str, Any] = read_safetensors(path)[0]
    elif not trust_pickle:
        check_not_pickle(path)
        raise ValueError(f"{path}: expected a .safetensors weight file")
    elif path.suffix == ".pdparams":
        loaded = load_trusted_pickle(path)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a state dict, got {type(loaded).__name__}")
        raw = {k: v for k, v in loaded.items() if k != "__enhancenet__"}
    else:
        raise ValueError(
            f"{path}: expected a .safetensors or .pdparams file; PyTorch .pth files must be converted to "
            "safetensors first (enhancenet-paddle does not import torch)"
        )
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, v in raw.items():
        name = k[len("module."):] if k.startswith("module.") else k
        out[canonical_name(name, strip_base=False)] = _to_numpy(v)
    return out


def _base_layer(model: nn.Layer) -> nn.Layer:
    return model.base if isinstance(model, PoseModel) else model


def load_hrnet_checkpoint(model: nn.Layer, path: str | os.PathLike[str], trust_pickle: bool = False) -> None:
    """Load an HRNet code-base checkpoint (``pose_resnet`` / ``pose_hrnet`` names, base model only) converted to
    ``.safetensors`` into the base model of ``model`` (the EnhanceNet head keeps its initialisation).

    ``num_batches_tracked`` is ignored. Every base-model tensor must be present with the right shape and no
    other tensor may be in the file, else ValueError lists each one and nothing is loaded.
    """
    source = os.fspath(path)
    found = OrderedDict((k, v) for k, v in read_state_dict(path, trust_pickle).items()
                        if not k.endswith("num_batches_tracked"))
    own = canonical_state_dict(_base_layer(model))
    canonical.check_tensors(found, _shapes(own), source)
    _assign(own, found)


def load_pretrained_backbone(model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of ``model`` (a :class:`PoseModel` or a bare base model) from local ImageNet
    weights (``.safetensors``; never downloaded): :func:`enhancenet_paddle.models.pretrained.load_backbone_weights`.
    """
    load_backbone_weights(_base_layer(model), path, model_cfg)



__all__ = [
    "BASE_PREFIX",
    "BN_SUFFIXES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LAYOUTS",
    "PADDLE_NAME_TABLE",
    "RESERVED_KEYS",
    "atomic_write_bytes",
    "canonical_name",
    "canonical_state_dict",
    "load_canonical",
    "load_hrnet_checkpoint",
    "load_pdparams",
    "load_pretrained_backbone",
    "load_trusted_pickle",
    "model_config_json",
    "paddle_name",
    "read_safetensors",
    "read_state_dict",
    "save_canonical",
    "save_pdparams",
]
