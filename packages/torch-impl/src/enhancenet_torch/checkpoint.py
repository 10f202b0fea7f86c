"""Training checkpoints: written atomically, loaded with clear errors, holding everything an exact resume needs.

A checkpoint (``.safetensors``, :func:`enhancenet_runtime.engine.safe_checkpoint.save_checkpoint_file`: every
tensor in a safetensors file, the structure and the scalars as JSON in its header; no pickle) holds::

    format        "enhancenet-torch-checkpoint"
    version       1
    architecture  str, :func:`describe_architecture` of the model config (checked on load)
    config        the experiment config as a plain dict (enums as their string values)
    model         state_dict of the bare model (never the DDP wrapper)
    optimizer, scheduler, scaler   their state_dicts (scaler: None when AMP is off)
    epoch         the epoch in progress (0-based); ``batch_in_epoch`` batches of it are done
    step          global optimizer steps done
    rng           per-rank RNG states (python, numpy, torch, cuda), list indexed by rank
    best_metric, best_epoch, metric_name   best-model tracking

Writes go through :func:`enhancenet_runtime.engine.io.atomic_write_bytes` (a temporary file in the same directory,
flushed to disk, then ``os.replace``-d over the target), so a kill at any moment leaves either the old or the
new checkpoint, never a truncated one (the temporary file a kill leaves is removed when training starts again).

Nothing is ever unpickled: a ``.pt`` / ``.pth`` file (or any file with a pickle or zip signature) is refused with
one line naming the safe format and ``enhancenet-convert SRC DST.safetensors --trust-pickle``, the explicit
opt-in for a file the user trusts. Checkpoints of earlier versions (``checkpoint_last.pt``) cannot be resumed;
their weights convert the same way.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enhancenet_core.canonical import tensor_problems
from enhancenet_core.config import ModelConfig
from enhancenet_core.safetensors_io import PickleRefusedError, check_not_pickle
from enhancenet_runtime.engine.checkpointing import CheckpointError, check_architecture, describe_architecture
from enhancenet_runtime.engine.safe_checkpoint import (
    is_checkpoint_file,
    read_checkpoint_file,
    save_checkpoint_file,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "PickleRefusedError",
    "atomic_save",
    "capture_rng_state",
    "describe_architecture",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_weights",
    "restore_rng_state",
]

CHECKPOINT_FORMAT = "enhancenet-torch-checkpoint"
CHECKPOINT_VERSION = 1
LAST_NAME = "checkpoint_last.safetensors"
BEST_NAME = "model_best.safetensors"
#: the pickle checkpoints of earlier versions, refused (not resumed from, not silently ignored)
LEGACY_NAMES = ("checkpoint_last.pt", "model_best.pt")
TENSOR_KIND = "torch"


def _to_numpy(value: Any) -> tuple[np.ndarray, str] | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy(), TENSOR_KIND
    return None


def _from_numpy(array: np.ndarray, kind: str) -> torch.Tensor:
    if kind != TENSOR_KIND:
        raise ValueError(f"tensor kind {kind!r} is not a torch tensor")
    return torch.from_numpy(array)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write the checkpoint dict ``obj`` to ``path`` atomically as safetensors + JSON (no pickle)."""
    return save_checkpoint_file(path, obj, _to_numpy)


def capture_rng_state() -> dict[str, Any]:
    """The RNG states of python, NumPy, torch (CPU) and CUDA (when available) of this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the global state other libraries may draw from
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002 - restores the global state saved above
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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


def load_checkpoint(
    path: str | os.PathLike[str], model_cfg: ModelConfig | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`enhancenet_torch.train.train`.

    Args:
        path: the ``.safetensors`` checkpoint.
        model_cfg: when given, the checkpoint's architecture must equal :func:`describe_architecture` of it.
        map_location: kept for callers; tensors are read to the CPU (``load_state_dict`` of the model and the
            optimizer copies them to their parameters' device; RNG states must be CPU tensors).

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file (``.pt``, ...), refused without being unpickled.
        CheckpointError: not an enhancenet-torch checkpoint, or one of another architecture.
    """
    del map_location
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    ckpt = read_checkpoint_file(path, _from_numpy)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: not an enhancenet-torch checkpoint (expected a dict with "
            f"format={CHECKPOINT_FORMAT!r}); canonical .safetensors weights are read by load_model_weights"
        )
    if model_cfg is not None:
        check_architecture(ckpt.get("architecture"), describe_architecture(model_cfg), path)
    return ckpt


def load_model_weights(
    model: torch.nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig, map_location: str = "cpu"
) -> dict[str, Any]:
    """Load model weights from a training checkpoint or canonical weights (both ``.safetensors``; told apart by
    the header). A pickle file is refused (:class:`PickleRefusedError`) without being unpickled.

    The architecture is checked before any tensor is copied: a checkpoint of another model raises
    :class:`CheckpointError` naming both architectures, and a canonical file whose tensors do not fit the
    model raises one naming the first mismatching tensor.

    Returns:
        The checkpoint dict (for ``.safetensors``: ``{"architecture": ..., "epoch": None}``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    check_not_pickle(path)
    if not is_checkpoint_file(path):
        from enhancenet_torch import weights  # the models package's canonical weight I/O

        try:
            weights.load_canonical(model, path, model_cfg)
        except PickleRefusedError:
            raise
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"weights {path} do not fit the model {describe_architecture(model_cfg)!r}: {exc}"
            ) from exc
        return {"architecture": describe_architecture(model_cfg), "epoch": None}
    ckpt = load_checkpoint(path, model_cfg, map_location)
    state = ckpt["model"]
    problems = tensor_problems(state, {k: tuple(v.shape) for k, v in model.state_dict().items()}, check_dtype=False)
    if problems:
        raise CheckpointError(
            f"checkpoint {path}: {len(problems)} tensor(s) do not fit {describe_architecture(model_cfg)!r}:\n  "
            + "\n  ".join(problems)
        )
    model.load_state_dict(state)
    return ckpt
