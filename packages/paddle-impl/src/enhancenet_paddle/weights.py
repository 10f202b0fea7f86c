"""Canonical weight I/O for Paddle models, and Paddle-native ``.pdparams`` checkpoints.

Canonical file format (the one ``enhancenet_numpy.weights`` and ``enhancenet_torch.weights`` write and read,
format version 1): a safetensors file whose tensors carry the names of :mod:`enhancenet_core.namemap`, conv
weights OIHW, transposed-conv weights ``(C_in, C_out/groups, kh, kw)``, BN ``weight``, ``bias``,
``running_mean``, ``running_var`` (epsilon 1e-5); ``__metadata__``: ``format`` = ``enhancenet-canonical``,
``format_version`` = ``1``, ``model_config`` (compact JSON, sorted keys), ``shuffle_order``, ``bn_eps``,
``layouts``, plus the caller's entries.

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
and the found shape. A sub-pixel head stored in the other shuffle order is converted at load (the output
channels of ``enhance.upsample`` are permuted with :func:`enhancenet_core.pixel_shuffle.channel_permutation`).
Writes are atomic (temporary file in the target directory + ``os.replace``). Nothing is ever downloaded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from paddle import Tensor, nn
from safetensors import safe_open
from safetensors.numpy import save as safetensors_save

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_core.namemap import BN_EPS, HEAD_PREFIX, parameter_specs
from enhancenet_core.pixel_shuffle import channel_permutation
from enhancenet_paddle.models.head import EnhanceNet
from enhancenet_paddle.models.pose_model import PoseModel

FORMAT_NAME = "enhancenet-canonical"
FORMAT_VERSION = "1"
LAYOUTS = "conv OIHW; transposed conv (C_in, C_out/groups, kh, kw); bn weight,bias,running_mean,running_var"
RESERVED_KEYS = ("format", "format_version", "model_config", "shuffle_order", "bn_eps", "layouts", "feature_channels")
PDPARAMS_FORMAT = "enhancenet-paddle-pdparams"

BASE_PREFIX = "base."
#: The Paddle-specific name differences, (Paddle suffix, canonical suffix); see the module docstring.
BN_SUFFIXES: tuple[tuple[str, str], ...] = (("._mean", ".running_mean"), ("._variance", ".running_var"))
PADDLE_NAME_TABLE: tuple[tuple[str, str, str], ...] = (
    ("base.<name>", "<name>", "PoseModel holds the base model in `base` (torch strips it with hooks)"),
    ("enhance.<name>", "enhance.<name>", "unchanged"),
    ("<bn>._mean", "<bn>.running_mean", "Paddle's BatchNorm buffer name"),
    ("<bn>._variance", "<bn>.running_var", "Paddle's BatchNorm buffer name"),
)

#: Backbone tensors taken from ImageNet weights, by base model (canonical name prefixes).
_BACKBONE_PREFIXES: dict[BaseModelName, tuple[str, ...]] = {
    BaseModelName.SIMPLE_BASELINE: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.CPN: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.HRNET: (
        "conv1.", "bn1.", "conv2.", "bn2.", "layer1.", "transition1.", "stage2.", "transition2.", "stage3.",
        "transition3.", "stage4.",
    ),
}


# --------------------------------------------------------------------------------------------- the table
def canonical_name(name: str, strip_base: bool = True) -> str:
    """Paddle structured name -> canonical name (``base.bn1._mean`` -> ``bn1.running_mean``)."""
    if strip_base and name.startswith(BASE_PREFIX):
        name = name[len(BASE_PREFIX):]
    for paddle_suffix, canonical_suffix in BN_SUFFIXES:
        if name.endswith(paddle_suffix):
            return name[: -len(paddle_suffix)] + canonical_suffix
    return name


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


# ----------------------------------------------------------------------------------------------- helpers
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


def _atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` for a temporary file next to ``path``, then ``os.replace`` it onto ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` through a temporary file in the target directory and ``os.replace``."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    _atomic_write(path, write)


def read_safetensors(path: str | os.PathLike[str]) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order as NumPy arrays, metadata) of a safetensors file."""
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


def _head(model: nn.Layer) -> EnhanceNet | None:
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
    """One line per missing, unexpected, mis-shaped or non-floating-point array of ``found``."""
    problems = _name_shape_problems({k: tuple(np.shape(v)) for k, v in found.items()}, expected)
    problems += [
        f"wrong dtype {name}: expected a floating-point tensor, found {np.asarray(a).dtype}"
        for name, a in found.items()
        if name in expected and not np.issubdtype(np.asarray(a).dtype, np.floating)
    ]
    return problems


