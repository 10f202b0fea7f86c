"""Canonical weight I/O for MindSpore models, and MindSpore-native ``.ckpt`` checkpoints.

Canonical file format (the one ``enhancenet_numpy.weights``, ``enhancenet_torch.weights`` and
``enhancenet_paddle.weights`` write and read, format version 1): a safetensors file whose tensors carry the names
of :mod:`enhancenet_core.namemap`, conv weights OIHW, transposed-conv weights ``(C_in, C_out/groups, kh, kw)``, BN
``weight``, ``bias``, ``running_mean``, ``running_var`` (epsilon 1e-5); ``__metadata__``: ``format`` =
``enhancenet-canonical``, ``format_version`` = ``1``, ``model_config`` (compact JSON, sorted keys),
``shuffle_order``, ``bn_eps``, ``layouts``, plus the caller's entries.

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
(temporary file in the target directory, then ``os.replace``); MindSpore's ``save_checkpoint`` creates files
with mode 0400, so :func:`save_ckpt` writes a temporary file, gives it the usual permissions (0666 & ~umask) and
renames it over the target, which therefore stays overwritable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import OrderedDict
from enum import Enum
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn
from safetensors import safe_open
from safetensors.numpy import save as safetensors_save

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_core.namemap import BN_EPS, HEAD_PREFIX, parameter_specs
from enhancenet_core.pixel_shuffle import channel_permutation
from enhancenet_mindspore.models.head import EnhanceNet
from enhancenet_mindspore.models.pose_model import BASE_ATTRIBUTE, PoseModel

FORMAT_NAME = "enhancenet-canonical"
FORMAT_VERSION = "1"
LAYOUTS = "conv OIHW; transposed conv (C_in, C_out/groups, kh, kw); bn weight,bias,running_mean,running_var"
RESERVED_KEYS = ("format", "format_version", "model_config", "shuffle_order", "bn_eps", "layouts", "feature_channels")

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


# ------------------------------------------------------------------------------------------ names
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


def mindspore_names(model: nn.Cell) -> dict[str, str]:
    """Canonical name -> MindSpore parameter name of ``model`` (the inverse of :func:`canonical_name`)."""
    return {canon: param.name for canon, param in canonical_parameters(model).items()}


def model_tensors(model: nn.Cell) -> OrderedDict[str, np.ndarray]:
    """The canonical tensors of ``model`` as NumPy arrays (copies), in canonical order."""
    return OrderedDict((k, p.asnumpy().copy()) for k, p in canonical_parameters(model).items())


# ------------------------------------------------------------------------------------------ helpers
def model_config_json(model_cfg: ModelConfig) -> str:
    """The model configuration as compact JSON, sorted keys, enums as their config strings (as numpy-ref)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(model_cfg), sort_keys=True, separators=(",", ":"))


