"""Training checkpoints without pickle: tensors in one safetensors file, everything else as JSON in its header.

A checkpoint is a nested structure of dicts, lists, tuples, scalars, NumPy arrays and framework tensors (model,
optimizer and scheduler state dicts, RNG states, the run's position and config). :func:`save_checkpoint_file`
stores every array or tensor as a safetensors tensor (named by its path, e.g. ``model/conv1.weight``) and the
structure as JSON under the header's ``__metadata__["enhancenet_checkpoint"]``; :func:`read_checkpoint_file`
rebuilds it. Reading runs no code from the file: it is :func:`enhancenet_core.safetensors_io.read_safetensors`
(a validated header and raw little-endian arrays) plus :func:`json.loads`.

The JSON keeps what an exact resume needs: integers of any size (Python's RNG state), floats exactly (``repr``
round-trips), non-finite floats (``{"$float": "nan"}``), tuples (``{"$tuple": [...]}``), dicts whose keys are
not all strings (``{"$dict": [[key, value], ...]}``, e.g. an optimizer's ``state`` keyed by parameter index),
``collections.Counter`` (``{"$counter": ...}``, ``MultiStepLR``'s milestones) and which kind of tensor each leaf
was (``{"$tensor": name, "kind": ...}``: ``numpy``, ``numpy-scalar`` or the framework's own, rebuilt by the
framework's ``from_numpy``). Anything else is refused when saving, so a checkpoint never loses a field silently.
The file is written atomically (:func:`enhancenet_core.files.atomic_write_bytes`).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.files import atomic_write_bytes
from enhancenet_core.safetensors_io import (
    PickleRefusedError,
    read_canonical_metadata,
    read_safetensors,
    safetensors_bytes,
)
from enhancenet_runtime.engine.checkpointing import CheckpointError

__all__ = [
    "CHECKPOINT_KEY",
    "checkpoint_bytes",
    "decode",
    "encode",
    "is_checkpoint_file",
    "read_checkpoint_file",
    "save_checkpoint_file",
]

#: the ``__metadata__`` key holding the JSON structure of a training checkpoint
CHECKPOINT_KEY = "enhancenet_checkpoint"

#: ``value -> (array, kind) | None``: a framework tensor as a NumPy array and the kind recorded for it
ToNumpy = Callable[[Any], "tuple[np.ndarray, str] | None"]
#: ``(array, kind) -> value``: the framework tensor of a recorded kind
FromNumpy = Callable[[np.ndarray, str], Any]


def _no_framework(_value: Any) -> tuple[np.ndarray, str] | None:
    return None


def encode(obj: Any, to_numpy: ToNumpy = _no_framework) -> tuple[dict[str, np.ndarray], Any]:
    """(tensors by name, JSON-able structure) of ``obj``.

    Raises:
        TypeError: a value of another type (names its path in ``obj``).
    """
    tensors: dict[str, np.ndarray] = {}

    def leaf(path: str, array: np.ndarray, kind: str) -> dict[str, str]:
        name = path or "root"
        if name in tensors:  # keys that print alike (1 and "1"): keep both
            name = f"{name}#{len(tensors)}"
        tensors[name] = array
        return {"$tensor": name, "kind": kind}

    def walk(value: Any, path: str) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray):
            return leaf(path, value, "numpy")
        if isinstance(value, np.generic):
            return leaf(path, np.asarray(value), "numpy-scalar")
        framework = to_numpy(value)
        if framework is not None:
            return leaf(path, np.asarray(framework[0]), framework[1])
        if isinstance(value, tuple):
            return {"$tuple": [walk(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            items = [(walk(k, f"{path}/key"), walk(v, f"{path}/{k}".lstrip("/"))) for k, v in value.items()]
            if isinstance(value, Counter):
                return {"$counter": items}
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return dict(items)
            return {"$dict": items}
        raise TypeError(f"checkpoint entry {path or '<root>'!r}: cannot store a {type(value).__name__} "
                        "without pickle (expected dict, list, tuple, scalar, array or tensor)")

    return tensors, walk(obj, "")


def decode(structure: Any, tensors: Mapping[str, np.ndarray], from_numpy: FromNumpy | None = None) -> Any:
    """Inverse of :func:`encode`.

    Raises:
        ValueError: a tensor the structure names is missing, or an unknown tag or tensor kind.
    """

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$tensor" in value:
            name, kind = value["$tensor"], value.get("kind")
            if name not in tensors:
                raise ValueError(f"tensor {name!r} is named in the structure but not stored")
            array = tensors[name]
            if kind == "numpy":
                return array
            if kind == "numpy-scalar":
                return array[()]
            if from_numpy is None:
                raise ValueError(f"tensor {name!r} is of kind {kind!r}, which this reader cannot rebuild")
            return from_numpy(array, str(kind))
        if "$tuple" in value:
            return tuple(walk(v) for v in value["$tuple"])
        if "$float" in value:
            text = value["$float"]
            if text not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad non-finite float {text!r}")
            return float(text)
        if "$dict" in value or "$counter" in value:
            items = [(_hashable(walk(k)), walk(v)) for k, v in value.get("$dict", value.get("$counter"))]
            return Counter(dict(items)) if "$counter" in value else dict(items)
        bad = [k for k in value if k.startswith("$")]
        if bad:
            raise ValueError(f"unknown tag {bad[0]!r}")
        return {k: walk(v) for k, v in value.items()}

    return walk(structure)


def _hashable(key: Any) -> Any:
    if isinstance(key, list | dict):
        raise ValueError(f"dict key {key!r} is not a scalar")
    return key


def checkpoint_bytes(obj: Mapping[str, Any], to_numpy: ToNumpy = _no_framework) -> bytes:
    """The safetensors bytes of a checkpoint (tensors + JSON structure in the header)."""
    tensors, structure = encode(obj, to_numpy)
    text = json.dumps(structure, separators=(",", ":"), allow_nan=False)
    return safetensors_bytes(tensors, {CHECKPOINT_KEY: text})


def save_checkpoint_file(
    path: str | os.PathLike[str], obj: Mapping[str, Any], to_numpy: ToNumpy = _no_framework
) -> Path:
    """Write ``obj`` to ``path`` atomically (parents created); returns the path."""
    return atomic_write_bytes(path, checkpoint_bytes(obj, to_numpy), make_parents=True)


def is_checkpoint_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a safetensors file holding a training checkpoint (only the header is read)."""
    try:
        return CHECKPOINT_KEY in read_canonical_metadata(path)
    except (OSError, ValueError):
        return False


def read_checkpoint_file(path: str | os.PathLike[str], from_numpy: FromNumpy | None = None) -> Any:
    """The structure :func:`save_checkpoint_file` wrote, tensors rebuilt by ``from_numpy``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a pickle file (refused unread), not a safetensors file, or no checkpoint in it.
    """
    p = Path(path)
    try:
        tensors, meta = read_safetensors(p)
    except (FileNotFoundError, PickleRefusedError):
        raise
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {exc}" if str(exc).startswith(str(p)) else f"checkpoint {p}: {exc}") \
            from exc
    if CHECKPOINT_KEY not in meta:
        raise CheckpointError(f"checkpoint {p}: a safetensors file without a training checkpoint (no "
                              f"{CHECKPOINT_KEY!r} in its header; canonical weights are read as weights)")
    try:
        return decode(json.loads(meta[CHECKPOINT_KEY]), tensors, from_numpy)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than any checkpoint of ours
        raise CheckpointError(f"checkpoint {p}: corrupt {CHECKPOINT_KEY!r} header ({exc})") from exc