def _raise_problems(source: str, problems: list[str], preamble: str = "") -> None:
    if problems:
        raise ValueError(
            f"{source}: {preamble}{len(problems)} tensor(s) do not fit the model:\n  " + "\n  ".join(problems)
        )


def _expected_shapes(model: nn.Layer, model_cfg: ModelConfig | None) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape of ``model``; checked against the name map when ``model_cfg`` is given."""
    own = {k: tuple(int(s) for s in v.shape) for k, v in canonical_state_dict(model).items()}
    if model_cfg is not None and isinstance(model, PoseModel):
        try:
            specs = parameter_specs(model_cfg)
        except ValueError:  # a base model the name map does not cover (CPN): check the head alone
            specs = (
                parameter_specs(model_cfg, feature_channels=model.base.feature_channels)
                if model_cfg.head.enabled else {}
            )
            own_part = {k: v for k, v in own.items() if k.startswith(HEAD_PREFIX)}
        else:
            own_part = own
        problems = _name_shape_problems(own_part, {k: s.shape for k, s in specs.items()})
        if problems:
            raise ValueError(
                "the model does not match its config's canonical name map (build it with build_model(model_cfg)):"
                "\n  " + "\n  ".join(problems)
            )
    return own


def _assign(targets: dict[str, Tensor], arrays: dict[str, np.ndarray]) -> None:
    """Copy each array into the Paddle tensor of the same name, cast to the tensor's dtype (no grad)."""
    with paddle.no_grad():
        for name, array in arrays.items():
            t = targets[name]
            t.set_value(np.ascontiguousarray(np.asarray(array), dtype=_numpy_dtype(t)))


def _numpy_dtype(t: Tensor) -> np.dtype:
    return np.dtype(str(t.dtype).replace("paddle.", ""))


# ---------------------------------------------------------------------------------- canonical save / load
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
    _expected_shapes(model, model_cfg)  # the model must be the config's model
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
    tensors = {k: np.ascontiguousarray(v.numpy()) for k, v in canonical_state_dict(model).items()}
    atomic_write_bytes(path, safetensors_save(tensors, metadata=header))


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
        a = out.get(name)
        if a is not None and a.ndim >= 1 and a.shape[0] == perm.size:
            out[name] = np.ascontiguousarray(a[perm])
    return out


