"""Training checkpoints in MindSpore's own ``.ckpt`` format: atomic, overwritable, holding all an exact resume needs.

A training checkpoint is one ``mindspore.save_checkpoint`` file with:

* the model's parameters under their MindSpore names (``base.conv1.weight``, ``...bn1.moving_mean``), so plain
  ``mindspore.load_checkpoint`` + ``load_param_into_net`` reads the weights too;
* the optimizer's state under ``optimizer.<name>``: Adam (:class:`~enhancenet_mindspore.optim.TorchAdam`)
  ``moment1.*``/``moment2.*``; SGD ``moments.*``; ``global_step`` and ``learning_rate`` (every optimizer
  Parameter that is not a model parameter);
* ``state``: one JSON string with ``format`` (``enhancenet-mindspore-checkpoint``), ``version``, ``architecture``
  (the shape-relevant model config, checked on load), ``config``, ``epoch`` (in progress, 0-based),
  ``batch_in_epoch``, ``step``, ``world_size``, ``rng`` (python, NumPy and MindSpore generator states),
  ``best_metric``/``best_epoch``/``metric_name`` and the validation ``history``.

``save_checkpoint`` creates files with mode 0400; :func:`atomic_save` writes through
:func:`enhancenet_core.files.atomic_write_with` (a temporary file in the target directory, the usual permissions
0666 & ~umask, fsync, ``os.replace``): a kill at any moment leaves the old or the new checkpoint, never a truncated
one, the next save can replace it, and the temporary file a kill leaves is removed when training starts again.
Nothing here is pickle: ``.ckpt`` is protobuf and the state is JSON; a pickle file (``.pt``, ``.pdparams``, a
pickle or zip signature) passed as a checkpoint is refused with one line before MindSpore reads it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from enhancenet_core.config import Config, ModelConfig, config_to_dict
from enhancenet_core.files import atomic_write_with
from enhancenet_core.safetensors_io import check_not_pickle

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "LAST_NAME",
    "CheckpointError",
    "architecture_of",
    "assign_tensors",
    "atomic_save",
    "capture_rng_state",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_weights",
    "optimizer_state",
    "restore_rng_state",
]

CHECKPOINT_FORMAT = "enhancenet-mindspore-checkpoint"
CHECKPOINT_VERSION = 1
LAST_NAME = "checkpoint_last.ckpt"
BEST_NAME = "model_best.ckpt"
OPTIMIZER_PREFIX = "optimizer."
_NOT_ARCHITECTURE = ("input_size", "heatmap_stride")  # change no parameter's name or shape
_BASE_NOT_ARCHITECTURE = ("pretrained",)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for the requested model (names the file and the reason)."""


def architecture_of(model_cfg: ModelConfig) -> dict[str, Any]:
    """The part of the model config that fixes parameter names and shapes (base model, K, head), as plain data.

    Two configs with equal architectures build models with identical parameters; ``input_size``,
    ``heatmap_stride`` and ``base.pretrained`` are left out.
    """
    model = config_to_dict(Config(model=model_cfg))["model"]
    arch = {k: v for k, v in model.items() if k not in _NOT_ARCHITECTURE}
    arch["base"] = {k: v for k, v in model["base"].items() if k not in _BASE_NOT_ARCHITECTURE}
    return arch


def _describe(arch: Mapping[str, Any]) -> str:
    base = arch.get("base", {})
    head = arch.get("head", {})
    text = f"{base.get('name')}(K={arch.get('num_keypoints')})"
    if head.get("enabled"):
        text += f"+enhancenet(L={head.get('num_layers')},C={head.get('channels')},r={head.get('upscale')})"
    return text


def _differences(have: Any, want: Any, prefix: str = "model") -> list[str]:
    if isinstance(have, Mapping) and isinstance(want, Mapping):
        out: list[str] = []
        for key in sorted(set(have) | set(want)):
            out += _differences(have.get(key), want.get(key), f"{prefix}.{key}")
        return out
    return [] if have == want else [f"{prefix}: checkpoint {have!r}, config {want!r}"]


def optimizer_state(optimizer: nn.Optimizer, model: nn.Cell) -> list[tuple[str, ms.Parameter]]:
    """(name, Parameter) of every optimizer Parameter that is not a model parameter (moments, powers, step, lr)."""
    own = {id(p) for p in model.get_parameters()}
    return [(name, p) for name, p in optimizer.parameters_and_names() if id(p) not in own]


