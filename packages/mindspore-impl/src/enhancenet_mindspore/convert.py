"""Back end of ``enhancenet-convert`` for MindSpore (run by :mod:`enhancenet_core.convert` as a subprocess).

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

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_core.convert import model_config_from_json
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_core.pixel_shuffle import channel_permutation
from enhancenet_mindspore.models import PoseModel, build_model
from enhancenet_mindspore.weights import (
    load_canonical,
    load_tensors,
    mindspore_names,
    model_config_json,
    read_safetensors,
    save_canonical,
    save_ckpt,
)

CKPT_FORMAT = "enhancenet-mindspore-ckpt"
CKPT_SUFFIX = ".ckpt"
#: entries of a training checkpoint that are not model weights (enhancenet_mindspore.checkpoint)
OPTIMIZER_PREFIX = "optimizer."

__all__ = ["CKPT_FORMAT", "build", "convert", "load_any", "main", "read_ckpt", "save_any", "verify_outputs"]


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


def _model_config_from(path: Path, given: ModelConfig | None) -> ModelConfig:
    if given is not None:
        return given
    text = None
    if path.suffix == ".safetensors":
        text = read_safetensors(path)[1].get("model_config")
    elif path.suffix == CKPT_SUFFIX:
        text = _ckpt_model_config(read_ckpt(path)[1])
    if not text:
        raise ValueError(f"{path}: records no model configuration; pass --model-config")
    return model_config_from_json(text, f"{path} model_config")


def build(model_cfg: ModelConfig) -> PoseModel:
    """The model of ``model_cfg`` without loading any pretrained backbone (its weights come from the file)."""
    return build_model(dataclasses.replace(model_cfg, base=dataclasses.replace(model_cfg.base, pretrained=None)))


def _load_ckpt(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    tensors, other = read_ckpt(path)
    stored = _ckpt_model_config(other)
    stored_cfg = None
    if stored is not None:
        try:
            stored_base = json.loads(stored)["base"]["name"]
        except (ValueError, KeyError, TypeError):
            stored_base = None
        want = BaseModelName(model_cfg.base.name).value
        if stored_base is not None and stored_base != want:
            raise ValueError(f"{path}: the file holds a {stored_base!r} model, the config builds {want!r}")
        try:
            stored_cfg = model_config_from_json(stored, f"{path} model_config")
        except ValueError:
            stored_cfg = None
    names = mindspore_names(model)  # canonical -> MindSpore name
    own = set(names.values())
    canonical = {canon: tensors[ms_name] for canon, ms_name in names.items() if ms_name in tensors}
    if stored_cfg is not None:
        canonical = _to_shuffle_order(canonical, stored_cfg, model_cfg)
    # unexpected tensors keep their MindSpore name so that the error names what is in the file
    canonical.update({name: t for name, t in tensors.items()
                      if name not in own and not name.startswith(OPTIMIZER_PREFIX)})
    load_tensors(model, canonical, os.fspath(path))


def _to_shuffle_order(tensors: dict[str, np.ndarray], stored: ModelConfig, want: ModelConfig) -> dict[str, np.ndarray]:
    """A sub-pixel head's ``upsample`` weight and bias from the file's shuffle order into the requested one
    (a ``.ckpt`` stores a paper-order head in the paper order, as the model holds it)."""
    have_order, want_order = ShuffleOrder(stored.head.shuffle_order), ShuffleOrder(want.head.shuffle_order)
    if (have_order is want_order or not want.head.enabled
            or Upsampler(want.head.upsampler) is not Upsampler.SUBPIXEL):
        return tensors
    perm = channel_permutation(want.num_keypoints, want.head.upscale, have_order, want_order)
    out = dict(tensors)
    for suffix in ("weight", "bias"):
        t = out.get(f"{HEAD_PREFIX}upsample.{suffix}")
        if t is not None and t.ndim >= 1 and t.shape[0] == perm.size:
            out[f"{HEAD_PREFIX}upsample.{suffix}"] = t[perm]
    return out


def load_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Load a canonical or ``.ckpt`` file into ``model``, checking every name and shape first."""
    if path.suffix == ".safetensors":
        load_canonical(model, path, model_cfg)
    elif path.suffix == CKPT_SUFFIX:
        _load_ckpt(model, path, model_cfg)
    else:
        raise ValueError(f"{path}: expected .safetensors or .ckpt")


def save_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Write canonical safetensors or a ``.ckpt`` (with the format and model configuration), atomically."""
    if path.suffix == ".safetensors":
        save_canonical(model, path, model_cfg)
    elif path.suffix == CKPT_SUFFIX:
        save_ckpt(model, path, append_dict={"enhancenet_format": CKPT_FORMAT,
                                            "model_config": model_config_json(model_cfg)})
    else:
        raise ValueError(f"{path}: expected .safetensors or .ckpt")


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> None:
    """``src`` -> ``dst`` (canonical safetensors or .ckpt) through the MindSpore model of the configuration."""
    src_p, dst_p = Path(src), Path(dst)
    cfg = _model_config_from(src_p, model_cfg)
    model = build(cfg)
    load_any(model, src_p, cfg)
    save_any(model, dst_p, cfg)


def verify_outputs(weights: str | os.PathLike[str], out_dir: str | os.PathLike[str], seed: int,
                   model_cfg: ModelConfig | None = None) -> dict[str, np.ndarray]:
    """Eval-mode outputs of the loaded model on the seeded input; saved as ``<name>.npy`` in ``out_dir``."""
    path = Path(weights)
    cfg = _model_config_from(path, model_cfg)
    model = build(cfg)
    load_any(model, path, cfg)
    w, h = cfg.input_size
    x = np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)
    model.set_train(False)
    out = model(ms.Tensor(x))
    result = {k: out[k].asnumpy() for k in ("lr", "hr") if k in out}
    for k, v in result.items():
        np.save(Path(out_dir) / f"{k}.npy", v)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enhancenet_mindspore.convert")
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("src")
    c.add_argument("dst")
    v = sub.add_parser("verify")
    v.add_argument("weights")
    v.add_argument("--out", required=True)
    v.add_argument("--seed", type=int, default=0)
    for p in (c, v):
        p.add_argument("--model-config", default=None, help="model configuration as JSON")
    args = parser.parse_args(argv)
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    try:
        cfg = model_config_from_json(args.model_config, "--model-config") if args.model_config else None
        if args.cmd == "convert":
            convert(args.src, args.dst, cfg)
        else:
            verify_outputs(args.weights, args.out, args.seed, cfg)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"enhancenet_mindspore.convert: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
