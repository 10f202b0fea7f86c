"""The canonical weight file: one safetensors format every implementation writes and reads.

A framework converts between its own parameters and the canonical arrays (names of
:mod:`enhancenet_core.namemap`, layouts below, NumPy arrays); everything about the file itself is here once:

File layout (format version :data:`FORMAT_VERSION`):

- tensors: every name of ``parameter_specs(model_cfg, feature_channels)``, in that order, no others (a base
  model the name map does not cover, CPN, keeps the framework's order); conv weights OIHW, transposed-conv
  weights ``(C_in, C_out/groups, kh, kw)``, BN ``weight``, ``bias``, ``running_mean``, ``running_var``
  (epsilon :data:`~enhancenet_core.namemap.BN_EPS`); floating point (float16/32/64), little-endian.
- ``__metadata__`` (string -> string, keys sorted): ``format`` = :data:`FORMAT_NAME`, ``format_version``,
  ``model_config`` (the :class:`~enhancenet_core.config.ModelConfig` as compact JSON, sorted keys, enums as
  their config strings), ``shuffle_order`` (the PS channel order ``enhance.upsample`` is stored in; see
  :class:`~enhancenet_core.conventions.ShuffleOrder`), ``bn_eps``, ``layouts``, ``feature_channels`` (only in
  a head-alone file), plus the caller's entries (non-string values stored as sorted-key JSON).

Writing is deterministic (the same arrays and metadata, the same bytes, whatever the dict order) and atomic.
Reading is pure NumPy and validates the header (dtypes, shapes, offsets inside the file and not overlapping)
before any tensor is returned. Loading checks every tensor against the name map and raises one ``ValueError``
that lists each missing, unexpected, mis-shaped or non-floating tensor with the expected and the found shape,
and converts a sub-pixel head stored in the other shuffle order (the output channels of ``enhance.upsample``
are permuted with :func:`enhancenet_core.pixel_shuffle.convert_subpixel_weights`), so a file written in the
paper's order (Eq. 5) gives the same M^HR in a model configured with the framework order, and vice versa.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.complexity import subpixel_channels
from enhancenet_core.config import ConfigError, ModelConfig, _check_rules, _dataclass_from_dict
from enhancenet_core.conventions import BaseModelName, PretrainedScope, ShuffleOrder, Upsampler
from enhancenet_core.namemap import BN_EPS, HEAD_PREFIX, TensorSpec, parameter_specs
from enhancenet_core.pixel_shuffle import convert_subpixel_weights
from enhancenet_core.safetensors_io import (
    read_canonical_metadata,
    read_safetensors,
    safetensors_bytes,
    save_safetensors,
)

__all__ = [
    "BACKBONE_PREFIXES",
    "BASE_MODEL_PREFIXES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LAYOUTS",
    "RESERVED_KEYS",
    "backbone_prefixes",
    "base_mismatch",
    "canonical_header",
    "check_finite",
    "check_tensors",
    "convert_shuffle_order",
    "expected_shapes",
    "file_model_config",
    "load_canonical_arrays",
    "model_config_from_json",
    "model_config_json",
    "read_canonical_metadata",
    "read_safetensors",
    "reorder_subpixel",
    "safetensors_bytes",
    "save_canonical_arrays",
    "save_safetensors",
    "tensor_problems",
]

FORMAT_NAME = "enhancenet-canonical"
FORMAT_VERSION = "1"
LAYOUTS = "conv OIHW; transposed conv (C_in, C_out/groups, kh, kw); bn weight,bias,running_mean,running_var"
RESERVED_KEYS = ("format", "format_version", "model_config", "shuffle_order", "bn_eps", "layouts", "feature_channels")

# ------------------------------------------------------------------------------------ config <-> JSON
def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def model_config_json(model_cfg: ModelConfig) -> str:
    """The model configuration as compact JSON with sorted keys (enums as their config strings)."""
    return json.dumps(_jsonable(model_cfg), sort_keys=True, separators=(",", ":"))


def canonical_header(
    model_cfg: ModelConfig,
    extra_metadata: Mapping[str, Any] | None = None,
    *,
    shuffle_order: ShuffleOrder | str | None = None,
    feature_channels: int | None = None,
) -> dict[str, str]:
    """The ``__metadata__`` of a canonical file (see the module docstring).

    Args:
        model_cfg: the model the tensors belong to.
        extra_metadata: the caller's entries; strings are stored as they are, other values as sorted-key JSON.
        shuffle_order: the order ``enhance.upsample`` is stored in (default ``model_cfg.head.shuffle_order``).
        feature_channels: given for a head-alone file (F^LR channels of the base it was attached to).

    Raises:
        ValueError: an extra key that is one of :data:`RESERVED_KEYS`.
    """
    order = ShuffleOrder(shuffle_order if shuffle_order is not None else model_cfg.head.shuffle_order)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model_config_json(model_cfg),
        "shuffle_order": order.value,
        "bn_eps": repr(BN_EPS),
        "layouts": LAYOUTS,
    }
    if feature_channels is not None:
        header["feature_channels"] = str(int(feature_channels))
    for key, value in (extra_metadata or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(f"metadata key {key!r} is reserved by the canonical format")
        header[str(key)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return header


# --------------------------------------------------------------------------------------------- checks
def _is_floating(dtype: Any) -> bool:
    """NumPy dtypes by kind; framework dtypes (torch) by their ``is_floating_point`` attribute."""
    if isinstance(dtype, np.dtype):
        return bool(np.issubdtype(dtype, np.floating))
    flag = getattr(dtype, "is_floating_point", None)
    if isinstance(flag, bool):
        return flag
    try:
        return bool(np.issubdtype(np.dtype(dtype), np.floating))
    except TypeError:
        return False


def _shape_of(expected: TensorSpec | Iterable[int]) -> tuple[int, ...]:
    return tuple(expected.shape) if isinstance(expected, TensorSpec) else tuple(int(d) for d in expected)


def tensor_problems(
    tensors: Mapping[str, Any], expected: Mapping[str, TensorSpec | tuple[int, ...]], check_dtype: bool = True
) -> list[str]:
    """One line per missing, mis-shaped, non-floating (``check_dtype``) or unexpected tensor of ``tensors``.

    ``tensors`` maps names to anything with ``.shape`` (and ``.dtype``): NumPy arrays or framework tensors.
    ``expected`` maps names to :class:`TensorSpec` or shapes. Lines read ``missing NAME: expected shape S,
    found nothing``, ``wrong shape NAME: expected S, found T``, ``wrong dtype NAME: ...``, ``unexpected NAME:
    expected nothing, found shape T``.
    """
    problems: list[str] = []
    for name, spec in expected.items():
        shape = _shape_of(spec)
        if name not in tensors:
            problems.append(f"missing {name}: expected shape {shape}, found nothing")
            continue
        found = tuple(int(d) for d in tensors[name].shape)
        if found != shape:
            problems.append(f"wrong shape {name}: expected {shape}, found {found}")
        elif check_dtype and not _is_floating(tensors[name].dtype):
            problems.append(f"wrong dtype {name}: expected a floating-point tensor, found {tensors[name].dtype}")
    problems += [
        f"unexpected {name}: expected nothing, found shape {tuple(int(d) for d in t.shape)}"
        for name, t in tensors.items() if name not in expected
    ]
    return problems


def check_tensors(
    tensors: Mapping[str, Any],
    expected: Mapping[str, TensorSpec | tuple[int, ...]],
    source: str,
    preamble: str = "",
    check_dtype: bool = True,
) -> None:
    """Raise one ValueError listing every problem of :func:`tensor_problems` (nothing when all fit).

    The message reads ``SOURCE: [PREAMBLE]N tensor(s) do not fit the model:`` followed by one line a tensor.
    """
    problems = tensor_problems(tensors, expected, check_dtype)
    if problems:
        raise ValueError(f"{source}: {preamble}{len(problems)} tensor(s) do not fit the model:\n  " + "\n  ".join(problems))


def check_finite(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """ValueError naming ``source`` and the first tensor holding a NaN or an infinity (with how many it holds):
    weights that cannot produce a heat map are refused when read or written, never converted silently."""
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            n_nan = int(np.count_nonzero(np.isnan(a)))
            n_inf = int(np.count_nonzero(np.isinf(a)))
            raise ValueError(f"{source}: tensor {name} {tuple(a.shape)} holds {n_nan} NaN and {n_inf} infinite "
                             "value(s); weights must be finite")


def expected_shapes(
    model_cfg: ModelConfig,
    feature_channels: int | None = None,
    model_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, tuple[int, ...]]:
    """Canonical name -> shape a file of ``model_cfg`` holds, in file order.

    The name map's :func:`~enhancenet_core.namemap.parameter_specs` when it covers the config
    (``feature_channels`` given: the head alone). ``model_shapes`` (a framework model's own canonical names
    and shapes) are checked against the name map (ValueError listing each difference: a model not built
    from its config); for a base model the name map does not cover (CPN) they are the expectation, and only
    their ``enhance.`` part is checked against the head's specs (``feature_channels`` required then).
    """
    try:
        specs = parameter_specs(model_cfg, feature_channels)
    except ValueError:
        if model_shapes is None or feature_channels is not None:
            raise
        own_part = {k: v for k, v in model_shapes.items() if k.startswith(HEAD_PREFIX)}
        if model_cfg.head.enabled:
            fc = _feature_channels_of(model_shapes, model_cfg)
            want = {k: s.shape for k, s in parameter_specs(model_cfg, fc).items()}
        else:
            want = {}
        _check_model(own_part, want)
        return {k: tuple(v) for k, v in model_shapes.items()}
    want = {k: s.shape for k, s in specs.items()}
    if model_shapes is not None:
        _check_model(model_shapes, want)
    return want


def _feature_channels_of(model_shapes: Mapping[str, tuple[int, ...]], model_cfg: ModelConfig) -> int:
    """F^LR channels a model's head was built for, from its first head layer's input channels."""
    from enhancenet_core.conventions import HeadInput

    inputs = HeadInput(model_cfg.head.inputs)
    if inputs == HeadInput.HEATMAPS:
        return 1  # the head never sees F^LR: its specs do not depend on the channels
    first = next((v for k, v in model_shapes.items() if k.startswith(HEAD_PREFIX) and k.endswith(".weight")), None)
    if first is None or len(first) != 4:
        raise ValueError("the model has no EnhanceNet head tensors, but model.head.enabled is true")
    deconv_first = model_cfg.head.upsampler == Upsampler.DECONV and model_cfg.head.num_layers == 1
    c_in = int(first[0] if deconv_first else first[1])  # transposed conv: (C_in, C_out, kh, kw)
    return c_in - model_cfg.num_keypoints if inputs == HeadInput.BOTH else c_in


class _Shape:
    """A bare ``.shape`` holder, so shapes alone can go through :func:`tensor_problems`."""

    __slots__ = ("shape",)

    def __init__(self, shape: Iterable[int]) -> None:
        self.shape = tuple(shape)


def _check_model(own: Mapping[str, tuple[int, ...]], want: Mapping[str, tuple[int, ...]]) -> None:
    problems = tensor_problems({k: _Shape(v) for k, v in own.items()}, want, check_dtype=False)
    if problems:
        raise ValueError("the model does not match its config's canonical name map (build it with "
                         "build_model(model_cfg)):\n  " + "\n  ".join(problems))


# ------------------------------------------------------------------------------ ImageNet backbone weights
#: Canonical-name prefixes of the backbone tensors taken from ImageNet weights, by base model (as HRNet's
#: ``PRETRAINED_LAYERS``; a ResNet's ``fc`` and HRNet's classification-only layers are not among them).
BACKBONE_PREFIXES: dict[BaseModelName, tuple[str, ...]] = {
    BaseModelName.SIMPLE_BASELINE: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.CPN: ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."),
    BaseModelName.HRNET: (
        "conv1.", "bn1.", "conv2.", "bn2.", "layer1.", "transition1.", "stage2.", "transition2.", "stage3.",
        "transition3.", "stage4.",
    ),
}


#: The rest of the base model, loaded too when ``model.base.pretrained_scope`` is ``base``.
BASE_MODEL_PREFIXES: dict[BaseModelName, tuple[str, ...]] = {
    BaseModelName.SIMPLE_BASELINE: ("deconv_layers.", "final_layer."),
    BaseModelName.HRNET: ("final_layer.",),
}


def backbone_prefixes(model_cfg: ModelConfig) -> tuple[str, ...]:
    """Canonical-name prefixes that ``model.base.pretrained`` initialises: :data:`BACKBONE_PREFIXES` of the
    config's base model, plus :data:`BASE_MODEL_PREFIXES` when ``model.base.pretrained_scope`` is ``base``.

    Raises:
        ValueError: naming ``model.base.pretrained`` with the backbone scope for a base model without an ImageNet
            backbone (hourglasses, DLCM), or ``model.base.pretrained_scope`` for a scope it does not support.

    CPN's backbone prefixes name its trunk's tensors (:func:`pretrained_on_trunk`); its ``base`` scope, all (``""``),
    as the hourglasses' and DLCM's (only a whole pretrained network of the same kind).
    """
    name, scope = BaseModelName(model_cfg.base.name), PretrainedScope(model_cfg.base.pretrained_scope)
    whole_only = (BaseModelName.HOURGLASS, BaseModelName.DLCM, BaseModelName.AE_HOURGLASS)  # no ImageNet backbone
    if name in whole_only and scope is PretrainedScope.BASE:
        return ("",)
    if name not in BACKBONE_PREFIXES:
        raise ValueError(f"model.base.pretrained: ImageNet weights are supported for ResNet and HRNet backbones, "
                         f"not for {name.value!r}")
    if scope is PretrainedScope.BACKBONE:
        return BACKBONE_PREFIXES[name]
    if name is BaseModelName.CPN:  # the whole CPN: every name (trunk under ``resnet.``, GlobalNet, RefineNet)
        return ("",)
    if name not in BASE_MODEL_PREFIXES:
        raise ValueError(f"model.base.pretrained_scope: 'base' (the whole base model) is supported for "
                         f"{', '.join(repr(n.value) for n in BASE_MODEL_PREFIXES)}, not for {name.value!r}")
    return BACKBONE_PREFIXES[name] + BASE_MODEL_PREFIXES[name]


def pretrained_on_trunk(model_cfg: ModelConfig) -> bool:
    """Whether ``model.base.pretrained`` initialises CPN's ResNet trunk (``base.resnet``: ImageNet weights) rather
    than the base model itself (every other case, CPN with ``pretrained_scope: base`` included)."""
    return (BaseModelName(model_cfg.base.name) is BaseModelName.CPN
            and PretrainedScope(model_cfg.base.pretrained_scope) is PretrainedScope.BACKBONE)


# ------------------------------------------------------------------------------------- shuffle order
def _uses_shuffle(model_cfg: ModelConfig) -> bool:
    return bool(model_cfg.head.enabled and model_cfg.head.upsampler == Upsampler.SUBPIXEL)


def convert_shuffle_order(
    arrays: Mapping[str, np.ndarray],
    model_cfg: ModelConfig,
    stored: ShuffleOrder | str,
    target: ShuffleOrder | str,
    source: str = "weights",
) -> dict[str, np.ndarray]:
    """Permute ``enhance.upsample`` (weight and bias, output channels first) from ``stored`` to ``target`` order.

    A no-op without a sub-pixel head, when the orders agree, or when a tensor is missing or of another size
    (the shape check reports it). Raises ValueError naming ``source`` for an unknown order.
    """
    out = dict(arrays)
    if not _uses_shuffle(model_cfg):
        return out
    try:
        src, dst = ShuffleOrder(stored), ShuffleOrder(target)
    except ValueError as exc:
        raise ValueError(f"{source}: shuffle_order {stored!r} / {target!r} is not one of "
                         f"{[o.value for o in ShuffleOrder]}") from exc
    if src is dst:
        return out
    head, k = model_cfg.head, model_cfg.num_keypoints
    c = subpixel_channels(k, head.upscale)
    w, b = out.get(f"{HEAD_PREFIX}upsample.weight"), out.get(f"{HEAD_PREFIX}upsample.bias")
    if w is None or np.ndim(w) < 1 or np.shape(w)[0] != c:
        return out
    use_b = b is not None and np.shape(b) == (c,)
    new_w, new_b = convert_subpixel_weights(w, b if use_b else None, k, head.upscale, src, dst)
    out[f"{HEAD_PREFIX}upsample.weight"] = new_w
    if use_b:
        out[f"{HEAD_PREFIX}upsample.bias"] = new_b
    return out


def reorder_subpixel(
    arrays: Mapping[str, np.ndarray], model_cfg: ModelConfig, target: ShuffleOrder | str
) -> tuple[dict[str, np.ndarray], ModelConfig]:
    """Permute ``enhance.upsample`` from ``model_cfg.head.shuffle_order`` to ``target``.

    Returns new arrays and the config with ``shuffle_order = target``; the model computes the same M^HR.
    """
    if not _uses_shuffle(model_cfg):
        raise ValueError("reorder_subpixel: the model has no sub-pixel EnhanceNet head")
    for name in (f"{HEAD_PREFIX}upsample.weight", f"{HEAD_PREFIX}upsample.bias"):
        if name not in arrays:
            raise ValueError(f"reorder_subpixel: tensor {name} is missing")
    target = ShuffleOrder(target)
    out = convert_shuffle_order(arrays, model_cfg, model_cfg.head.shuffle_order, target, "reorder_subpixel")
    head = dataclasses.replace(model_cfg.head, shuffle_order=target)
    return out, dataclasses.replace(model_cfg, head=head)


# ------------------------------------------------------------------------------------------ save/load
def save_canonical_arrays(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    model_cfg: ModelConfig,
    extra_metadata: Mapping[str, Any] | None = None,
    *,
    feature_channels: int | None = None,
    shuffle_order: ShuffleOrder | str | None = None,
    model_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Check ``arrays`` against the name map and write them as a canonical file, atomically.

    Args:
        path: the ``.safetensors`` file; its directory must exist. On any error it is left as it was.
        arrays: canonical name -> array (any dict order; written in the name map's order).
        model_cfg: the model's configuration, recorded in the header.
        extra_metadata: the caller's header entries (not :data:`RESERVED_KEYS`).
        feature_channels: a head-alone file (see :func:`expected_shapes`).
        shuffle_order: the order ``enhance.upsample`` is in (default ``model_cfg.head.shuffle_order``).
        model_shapes: a framework model's own shapes, for a base model the name map does not cover.

    Raises:
        ValueError: a missing, unexpected, mis-shaped or non-floating tensor (all listed), a reserved key, a
            tensor holding NaN or inf (:func:`check_finite`).
    """
    header = canonical_header(model_cfg, extra_metadata, shuffle_order=shuffle_order,
                              feature_channels=feature_channels)
    want = expected_shapes(model_cfg, feature_channels, model_shapes)
    arrs = {k: np.asarray(v) for k, v in arrays.items()}
    check_tensors(arrs, want, f"save_canonical_arrays({os.fspath(path)})")
    check_finite(arrs, f"save_canonical_arrays({os.fspath(path)})")
    return save_safetensors(path, {name: arrs[name] for name in want}, header)