def atomic_save(
    model: nn.Cell,
    path: str | os.PathLike[str],
    state: Mapping[str, Any],
    optimizer: nn.Optimizer | None = None,
) -> Path:
    """Write a training checkpoint (model, optimizer state, JSON ``state``) to ``path`` atomically; returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = [{"name": p.name, "data": p} for p in model.get_parameters()]
    if optimizer is not None:
        items += [{"name": OPTIMIZER_PREFIX + name, "data": p} for name, p in optimizer_state(optimizer, model)]
    state_json = json.dumps(dict(state), default=_json_plain)

    def write(tmp: Path) -> None:
        tmp.unlink()  # save_checkpoint creates the file itself (mode 0400; atomic_write_with gives the usual one)
        ms.save_checkpoint(items, os.fspath(tmp), append_dict={"state": state_json})

    # the temporary name ends in .ckpt, which save_checkpoint insists on; a kill leaves it for the next start
    return atomic_write_with(path, write, suffix=".tmp.ckpt")


def _json_plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"checkpoint state: cannot store {type(obj).__name__}")


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy (global) and MindSpore generator states of this process, as JSON-ready data."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002 - the global state other code may draw from
    return {
        "python": [version, list(internal), gauss],
        "numpy": {**np_state, "state": {"key": np_state["state"]["key"].tolist(), "pos": np_state["state"]["pos"]}},
        "mindspore": ms.get_rng_state().asnumpy().tolist(),
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = dict(state["numpy"])
    np_state["state"] = {"key": np.asarray(np_state["state"]["key"], dtype=np.uint32), "pos": np_state["state"]["pos"]}
    np.random.set_state(np_state)  # noqa: NPY002 - restores the global state saved above
    ms.set_rng_state(ms.Tensor(np.asarray(state["mindspore"], dtype=np.uint8)))


def latest_checkpoint(out_dir: str | os.PathLike[str]) -> Path | None:
    """``out_dir / checkpoint_last.ckpt`` if it exists, else ``None``."""
    path = Path(out_dir) / LAST_NAME
    return path if path.is_file() else None


def load_checkpoint(path: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`enhancenet_mindspore.train.train`.

    Returns:
        The ``state`` dict plus ``"tensors"``: {name: NumPy array} of the model (MindSpore names) and
        ``"optimizer"``: {name: NumPy array} of the optimizer state (names without the ``optimizer.`` prefix).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not readable, not an enhancenet-mindspore training checkpoint, or (with ``model_cfg``)
            saved for another architecture (the differing config fields are listed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    check_not_pickle(path)  # MindSpore would not unpickle it either, but the user gets the safe-format hint
    try:
        raw = ms.load_checkpoint(os.fspath(path))
    except Exception as exc:  # MindSpore raises several types for a corrupt or foreign file
        raise CheckpointError(f"checkpoint {path}: cannot be read as a MindSpore checkpoint ({exc})") from exc
    try:
        state = json.loads(raw["state"]) if isinstance(raw.get("state"), str) else None
    except ValueError:
        state = None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: not an enhancenet-mindspore training checkpoint (no 'state' entry with "
            f"format={CHECKPOINT_FORMAT!r}); canonical weights (.safetensors) and plain .ckpt weights are read by "
            "load_model_weights"
        )
    if model_cfg is not None:
        _check_architecture(path, state.get("architecture"), model_cfg)
    tensors, opt = {}, {}
    for name, value in raw.items():
        if isinstance(value, ms.Parameter | ms.Tensor) and name != "state":
            if name.startswith(OPTIMIZER_PREFIX):
                opt[name[len(OPTIMIZER_PREFIX) :]] = value.asnumpy()
            else:
                tensors[name] = value.asnumpy()
    return {**state, "tensors": tensors, "optimizer": opt}


def _check_architecture(path: Path, have: Any, model_cfg: ModelConfig) -> None:
    want = architecture_of(model_cfg)
    if have != want:
        diffs = _differences(have or {}, want)
        raise CheckpointError(
            f"checkpoint {path} was saved for architecture {_describe(have or {})!r}, but the config builds "
            f"{_describe(want)!r} ({'; '.join(diffs[:4])})"
        )


def assign_tensors(params: Sequence[tuple[str, ms.Parameter]], tensors: Mapping[str, np.ndarray], source: str) -> None:
    """Copy ``tensors[name]`` into each ``(name, Parameter)`` after checking all names and shapes (nothing is
    copied on a mismatch; CheckpointError lists the first few problems)."""
    problems = [f"missing {n}" for n, _ in params if n not in tensors]
    problems += [f"wrong shape {n}: expected {tuple(p.shape)}, found {tuple(tensors[n].shape)}"
                 for n, p in params if n in tensors and tuple(tensors[n].shape) != tuple(p.shape)]
    if problems:
        raise CheckpointError(f"{source}: {len(problems)} tensor(s) do not fit: {'; '.join(problems[:4])}")
    for name, p in params:  # in place: set_data would detach the Parameter from the storage optimizers update
        ops.assign(p, ms.Tensor(np.array(tensors[name], dtype=ms.dtype_to_nptype(p.dtype), order="C")))


def load_model_weights(model: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig) -> dict[str, Any]:
    """Load model weights from a training checkpoint or plain ``.ckpt`` weights, or canonical ``.safetensors``.

    The architecture is checked before any tensor is copied: another model's training checkpoint raises
    :class:`CheckpointError` naming both architectures and the differing config fields; a canonical or plain file
    whose tensors do not fit raises one listing the offending tensors.

    Returns:
        The checkpoint's state (for ``.safetensors`` and plain ``.ckpt``: ``{"architecture": ..., "epoch": None}``).
    """
    from enhancenet_mindspore import weights

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    check_not_pickle(path)
    if path.suffix == ".safetensors":
        try:
            weights.load_canonical(model, path, model_cfg)
        except ValueError as exc:
            raise CheckpointError(f"weights {path} do not fit the model {_describe(architecture_of(model_cfg))!r}: "
                                  f"{exc}") from exc
        return {"architecture": architecture_of(model_cfg), "epoch": None}
    try:
        ckpt = load_checkpoint(path, model_cfg)
    except CheckpointError as exc:
        if "not an enhancenet-mindspore training checkpoint" not in str(exc):
            raise
        try:  # weights written by weights.save_ckpt
            weights.load_ckpt(model, path)
        except ValueError as inner:
            raise CheckpointError(f"checkpoint {path}: neither a training checkpoint nor weights of "
                                  f"{_describe(architecture_of(model_cfg))!r}: {inner}") from inner
        return {"architecture": architecture_of(model_cfg), "epoch": None}
    assign_tensors([(p.name, p) for p in model.get_parameters()], ckpt["tensors"], os.fspath(path))
    return ckpt
