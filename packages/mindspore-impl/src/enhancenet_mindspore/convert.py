"""Back end of ``enhancenet-convert`` for MindSpore (run by :mod:`enhancenet_runtime.convert` as a subprocess).

The parser and the convert / verify flows are :mod:`enhancenet_runtime.engine.convert_backend`'s; this module
supplies only what is MindSpore's (:data:`MINDSPORE_IO`): the model, the ``.ckpt`` file and the forward pass.

    python -m enhancenet_mindspore.convert convert SRC DST [--model-config JSON]
    python -m enhancenet_mindspore.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON]

``SRC`` / ``DST``: ``.safetensors`` (canonical, through :mod:`enhancenet_mindspore.weights`) or ``.ckpt``
(MindSpore-native ``mindspore.save_checkpoint`` file: the model's parameters under their MindSpore names, e.g.
``base.bn1.gamma``, ``base.bn1.moving_mean``, ``enhance.upsample.weight``, plus the strings
``enhancenet_format`` = ``enhancenet-mindspore-ckpt`` and ``model_config`` (compact JSON)). A ``.ckpt`` written
by ``mindspore.save_checkpoint(model, ...)`` without those strings is read too (pass ``--model-config``);
so is a training checkpoint of :mod:`enhancenet_mindspore.checkpoint` (its ``optimizer.*`` entries are not
model weights and are left out; its model configuration is taken from its ``state``).

Every tensor's name and shape is checked against the model the configuration builds before anything is
loaded; a checkpoint recording another architecture is refused with the names of both. A sub-pixel head
stored in the other shuffle order (the ``.ckpt`` records its configuration) is permuted into the requested one. ``verify`` loads the
weights, runs the model in eval mode (PYNATIVE_MODE) on ``N(0, 1)`` input (1, 3, H, W) drawn by NumPy from
``--seed`` (the same input every back end draws) and saves ``lr.npy`` / ``hr.npy`` (float32) in ``DIR``.
Exit status 2 with the error on stderr when refused. Writes are atomic (nothing is written on failure).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np

from enhancenet_core.canonical import base_mismatch, convert_shuffle_order
from enhancenet_core.config import ModelConfig
from enhancenet_mindspore.models import PoseModel, build_model
from enhancenet_mindspore.weights import (
    load_canonical,
    load_tensors,
    mindspore_names,
    model_config_json,
    save_canonical,
    save_ckpt,
)
from enhancenet_runtime.convert import model_config_from_json
from enhancenet_runtime.engine.convert_backend import FrameworkIO

CKPT_FORMAT = "enhancenet-mindspore-ckpt"
CKPT_SUFFIX = ".ckpt"
#: entries of a training checkpoint that are not model weights (enhancenet_mindspore.checkpoint)
OPTIMIZER_PREFIX = "optimizer."

__all__ = ["CKPT_FORMAT", "MINDSPORE_IO", "build", "convert", "load_any", "main", "read_ckpt", "save_any", "verify_outputs"]


def read_ckpt(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors by MindSpore name, the other entries: strings and scalars) of a ``.ckpt`` file.

    Raises FileNotFoundError when the file is missing and ValueError when MindSpore cannot read it.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} not found")
    try:
        found = ms.load_checkpoint(os.fspath(p))
    except Exception as exc:  # MindSpore raises its own types for a corrupt file
        raise ValueError(f"{p}: not a readable MindSpore checkpoint ({exc})") from exc
    tensors: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {}
    for name, value in found.items():
        if isinstance(value, ms.Tensor | ms.Parameter) and value.ndim > 0:
            tensors[name] = value.asnumpy()
        else:
            other[name] = value.asnumpy().item() if isinstance(value, ms.Tensor | ms.Parameter) else value
    return tensors, other


def _ckpt_model_config(other: dict[str, Any]) -> str | None:
    text = other.get("model_config")
    if isinstance(text, str):
        return text
    state = other.get("state")  # a training checkpoint: {"config": {"model": {...}}, ...}
    if isinstance(state, str):
        try:
            model = json.loads(state).get("config", {}).get("model")
        except (ValueError, AttributeError):
            return None
        if isinstance(model, dict):
            return json.dumps(model, sort_keys=True, separators=(",", ":"))
    return None


def _load_ckpt(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    tensors, other = read_ckpt(path)
    stored = _ckpt_model_config(other)
    stored_cfg = None
    if stored is not None:
        mismatch = base_mismatch({"model_config": stored}, model_cfg)
        if mismatch:
            raise ValueError(f"{path}: {mismatch.rstrip('; ')}")
        try:
            stored_cfg = model_config_from_json(stored, f"{path} model_config")
        except ValueError:
            stored_cfg = None
    names = mindspore_names(model)  # canonical -> MindSpore name
    own = set(names.values())
    canonical = {canon: tensors[ms_name] for canon, ms_name in names.items() if ms_name in tensors}
    if stored_cfg is not None:
        # a .ckpt stores a paper-order head in the paper order, as the model holds it: into the requested one
        canonical = convert_shuffle_order(canonical, model_cfg, stored_cfg.head.shuffle_order,
                                          model_cfg.head.shuffle_order, os.fspath(path))
    # unexpected tensors keep their MindSpore name so that the error names what is in the file
    canonical.update({name: t for name, t in tensors.items()
                      if name not in own and not name.startswith(OPTIMIZER_PREFIX)})
    load_tensors(model, canonical, os.fspath(path))


def _ckpt_file_model_config(path: Path) -> str | None:
    return _ckpt_model_config(read_ckpt(path)[1])


def _save_ckpt(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """A ``.ckpt`` with the format and the model configuration, atomically."""
    save_ckpt(model, path, append_dict={"enhancenet_format": CKPT_FORMAT, "model_config": model_config_json(model_cfg)})


def _forward(model: PoseModel, x: np.ndarray) -> dict[str, np.ndarray]:
    model.set_train(False)
    out = model(ms.Tensor(x))
    return {k: out[k].asnumpy() for k in ("lr", "hr") if k in out}


MINDSPORE_IO = FrameworkIO(
    prog="enhancenet_mindspore.convert",
    native_suffixes=(CKPT_SUFFIX,),
    build_model=build_model,
    load_canonical=load_canonical,
    save_canonical=save_canonical,
    load_native=_load_ckpt,
    save_native=_save_ckpt,
    native_model_config=_ckpt_file_model_config,
    forward=_forward,
    setup=lambda: ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU"),
)


# the public functions of every converter back end, bound to this framework
build = MINDSPORE_IO.build
load_any = MINDSPORE_IO.load_any
save_any = MINDSPORE_IO.save_any
convert = MINDSPORE_IO.convert
verify_outputs = MINDSPORE_IO.verify_outputs
main = MINDSPORE_IO.main


if __name__ == "__main__":
    raise SystemExit(main())