def load_canonical_arrays(
    path: str | os.PathLike[str],
    model_cfg: ModelConfig | None,
    target_order: ShuffleOrder | str | None = None,
    *,
    feature_channels: int | None = None,
    model_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, np.ndarray]:
    """Read a canonical file for ``model_cfg``: every check first, then the arrays in the name map's order.

    Args:
        path: the ``.safetensors`` file.
        model_cfg: the model to load into; ``None``: the file's own ``model_config``.
        target_order: the shuffle order the caller wants ``enhance.upsample`` in (default
            ``model_cfg.head.shuffle_order``); a file stored in the other order is converted.
        feature_channels: a head-alone file.
        model_shapes: a framework model's own shapes (see :func:`expected_shapes`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a canonical file of a supported version, an unknown shuffle order, a file written for
            another base model (said first), or any missing, unexpected, mis-shaped or non-floating tensor
            (all of them in one message with expected and found shapes).
    """
    source = os.fspath(path)
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{source}: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT_NAME!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{source}: format_version {metadata.get('format_version')!r} is not supported "
                         f"(expected {FORMAT_VERSION!r})")
    if model_cfg is None:
        model_cfg = file_model_config(metadata, source)
    want = expected_shapes(model_cfg, feature_channels, model_shapes)
    target = ShuffleOrder(target_order if target_order is not None else model_cfg.head.shuffle_order)
    stored = metadata.get("shuffle_order")
    if _uses_shuffle(model_cfg) and stored is not None:
        if stored not in {o.value for o in ShuffleOrder}:
            raise ValueError(f"{source}: metadata shuffle_order {stored!r} is not one of "
                             f"{[o.value for o in ShuffleOrder]}")
        tensors = convert_shuffle_order(tensors, model_cfg, stored, target, source)
    preamble = base_mismatch(metadata, model_cfg)
    problems = tensor_problems(tensors, want)
    if preamble and not problems:
        raise ValueError(f"{source}: {preamble.rstrip('; ')}")
    check_tensors(tensors, want, source, preamble)
    check_finite({name: tensors[name] for name in want}, source)
    return {name: tensors[name] for name in want}


