"""Training checkpoints: written atomically, loaded with clear errors, holding everything an exact resume needs.

A checkpoint (``.pt``, :func:`torch.save` of a dict) holds::

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
new checkpoint, never a truncated one.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enhancenet_core.canonical import tensor_problems
from enhancenet_core.config import ModelConfig
from enhancenet_runtime.engine.checkpointing import CheckpointError, check_architecture, describe_architecture
from enhancenet_runtime.engine.io import atomic_write_bytes

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
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
LAST_NAME = "checkpoint_last.pt"
BEST_NAME = "model_best.pt"


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically (serialized in memory, then an atomic write)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getbuffer(), make_parents=True)


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
    """``out_dir / checkpoint_last.pt`` if it exists, else ``None``."""
    path = Path(out_dir) / LAST_NAME
    return path if path.is_file() else None


def load_checkpoint(
    path: str | os.PathLike[str], model_cfg: ModelConfig | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`enhancenet_torch.train.train`.

    Args:
        path: the ``.pt`` file.
        model_cfg: when given, the checkpoint's architecture must equal :func:`describe_architecture` of it.
        map_location: where tensors are loaded.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not an enhancenet-torch checkpoint, or one of another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise CheckpointError(f"checkpoint {path}: cannot be read as a torch checkpoint ({exc})") from exc
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
    """Load model weights from a training checkpoint (``.pt``) or canonical weights (``.safetensors``).

    The architecture is checked before any tensor is copied: a checkpoint of another model raises
    :class:`CheckpointError` naming both architectures, and a canonical file whose tensors do not fit the
    model raises one naming the first mismatching tensor.

    Returns:
        The checkpoint dict (for ``.safetensors``: ``{"architecture": ..., "epoch": None}``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix == ".safetensors":
        from enhancenet_torch import weights  # the models package's canonical weight I/O

        try:
            weights.load_canonical(model, path, model_cfg)
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
