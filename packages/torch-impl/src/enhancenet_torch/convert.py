"""Back end of ``enhancenet-convert`` for PyTorch (run by :mod:`enhancenet_runtime.convert` as a subprocess).

The parser and the convert / verify flows are :mod:`enhancenet_runtime.engine.convert_backend`'s; this module
supplies only what is PyTorch's (:data:`TORCH_IO`): the model, the ``.pt`` / ``.pth`` file and the forward pass.

    python -m enhancenet_torch.convert convert SRC DST [--model-config JSON] [--trust-pickle]
    python -m enhancenet_torch.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON] [--trust-pickle]

``SRC`` / ``DST``: ``.safetensors`` (canonical, through :mod:`enhancenet_torch.weights`; as ``SRC`` also a
training checkpoint, whose model weights are taken) or ``.pt`` / ``.pth`` (a PyTorch checkpoint
``{"state_dict": model.state_dict(), "enhancenet": {"format", "model_config"}}``; plain state dicts, e.g.
HRNet's, and the pickle training checkpoints of earlier versions are read too, but only with ``--trust-pickle``:
reading them unpickles, which runs any code the file holds). Every tensor's name and shape is checked against the model the
configuration builds before anything is written; a checkpoint recording another architecture is refused.
``verify`` loads the weights, runs the model in eval mode on ``N(0, 1)`` input (1, 3, H, W) drawn by NumPy from
``--seed`` (the same input every back end draws) and saves ``lr.npy`` / ``hr.npy`` (float32) in ``DIR``.
Exit status 2 with the error on stderr when refused.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_runtime.convert import model_config_from_json
from enhancenet_runtime.engine.checkpointing import check_architecture, describe_architecture
from enhancenet_runtime.engine.convert_backend import FrameworkIO
from enhancenet_torch.checkpoint import CHECKPOINT_FORMAT, load_model_weights
from enhancenet_torch.foreign import load_foreign_tensors
from enhancenet_torch.models import PoseModel, build_model, canonical_state_dict
from enhancenet_torch.weights import (
    atomic_write_bytes,
    load_canonical,
    load_trusted_pickle,
    model_config_json,
    read_state_dict,
    save_canonical,
)

PT_FORMAT = "enhancenet-torch-state-dict"
PT_SUFFIXES = (".pt", ".pth")


def _legacy_training_checkpoint(obj: object) -> dict | None:
    """A trusted ``.pt`` that is a training checkpoint of an earlier version (pickle), else ``None``."""
    return obj if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT else None


def _pt_model_config(path: Path) -> str | None:
    """The model configuration JSON a trusted ``.pt`` / ``.pth`` file records (:func:`save_any`'s header, or an
    old training checkpoint's config); None: none. Reached only behind ``--trust-pickle``."""
    obj = load_trusted_pickle(path)
    ckpt = _legacy_training_checkpoint(obj)
    if ckpt is not None:
        return canonical.model_config_json(model_config_from_json(json.dumps(ckpt["config"]["model"])))
    info = obj.get("enhancenet") if isinstance(obj, dict) else None
    return info.get("model_config") if isinstance(info, dict) else None


def _load_pt(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Load a trusted ``.pt`` / ``.pth`` state dict (or an old training checkpoint) into ``model``, checking every
    name and shape first. Reached only behind ``--trust-pickle`` (:mod:`enhancenet_runtime.engine.convert_backend`
    refuses a pickle source before)."""
    obj = load_trusted_pickle(path)
    ckpt = _legacy_training_checkpoint(obj)
    if ckpt is not None:
        check_architecture(ckpt.get("architecture"), describe_architecture(model_cfg), path)
    info = obj.get("enhancenet") if isinstance(obj, dict) else None
    preamble = ""
    if isinstance(info, dict) and "model_config" in info:
        stored = json.loads(info["model_config"])
        if stored != json.loads(model_config_json(model_cfg)):
            preamble = (f"the file holds a {stored.get('base', {}).get('name')!r} model with another configuration "
                        f"than the one requested ({model_cfg.base.name.value!r}); ")
    found = {k: v for k, v in read_state_dict(path, trust_pickle=True).items()
             if not k.endswith("num_batches_tracked")}
    if ckpt is None and info is None and not any(k.startswith(HEAD_PREFIX) for k in found):  # foreign names
        foreign_names.require_base_only(model_cfg, os.fspath(path), foreign_names.detect_layout(found))
        load_foreign_tensors(model, found, model_cfg, os.fspath(path))  # mmpose / HRNet-repo / bearpaw names
        return
    expected = {k: tuple(v.shape) for k, v in canonical_state_dict(model).items()}
    if preamble and not canonical.tensor_problems(found, expected):
        raise ValueError(f"{path}: {preamble.rstrip('; ')}")
    canonical.check_tensors(found, expected, os.fspath(path), preamble)
    missing, unexpected = model.load_state_dict(found, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):  # pragma: no cover - checked above
        raise ValueError(f"{path}: missing {missing}, unexpected {unexpected}")


def _save_pt(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Write ``{"state_dict", "enhancenet": {"format", "model_config"}}`` with :func:`torch.save`, atomically."""
    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(),
                "enhancenet": {"format": PT_FORMAT, "model_config": model_config_json(model_cfg)}}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _forward(model: PoseModel, x: np.ndarray) -> dict[str, np.ndarray]:
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return {k: out[k].numpy() for k in ("lr", "hr") if k in out}


def _setup() -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


TORCH_IO = FrameworkIO(
    prog="enhancenet_torch.convert",
    native_suffixes=PT_SUFFIXES,
    build_model=build_model,
    load_canonical=load_canonical,
    save_canonical=save_canonical,
    load_native=_load_pt,
    save_native=_save_pt,
    native_model_config=_pt_model_config,
    forward=_forward,
    setup=_setup,
    load_checkpoint_weights=load_model_weights,
)


# the public functions of every converter back end, bound to this framework
build = TORCH_IO.build
load_any = TORCH_IO.load_any
save_any = TORCH_IO.save_any
convert = TORCH_IO.convert
verify_outputs = TORCH_IO.verify_outputs
main = TORCH_IO.main


if __name__ == "__main__":
    raise SystemExit(main())