def model_config_from_json(text: str, source: str = "model_config") -> ModelConfig:
    """Parse a model configuration JSON (the ``model`` section of a config); ValueError naming ``source``."""
    try:
        data = json.loads(text)
        # the model section alone: no dataset cross-checks (a weight file may hold any K)
        model = _dataclass_from_dict(ModelConfig, data, "model")
        _check_rules(model, "model")  # value ranges (channels >= 1, upscale >= 1, ...), as a config file's
        return model
    except (ValueError, ConfigError) as exc:
        raise ValueError(f"{source}: not a valid model configuration ({exc})") from exc
    except RecursionError:
        raise ValueError(f"{source}: not a valid model configuration (JSON nested too deeply)") from None


def file_model_config(metadata: Mapping[str, str], source: str = "weights") -> ModelConfig:
    """The :class:`ModelConfig` a canonical header records (``model_config``); ValueError naming ``source``."""
    if "model_config" not in metadata:
        raise ValueError(f"{source}: the metadata records no 'model_config'; give the model configuration")
    return model_config_from_json(metadata["model_config"], f"{source} model_config")


def base_mismatch(metadata: Mapping[str, str], model_cfg: ModelConfig) -> str:
    """``"the file holds a 'X' model, the config builds 'Y'; "`` when the header names another base model."""
    try:
        stored_base = json.loads(metadata["model_config"])["base"]["name"]
    except (KeyError, ValueError, TypeError):
        return ""
    want_base = BaseModelName(model_cfg.base.name).value
    if stored_base != want_base:
        return f"the file holds a {stored_base!r} model, the config builds {want_base!r}; "
    return ""
