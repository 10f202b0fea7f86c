"""Canonical weights for the NumPy reference: the file format of :mod:`enhancenet_core.canonical`, and
deterministic random weights for golden runs.

NumPy arrays are the canonical arrays, so reading and writing are enhancenet-core's
(:func:`~enhancenet_core.canonical.save_canonical_arrays`, :func:`~enhancenet_core.canonical.load_canonical_arrays`,
the deterministic safetensors writer and the NumPy reader); this module keeps the names the golden script,
the conformance suite and the framework tests import, and adds :func:`init_weights`.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

from enhancenet_core.canonical import (
    FORMAT_NAME,
    FORMAT_VERSION,
    check_tensors,
    load_canonical_arrays,
    model_config_json,
    read_canonical_metadata,
    read_safetensors,
    reorder_subpixel,
    safetensors_bytes,
    save_canonical_arrays,
    save_safetensors,
)
from enhancenet_core.config import ModelConfig
from enhancenet_core.files import atomic_write_bytes
from enhancenet_core.namemap import TensorKind, TensorSpec, parameter_specs

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "atomic_write_bytes",
    "check_tensors",
    "init_from_specs",
    "init_weights",
    "load_weights",
    "model_config_json",
    "read_metadata",
    "read_safetensors",
    "reorder_subpixel",
    "safetensors_bytes",
    "save_safetensors",
    "save_weights",
    "uniform_tensor",
]


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

    ``metadata``: extra entries for the header (non-strings stored as JSON); they may not use the reserved keys.
    """
    save_canonical_arrays(path, params, model_cfg, metadata, feature_channels=feature_channels)


def load_weights(
    path: str | os.PathLike[str], model_cfg: ModelConfig, feature_channels: int | None = None
) -> dict[str, np.ndarray]:
    """Read a canonical safetensors file for ``model_cfg`` (``feature_channels`` given: a head-alone file).

    A sub-pixel head stored in the other shuffle order is converted into ``model_cfg.head.shuffle_order``.
    Raises FileNotFoundError when the file is missing; ValueError when it is not a canonical file of a
    supported version or any tensor is missing, unexpected or mis-shaped (all of them listed in one
    message). Returns name -> array in the name map's order; nothing is returned on any failure.
    """
    return load_canonical_arrays(path, model_cfg, feature_channels=feature_channels)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` header of a safetensors file."""
    return read_canonical_metadata(path)


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
    return init_from_specs(parameter_specs(model_cfg, feature_channels), seed, dtype)


def init_from_specs(
    specs: dict[str, TensorSpec], seed: int, dtype: type[np.floating] | np.dtype = np.float64
) -> dict[str, np.ndarray]:
    """:func:`init_weights` for any name -> :class:`TensorSpec` map (e.g. a model outside ``ModelConfig``)."""
    out: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        if spec.kind in (TensorKind.CONV_WEIGHT, TensorKind.DECONV_WEIGHT):
            kh, kw = spec.shape[2], spec.shape[3]
            fan_in = (spec.shape[1] if spec.kind == TensorKind.CONV_WEIGHT else spec.shape[0]) * kh * kw
            bound = float(np.sqrt(6.0 / fan_in))
            low, high = -bound, bound
        else:
            low, high = _BN_INIT[spec.kind]
        out[name] = uniform_tensor(seed, name, spec.shape, low, high).astype(dtype)
    return out
