"""Training checkpoints for Paddle: what :func:`enhancenet_paddle.train.train` writes and what exact resume needs.

A checkpoint (``checkpoint_last.safetensors``: every tensor in a safetensors file, the structure and the scalars
as JSON in its header, :mod:`enhancenet_runtime.engine.safe_checkpoint`; no pickle) holds::

    format        "enhancenet-paddle-checkpoint"
    version       1
    architecture  str, :func:`describe_architecture` of the model config (checked on load)
    config        the experiment config as a plain dict (enums as their string values)
    model         state_dict of the bare model (never the DataParallel wrapper), Paddle names
    optimizer     the optimizer state with accumulators keyed by *structured* parameter names
                  (``base.conv1.weight_moment1_0``), not by Paddle's process-global unique names
                  (``conv2d_0.w_0_moment1_0``), so a model built in another order or process can take it back
    scheduler, scaler   their state dicts (scaler: None when AMP is off)
    epoch         the epoch in progress (0-based); ``batch_in_epoch`` batches of it are done
    step          global optimizer steps done
    world_size, rng   per-rank RNG states (python, NumPy, Paddle), a list indexed by rank; Paddle's generator
                  states as their plain ``(device, seed, offset, engine bytes)`` (:func:`capture_rng_state`)
    best_metric, best_epoch, metric_name, history   best-model tracking

The bytes are produced in memory and written with :func:`enhancenet_runtime.engine.io.atomic_write_bytes`
(temporary file in the target directory, fsync, ``os.replace``): a kill at any moment leaves the old or the new
checkpoint, never a truncated one (the temporary file a kill leaves is removed when training starts again).

Nothing is ever unpickled: ``.pdparams`` / ``.pdckpt`` (:func:`paddle.load` is pickle) and any file with a pickle
signature are refused with one line naming the safe format and ``enhancenet-convert SRC DST.safetensors
--trust-pickle``, the explicit opt-in for a file the user trusts. ``.pdckpt`` checkpoints of earlier versions
cannot be resumed; their weights convert the same way.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import ModelConfig
from enhancenet_core.safetensors_io import PickleRefusedError, check_not_pickle
from enhancenet_runtime.engine.checkpointing import CheckpointError, check_architecture, describe_architecture
from enhancenet_runtime.engine.safe_checkpoint import (
    is_checkpoint_file,
    read_checkpoint_file,
    save_checkpoint_file,
)

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "LAST_NAME",
    "CheckpointError",
    "PickleRefusedError",
    "atomic_save",
    "capture_rng_state",
    "describe_architecture",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_weights",
    "optimizer_state_by_structure",
    "restore_optimizer_state",
    "restore_rng_state",
]

CHECKPOINT_FORMAT = "enhancenet-paddle-checkpoint"
CHECKPOINT_VERSION = 1
LAST_NAME = "checkpoint_last.safetensors"
BEST_NAME = "model_best.safetensors"
#: the pickle checkpoints of earlier versions, refused (not resumed from, not silently ignored)
LEGACY_NAMES = ("checkpoint_last.pdckpt", "model_best.pdckpt")
TENSOR_KIND = "paddle"


def _to_numpy(value: Any) -> tuple[np.ndarray, str] | None:
    if isinstance(value, paddle.Tensor):
        return np.asarray(value.numpy()), TENSOR_KIND
    return None


def _from_numpy(array: np.ndarray, kind: str) -> paddle.Tensor:
    if kind != TENSOR_KIND:
        raise ValueError(f"tensor kind {kind!r} is not a Paddle tensor")
    return paddle.to_tensor(array)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write the checkpoint dict ``obj`` to ``path`` atomically as safetensors + JSON (no pickle)."""
    return save_checkpoint_file(path, obj, _to_numpy)


def _generator_states(states: Any) -> list[tuple[int, int, int, np.ndarray]]:
    """Paddle's ``GeneratorState`` objects as plain ``(device, seed, offset, engine state bytes)``."""
    out = []
    for g in states:
        device, seed, offset, engine = g.__getstate__()
        out.append((int(device), int(seed), int(offset), np.asarray(engine, dtype=np.int64)))
    return out


def _generators(plain: Any) -> list[Any]:
    """Inverse of :func:`_generator_states`."""
    out = []
    for device, seed, offset, engine in plain:
        g = paddle.base.core.GeneratorState.__new__(paddle.base.core.GeneratorState)
        g.__setstate__((int(device), int(seed), int(offset), [int(b) for b in np.asarray(engine).tolist()]))
        out.append(g)
    return out