def load_canonical(
    model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
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
    _assign(canonical_state_dict(model), tensors)
    return metadata


# ------------------------------------------------------------------------------ Paddle-native checkpoints
def save_pdparams(
    model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None
) -> None:
    """Save ``model.state_dict()`` (Paddle names, e.g. ``base.bn1._mean``) with :func:`paddle.save`, atomically.

    With ``model_cfg`` the file also records the configuration (key ``__enhancenet__``: ``format``,
    ``model_config`` JSON) so :func:`load_pdparams` can refuse a checkpoint of another architecture.
    """
    state: dict[str, Any] = {k: v for k, v in model.state_dict().items()}
    if model_cfg is not None:
        state["__enhancenet__"] = {"format": PDPARAMS_FORMAT, "model_config": model_config_json(model_cfg)}
    _atomic_write(path, lambda tmp: paddle.save(state, tmp))


def load_pdparams(model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> None:
    """Load a ``.pdparams`` state dict strictly: every tensor of ``model`` present with its shape, no extra one.

    Paddle's own ``set_state_dict`` only warns about missing or mis-shaped tensors; this raises one ValueError
    listing each problem (Paddle names, expected and found shape) and loads nothing on failure.
    """
    source = os.fspath(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {source} not found")
    try:
        state = paddle.load(source)
    except Exception as exc:
        raise ValueError(f"{source}: not a readable Paddle checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a state dict, got {type(state).__name__}")
    info = state.pop("__enhancenet__", None)
    preamble = ""
    if model_cfg is not None and isinstance(info, dict) and "model_config" in info:
        try:
            stored_base = json.loads(info["model_config"])["base"]["name"]
        except (ValueError, KeyError, TypeError):
            stored_base = None
        want_base = BaseModelName(model_cfg.base.name).value
        if stored_base is not None and stored_base != want_base:
            preamble = f"the file holds a {stored_base!r} model, the config builds {want_base!r}; "
    own = model.state_dict()
    arrays = {k: (v.numpy() if isinstance(v, Tensor) else np.asarray(v)) for k, v in state.items()}
    problems = _shape_problems(arrays, {k: tuple(int(s) for s in v.shape) for k, v in own.items()})
    if preamble and not problems:
        raise ValueError(f"{source}: {preamble.rstrip('; ')}")
    _raise_problems(source, problems, preamble)
    _assign(dict(own), arrays)


# -------------------------------------------------------------------------------- third-party checkpoints
def read_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """Arrays of a ``.safetensors`` file or a ``.pdparams`` state dict, under canonical names.

    BN names are mapped by the table (``_mean`` -> ``running_mean``); a ``module.`` prefix (DataParallel) is
    removed. PyTorch ``.pth`` files need torch, which this package never imports: convert them to safetensors
    first (``enhancenet_torch.weights`` or ``safetensors.torch``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        raw: dict[str, Any] = read_safetensors(path)[0]
    elif path.suffix == ".pdparams":
        try:
            raw = paddle.load(os.fspath(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a readable Paddle checkpoint ({exc})") from exc
        raw = {k: v for k, v in raw.items() if k != "__enhancenet__"}
    else:
        raise ValueError(
            f"{path}: expected a .safetensors or .pdparams file; PyTorch .pth files must be converted to "
            "safetensors first (enhancenet-paddle does not import torch)"
        )
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, v in raw.items():
        name = k[len("module."):] if k.startswith("module.") else k
        out[canonical_name(name, strip_base=False)] = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
    return out


def _base_layer(model: nn.Layer) -> nn.Layer:
    return model.base if isinstance(model, PoseModel) else model


def load_hrnet_checkpoint(model: nn.Layer, path: str | os.PathLike[str]) -> None:
    """Load an HRNet code-base checkpoint (``pose_resnet`` / ``pose_hrnet`` names, base model only) converted to
    ``.safetensors`` into the base model of ``model`` (the EnhanceNet head keeps its initialisation).

    ``num_batches_tracked`` is ignored. Every base-model tensor must be present with the right shape and no
    other tensor may be in the file, else ValueError lists each one and nothing is loaded.
    """
    source = os.fspath(path)
    found = OrderedDict((k, v) for k, v in read_state_dict(path).items() if not k.endswith("num_batches_tracked"))
    base = _base_layer(model)
    own = canonical_state_dict(base)
    _raise_problems(source, _shape_problems(found, {k: tuple(int(s) for s in v.shape) for k, v in own.items()}))
    _assign(own, found)


def load_pretrained_backbone(model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of ``model`` from local ImageNet weights (``.safetensors`` / ``.pdparams``).

    ResNet (SimpleBaseline, CPN): torchvision / HRNet names ``conv1``, ``bn1``, ``layer1..4`` (``fc`` ignored).
    HRNet: the ImageNet HRNet names of the stem, ``layer1``, ``transition1..3`` and ``stage2..4``. Every
    backbone tensor of the model must be in the file with the right shape, else ValueError lists them and
    nothing is loaded. Never downloads.
    """
    name = BaseModelName(model_cfg.base.name)
    if name not in _BACKBONE_PREFIXES:
        raise ValueError(f"model.base.pretrained: ImageNet weights are supported for ResNet and HRNet backbones, "
                         f"not for {name.value!r}")
    source = os.fspath(path)
    found = read_state_dict(path)
    base = _base_layer(model)
    target = base.resnet if name is BaseModelName.CPN else base
    prefixes = _BACKBONE_PREFIXES[name]
    own = {k: v for k, v in canonical_state_dict(target).items() if k.startswith(prefixes)}
    chosen = OrderedDict((k, v) for k, v in found.items() if k in own)
    expected = {k: tuple(int(s) for s in v.shape) for k, v in own.items()}
    _raise_problems(f"{source} (ImageNet {name.value} backbone)", _shape_problems(chosen, expected))
    _assign(own, chosen)


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PADDLE_NAME_TABLE",
    "canonical_name",
    "canonical_state_dict",
    "load_canonical",
    "load_hrnet_checkpoint",
    "load_pdparams",
    "load_pretrained_backbone",
    "model_config_json",
    "paddle_name",
    "read_safetensors",
    "read_state_dict",
    "save_canonical",
    "save_pdparams",
]