def _usual_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` through a temporary file in the target directory and ``os.replace``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _usual_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_safetensors(path: str | os.PathLike[str]) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order, metadata) of a safetensors file; FileNotFoundError / ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            tensors = OrderedDict((name, f.get_tensor(name)) for name in f.keys())
    except Exception as exc:  # the library raises its own error types for a corrupt file
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    return tensors, metadata


def _head(model: nn.Cell) -> EnhanceNet | None:
    if isinstance(model, PoseModel):
        return model.enhance if model.has_head else None
    return model if isinstance(model, EnhanceNet) else None


def _name_shape_problems(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]) -> list[str]:
    problems = []
    for name, shape in expected.items():
        if name not in found:
            problems.append(f"missing {name}: expected shape {shape}, found nothing")
        elif found[name] != shape:
            problems.append(f"wrong shape {name}: expected {shape}, found {found[name]}")
    problems += [f"unexpected {name}: expected nothing, found shape {shape}"
                 for name, shape in found.items() if name not in expected]
    return problems


def _shape_problems(found: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]]) -> list[str]:
    """One line per missing, unexpected, mis-shaped or non-floating-point tensor of ``found``."""
    problems = [
        f"wrong dtype {name}: expected a floating-point tensor, found {np.asarray(t).dtype}"
        for name, t in found.items() if name in expected and not np.issubdtype(np.asarray(t).dtype, np.floating)
    ]
    return _name_shape_problems({k: tuple(np.shape(v)) for k, v in found.items()}, expected) + problems


def _raise_problems(source: str, problems: list[str], preamble: str = "") -> None:
    if problems:
        raise ValueError(f"{source}: {preamble}{len(problems)} tensor(s) do not fit the model:\n  "
                         + "\n  ".join(problems))


def _expected_shapes(model: nn.Cell, model_cfg: ModelConfig | None) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of ``model``; checked against the name map when ``model_cfg`` is given."""
    own = {k: tuple(p.shape) for k, p in canonical_parameters(model).items()}
    if model_cfg is not None and isinstance(model, PoseModel):
        try:
            specs = parameter_specs(model_cfg)
        except ValueError:  # a base model the name map does not cover (CPN): check the head alone
            specs = (parameter_specs(model_cfg, feature_channels=model.feature_channels)
                     if model_cfg.head.enabled else {})
            own_part = {k: v for k, v in own.items() if k.startswith(HEAD_PREFIX)}
        else:
            own_part = own
        problems = _name_shape_problems(own_part, {k: s.shape for k, s in specs.items()})
        if problems:
            raise ValueError("the model does not match its config's canonical name map (build it with "
                             "build_model(model_cfg)):\n  " + "\n  ".join(problems))
    return own


def _canonical_order(model_cfg: ModelConfig, names: list[str]) -> list[str]:
    """``names`` in the name map's order when the config is covered by it, else as given."""
    try:
        order = list(parameter_specs(model_cfg))
    except ValueError:
        return names
    return order if set(order) == set(names) else names


def load_tensors(model: nn.Cell, tensors: dict[str, np.ndarray], source: str = "tensors") -> None:
    """Copy canonical ``tensors`` into ``model`` after checking every one (names, shapes, floating dtype).

    Values are cast to each parameter's dtype (float32). Raises ValueError (nothing copied) on any problem.
    """
    params = canonical_parameters(model)
    _raise_problems(source, _shape_problems(tensors, {k: tuple(p.shape) for k, p in params.items()}))
    for name, param in params.items():
        value = np.ascontiguousarray(tensors[name], dtype=ms.dtype_to_nptype(param.dtype))
        param.set_data(ms.Tensor(value))


# ------------------------------------------------------------------------------------------ save / load
def save_canonical(
    model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig, metadata: dict[str, str] | None = None
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
    _expected_shapes(model, model_cfg)
    head = _head(model)
    order = head.shuffle_order if head is not None else ShuffleOrder(model_cfg.head.shuffle_order)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model_config_json(model_cfg),
        "shuffle_order": order.value,
        "bn_eps": repr(BN_EPS),
        "layouts": LAYOUTS,
    }
    for key, value in (metadata or {}).items():
        if key in header or key in RESERVED_KEYS:
            raise ValueError(f"metadata key {key!r} is reserved by the canonical format")
        if not isinstance(value, str):
            raise ValueError(f"metadata {key!r}: values must be strings, got {type(value).__name__}")
        header[key] = value
    tensors = model_tensors(model)
    ordered = {k: tensors[k] for k in _canonical_order(model_cfg, list(tensors))}
    atomic_write_bytes(path, safetensors_save(ordered, metadata=header))


def _convert_shuffle(
    tensors: dict[str, np.ndarray], stored: str | None, head: EnhanceNet | None, source: str
) -> dict[str, np.ndarray]:
    """Permute ``enhance.upsample`` from the file's shuffle order into the head's (sub-pixel heads only)."""
    if head is None or head.upsampler is not Upsampler.SUBPIXEL or stored is None:
        return tensors
    try:
        stored_order = ShuffleOrder(stored)
    except ValueError as exc:
        raise ValueError(f"{source}: metadata shuffle_order {stored!r} is not one of "
                         f"{[o.value for o in ShuffleOrder]}") from exc
    if stored_order is head.shuffle_order:
        return tensors
    perm = channel_permutation(head.num_keypoints, head.upscale, stored_order, head.shuffle_order)
    out = dict(tensors)
    for suffix in ("weight", "bias"):
        name = f"{HEAD_PREFIX}upsample.{suffix}"
        t = out.get(name)
        if t is not None and t.ndim >= 1 and t.shape[0] == perm.size:
            out[name] = t[perm]
    return out


def load_canonical(
    model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> dict[str, str]:
    """Load a canonical safetensors file into ``model`` after checking every tensor; returns the metadata.

    Raises FileNotFoundError when the file is missing, and ValueError (nothing loaded) when the file is not a
    canonical file of a supported version, was written for another architecture, or any tensor is missing,
    unexpected or mis-shaped (each listed with the expected and the found shape). ``model_cfg`` (optional)
    additionally checks that ``model`` is the model the config describes.
    """
    source = os.fspath(path)
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{source}: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT_NAME!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{source}: format_version {metadata.get('format_version')!r} is not supported "
                         f"(expected {FORMAT_VERSION!r})")
    expected = _expected_shapes(model, model_cfg)
    tensors = _convert_shuffle(tensors, metadata.get("shuffle_order"), _head(model), source)
    preamble = ""
    if model_cfg is not None and "model_config" in metadata:
        try:
            stored_base = json.loads(metadata["model_config"])["base"]["name"]
        except (ValueError, KeyError, TypeError):
            stored_base = None
        want_base = BaseModelName(model_cfg.base.name).value
        if stored_base is not None and stored_base != want_base:
            preamble = f"the file holds a {stored_base!r} model, the config builds {want_base!r}; "
    problems = _shape_problems(tensors, expected)
    if preamble and not problems:
        raise ValueError(f"{source}: {preamble.rstrip('; ')}")
    _raise_problems(source, problems, preamble)
    load_tensors(model, tensors, source)
    return metadata


# ------------------------------------------------------------------------------------ native .ckpt
def save_ckpt(model: nn.Cell, path: str | os.PathLike[str], append_dict: dict[str, Any] | None = None) -> None:
    """MindSpore-native checkpoint (``mindspore.save_checkpoint``, MindSpore parameter names), written atomically.

    ``append_dict``: extra scalars/strings stored beside the parameters (``save_checkpoint``'s ``append_dict``).
    The file gets the usual permissions (``save_checkpoint`` alone creates mode 0400), so it can be overwritten.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ckpt", dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)  # save_checkpoint creates the file itself
        ms.save_checkpoint(model, tmp, append_dict=append_dict)
        os.chmod(tmp, _usual_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.chmod(tmp, 0o600)
            os.unlink(tmp)


def load_ckpt(model: nn.Cell, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a MindSpore-native checkpoint into ``model`` after checking every parameter; returns the extra
    (non-parameter) entries of the file.

    Raises FileNotFoundError when the file is missing, ValueError (nothing loaded) listing every missing,
    unexpected or mis-shaped parameter (MindSpore names, expected and found shape).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        found = ms.load_checkpoint(os.fspath(path))
    except Exception as exc:
        raise ValueError(f"{path}: not a readable MindSpore checkpoint ({exc})") from exc
    params = dict(model.parameters_and_names())
    expected = {p.name: tuple(p.shape) for p in params.values()}
    tensors = {k: v for k, v in found.items() if isinstance(v, ms.Parameter) and k in expected}
    extras = {k: v for k, v in found.items() if k not in tensors}
    unexpected = {k: tuple(v.shape) for k, v in extras.items() if isinstance(v, ms.Parameter) and v.ndim > 0}
    problems = _name_shape_problems({**{k: tuple(v.shape) for k, v in tensors.items()}, **unexpected}, expected)
    _raise_problems(os.fspath(path), problems)
    for p in params.values():
        p.set_data(ms.Tensor(tensors[p.name].asnumpy().astype(ms.dtype_to_nptype(p.dtype))))
    return {k: (v.asnumpy() if isinstance(v, ms.Parameter | ms.Tensor) else v) for k, v in extras.items()
            if k not in unexpected}


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MINDSPORE_NAME_TABLE",
    "MINDSPORE_PREFIX_TABLE",
    "MINDSPORE_SUFFIX_TABLE",
    "atomic_write_bytes",
    "canonical_name",
    "canonical_parameters",
    "load_canonical",
    "load_ckpt",
    "load_tensors",
    "mindspore_names",
    "model_config_json",
    "model_tensors",
    "read_safetensors",
    "save_canonical",
    "save_ckpt",
]