def capture_rng_state() -> dict[str, Any]:
    """The RNG states of python, NumPy's global generator and Paddle (CPU, and CUDA when compiled with it), as
    plain data a checkpoint stores without pickle."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the global state other libraries may draw from
        "paddle": _generator_states(paddle.get_rng_state()),
    }
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        state["cuda"] = _generator_states(paddle.get_cuda_rng_state())
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002 - restores the global state saved above
    paddle.set_rng_state(_generators(state["paddle"]))
    if "cuda" in state and paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        paddle.set_cuda_rng_state(_generators(state["cuda"]))


def _param_names(model: nn.Layer) -> dict[str, str]:
    """Paddle unique parameter name (``conv2d_0.w_0``) -> structured name (``base.conv1.weight``)."""
    return {p.name: n for n, p in model.named_parameters()}


def _rename_keys(state: Mapping[str, Any], mapping: Mapping[str, str], what: str) -> dict[str, Any]:
    """Replace the parameter-name prefix of every accumulator key (``<param>_<accumulator>``) via ``mapping``."""
    by_length = sorted(mapping, key=len, reverse=True)
    out: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, Mapping):  # LR_Scheduler, master_weights
            out[key] = dict(value) if key == "LR_Scheduler" else _rename_master(value, mapping)
            continue
        prefix = next((p for p in by_length if key.startswith(p + "_")), None)
        if prefix is None:
            raise CheckpointError(f"optimizer state {key!r}: belongs to no parameter of the {what} model")
        out[mapping[prefix] + key[len(prefix):]] = value
    return out


def _rename_master(value: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    return {mapping.get(k, k): v for k, v in value.items()}


def optimizer_state_by_structure(optimizer: paddle.optimizer.Optimizer, model: nn.Layer) -> dict[str, Any]:
    """``optimizer.state_dict()`` with accumulators keyed by the structured parameter names of ``model``."""
    return _rename_keys(optimizer.state_dict(), _param_names(model), "saved")


def restore_optimizer_state(optimizer: paddle.optimizer.Optimizer, model: nn.Layer, state: Mapping[str, Any]) -> None:
    """Inverse of :func:`optimizer_state_by_structure` for the parameters of ``model`` (built anew)."""
    structured_to_unique = {n: p.name for n, p in model.named_parameters()}
    optimizer.set_state_dict(_rename_keys(state, structured_to_unique, "resumed"))


def latest_checkpoint(out_dir: str | os.PathLike[str]) -> Path | None:
    """``out_dir / checkpoint_last.safetensors`` if it exists, else ``None``.

    Raises:
        PickleRefusedError: only a pickle checkpoint of an earlier version is there (resuming would start over).
    """
    path = Path(out_dir) / LAST_NAME
    if path.is_file():
        return path
    legacy = Path(out_dir) / LEGACY_NAMES[0]
    if legacy.is_file():
        check_not_pickle(legacy)
    return None


def load_checkpoint(path: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`enhancenet_paddle.train.train`.

    Args:
        path: the ``.safetensors`` checkpoint.
        model_cfg: when given, the checkpoint's architecture must equal :func:`describe_architecture` of it.

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file (``.pdckpt``, ...), refused without being unpickled.
        CheckpointError: not an enhancenet-paddle checkpoint, or one of another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    ckpt = read_checkpoint_file(path, _from_numpy)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: not an enhancenet-paddle training checkpoint (expected a dict with "
            f"format={CHECKPOINT_FORMAT!r}); canonical .safetensors weights are read by load_model_weights"
        )
    if model_cfg is not None:
        check_architecture(ckpt.get("architecture"), describe_architecture(model_cfg), path)
    return ckpt


def _check_state(model: nn.Layer, state: Mapping[str, Any], path: Path, model_cfg: ModelConfig) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad = sorted(k for k in set(own) & set(state) if list(own[k].shape) != list(np.shape(state[k])))
    if missing or unexpected or bad:
        raise CheckpointError(
            f"checkpoint {path}: tensors do not fit {describe_architecture(model_cfg)!r} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {bad[:3]})"
        )


def load_model_weights(model: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig) -> dict[str, Any]:
    """Load model weights from a training checkpoint or canonical weights (both ``.safetensors``; told apart by
    the header). A pickle file (``.pdparams``, ``.pdckpt``, ...) is refused (:class:`PickleRefusedError`)
    without being unpickled: convert a trusted one with ``enhancenet-convert ... --trust-pickle``.

    The architecture is checked before any tensor is copied: another model raises :class:`CheckpointError`
    naming both architectures (training checkpoints) or the first mismatching tensors.

    Returns:
        The checkpoint dict (for weight files: ``{"architecture": ..., "epoch": None}``).
    """
    from enhancenet_paddle import weights

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    plain = {"architecture": describe_architecture(model_cfg), "epoch": None}
    check_not_pickle(path)
    if not is_checkpoint_file(path):
        try:
            weights.load_canonical(model, path, model_cfg)
        except PickleRefusedError:
            raise
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"weights {path} do not fit the model {plain['architecture']!r}: {exc}") from exc
        return plain
    ckpt = load_checkpoint(path, model_cfg)
    _check_state(model, ckpt["model"], path, model_cfg)
    model.set_state_dict(ckpt["model"])
    return ckpt
