"""Canonical weights: safetensors files named and shaped by :mod:`enhancenet_core.namemap`.

File layout (format version :data:`FORMAT_VERSION`):

- tensors: every name of ``parameter_specs(model_cfg, feature_channels)``, in that order, no others;
  conv weights OIHW, transposed-conv weights ``(C_in, C_out/groups, kh, kw)``, BN ``weight``, ``bias``,
  ``running_mean``, ``running_var`` (epsilon 1e-5); all float32 or float64, little-endian.
- ``__metadata__`` (string -> string): ``format`` = ``enhancenet-canonical``, ``format_version``,
  ``model_config`` (the :class:`~enhancenet_core.config.ModelConfig` as JSON), ``shuffle_order`` (the PS
  channel order ``enhance.upsample`` is stored in; see :class:`~enhancenet_core.conventions.ShuffleOrder`),
  ``bn_eps``, ``feature_channels`` (only for a head-alone file), plus the caller's metadata.

Writing is deterministic (same tensors and metadata -> same bytes) and atomic (temporary file in the
target directory, then ``os.replace``). Reading checks every tensor before returning anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import tempfile
import zlib
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import ShuffleOrder, Upsampler
from enhancenet_core.namemap import BN_EPS, TensorKind, TensorSpec, parameter_specs
from enhancenet_core.pixel_shuffle import convert_subpixel_weights

FORMAT_NAME = "enhancenet-canonical"
FORMAT_VERSION = "1"

_DTYPES: dict[str, str] = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint8": "U8",
    "bool": "BOOL",
}


# ------------------------------------------------------------------------------ safetensors, byte-exact
def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """Serialize to the safetensors format deterministically: tensors in the given order, metadata keys
    sorted, header padded with spaces to a multiple of 8 bytes (the library's own writer orders its
    metadata by hash, so its bytes change from run to run)."""
    header: dict[str, Any] = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ValueError(f"safetensors metadata must map str to str; offending keys: {bad}")
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    chunks: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        a = np.asarray(array)
        if a.dtype.name not in _DTYPES:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} cannot be stored (supported: {sorted(_DTYPES)})")
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``:
    a reader sees the old file or the new one, never a partial one."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_safetensors(path: str | os.PathLike[str], tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Deterministic, atomic safetensors write (see :func:`safetensors_bytes`)."""
    atomic_write_bytes(path, safetensors_bytes(tensors, metadata))


def read_safetensors(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order, metadata) of a safetensors file, read with the ``safetensors`` library."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"safetensors file {path} not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:  # the library raises its own error types for a corrupt file
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    return tensors, metadata


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


# --------------------------------------------------------------------------------------------- checks
def _uses_shuffle(model_cfg: ModelConfig) -> bool:
    return model_cfg.head.enabled and model_cfg.head.upsampler == Upsampler.SUBPIXEL


def check_tensors(
    tensors: dict[str, np.ndarray], specs: dict[str, TensorSpec], source: str
) -> None:
    """Raise one ValueError listing every missing, unexpected, mis-shaped or non-float tensor."""
    problems: list[str] = []
    for name, spec in specs.items():
        if name not in tensors:
            problems.append(f"missing {name}: expected shape {spec.shape}, found nothing")
        elif tuple(tensors[name].shape) != spec.shape:
            problems.append(f"wrong shape {name}: expected {spec.shape}, found {tuple(tensors[name].shape)}")
        elif tensors[name].dtype not in (np.float32, np.float64):
            problems.append(f"wrong dtype {name}: expected float32 or float64, found {tensors[name].dtype}")
    for name, t in tensors.items():
        if name not in specs:
            problems.append(f"unexpected {name}: expected nothing, found shape {tuple(np.shape(t))}")
    if problems:
        raise ValueError(f"{source}: {len(problems)} tensor(s) do not match the canonical name map:\n  " + "\n  ".join(problems))


# ------------------------------------------------------------------------------------------ save/load
def save_weights(
    path: str | os.PathLike[str],
    params: dict[str, np.ndarray],
    model_cfg: ModelConfig,
    metadata: dict[str, str] | None = None,
    feature_channels: int | None = None,
) -> None:
    """Write ``params`` as a canonical safetensors file, atomically, after checking them against
    ``parameter_specs(model_cfg, feature_channels)`` (``feature_channels`` given: a head-alone file).

    ``metadata``: extra string entries for the header; they may not override the reserved keys.
    """
    specs = parameter_specs(model_cfg, feature_channels)
    check_tensors(params, specs, f"save_weights({os.fspath(path)})")
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model_config_json(model_cfg),
        "shuffle_order": model_cfg.head.shuffle_order.value,
        "bn_eps": repr(BN_EPS),
        "layouts": "conv OIHW; transposed conv (C_in, C_out/groups, kh, kw); bn weight,bias,running_mean,running_var",
    }
    if feature_channels is not None:
        header["feature_channels"] = str(int(feature_channels))
    for key, value in (metadata or {}).items():
        if key in header:
            raise ValueError(f"metadata key {key!r} is reserved by the canonical format")
        header[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    save_safetensors(path, {name: np.asarray(params[name]) for name in specs}, header)


def load_weights(
    path: str | os.PathLike[str], model_cfg: ModelConfig, feature_channels: int | None = None
) -> dict[str, np.ndarray]:
    """Read a canonical safetensors file and check it against ``parameter_specs(model_cfg, feature_channels)``.

    Raises FileNotFoundError when the file is missing; ValueError when it is not a canonical file of a
    supported version, when its ``shuffle_order`` differs from ``model_cfg.head.shuffle_order`` (for a
    sub-pixel head), or when any tensor is missing, unexpected or mis-shaped (all of them listed in one
    message). Returns name -> array in the name map's order; nothing is returned on any failure.
    """
    tensors, metadata = read_safetensors(path)
    where = os.fspath(path)
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{where}: metadata 'format' is {metadata.get('format')!r}, expected {FORMAT_NAME!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{where}: format_version {metadata.get('format_version')!r} is not supported (expected {FORMAT_VERSION!r})"
        )
    if _uses_shuffle(model_cfg):
        stored = metadata.get("shuffle_order")
        if stored != model_cfg.head.shuffle_order.value:
            raise ValueError(
                f"{where}: enhance.upsample is stored in shuffle_order {stored!r} but the config expects "
                f"{model_cfg.head.shuffle_order.value!r}; convert it with enhancenet_numpy.weights.reorder_subpixel"
            )
    specs = parameter_specs(model_cfg, feature_channels)
    check_tensors(tensors, specs, where)
    return {name: tensors[name] for name in specs}


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` header of a safetensors file."""
    return read_safetensors(path)[1]


# ------------------------------------------------------------------------------------- initialisation
def uniform_tensor(seed: int, name: str, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """U[low, high) float64 of ``shape`` from the tensor's own PCG64 stream (seeded by (seed, crc32(name))).

    Built from the raw 64-bit outputs with exact IEEE arithmetic only (53-bit mantissa, one multiply-add),
    so the values are bit-identical on every machine and NumPy version.
    """
    ss = np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8"))])
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.random.PCG64(ss).random_raw(n).astype(np.uint64)
    u = (raw >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)  # 2**-53
    return (low + (high - low) * u).reshape(shape)


_BN_INIT = {
    TensorKind.BN_WEIGHT: (0.5, 1.5),
    TensorKind.BN_BIAS: (-0.2, 0.2),
    TensorKind.BN_RUNNING_MEAN: (-0.2, 0.2),
    TensorKind.BN_RUNNING_VAR: (0.5, 1.5),
    TensorKind.CONV_BIAS: (-0.1, 0.1),
}


def init_weights(
    model_cfg: ModelConfig, seed: int, dtype: type[np.floating] | np.dtype = np.float64, feature_channels: int | None = None
) -> dict[str, np.ndarray]:
    """Deterministic random canonical weights (no trained weights needed for golden runs).

    Conv and transposed-conv weights: He-uniform, U(±sqrt(6 / fan_in)) with fan_in = size of one
    filter (``C_in/groups·kh·kw``; ``shape[0]·kh·kw`` for a transposed conv). BN gamma U(0.5, 1.5), beta
    and running mean U(±0.2), running var U(0.5, 1.5), so every BN changes its input; biases U(±0.1).
    Each tensor depends only on (seed, name, shape): adding a head does not change the base's weights.
    Values are drawn in float64 and then cast to ``dtype``.
    """
    out: dict[str, np.ndarray] = {}
    for name, spec in parameter_specs(model_cfg, feature_channels).items():
        if spec.kind in (TensorKind.CONV_WEIGHT, TensorKind.DECONV_WEIGHT):
            kh, kw = spec.shape[2], spec.shape[3]
            fan_in = (spec.shape[1] if spec.kind == TensorKind.CONV_WEIGHT else spec.shape[0]) * kh * kw
            bound = float(np.sqrt(6.0 / fan_in))
            low, high = -bound, bound
        else:
            low, high = _BN_INIT[spec.kind]
        out[name] = uniform_tensor(seed, name, spec.shape, low, high).astype(dtype)
    return out


# ------------------------------------------------------------------------------------- shuffle order
def reorder_subpixel(
    params: dict[str, np.ndarray], model_cfg: ModelConfig, target: ShuffleOrder
) -> tuple[dict[str, np.ndarray], ModelConfig]:
    """Permute ``enhance.upsample`` from ``model_cfg.head.shuffle_order`` to ``target``.

    Returns new params and the config with ``shuffle_order = target``; the model computes the same M^HR.
    """
    if not _uses_shuffle(model_cfg):
        raise ValueError("reorder_subpixel: the model has no sub-pixel EnhanceNet head")
    head = model_cfg.head
    for name in ("enhance.upsample.weight", "enhance.upsample.bias"):
        if name not in params:
            raise ValueError(f"reorder_subpixel: tensor {name} is missing")
    out = dict(params)
    out["enhance.upsample.weight"], out["enhance.upsample.bias"] = convert_subpixel_weights(
        params["enhance.upsample.weight"],
        params["enhance.upsample.bias"],
        model_cfg.num_keypoints,
        head.upscale,
        head.shuffle_order,
        ShuffleOrder(target),
    )
    new_cfg = dataclasses.replace(model_cfg, head=dataclasses.replace(head, shuffle_order=ShuffleOrder(target)))
    return out, new_cfg
