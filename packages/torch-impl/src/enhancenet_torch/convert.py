"""Back end of ``enhancenet-convert`` for PyTorch (run by :mod:`enhancenet_core.convert` as a subprocess).

    python -m enhancenet_torch.convert convert SRC DST [--model-config JSON]
    python -m enhancenet_torch.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON]

``SRC`` / ``DST``: ``.safetensors`` (canonical, through :mod:`enhancenet_torch.weights`) or ``.pt`` / ``.pth``
(a PyTorch checkpoint ``{"state_dict": model.state_dict(), "enhancenet": {"format", "model_config"}}``; plain
state dicts, e.g. HRNet's, are read too). Every tensor's name and shape is checked against the model the
configuration builds before anything is written; a checkpoint recording another architecture is refused.
``verify`` loads the weights, runs the model in eval mode on ``N(0, 1)`` input (1, 3, H, W) drawn by NumPy from
``--seed`` (the same input every back end draws) and saves ``lr.npy`` / ``hr.npy`` (float32) in ``DIR``.
Exit status 2 with the error on stderr when refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from enhancenet_core.config import ModelConfig
from enhancenet_core.convert import model_config_from_json
from enhancenet_torch.models import PoseModel, build_model, canonical_state_dict
from enhancenet_torch.weights import (
    _raise_problems,
    _shape_problems,
    atomic_write_bytes,
    load_canonical,
    model_config_json,
    read_safetensors,
    read_state_dict,
    save_canonical,
)

PT_FORMAT = "enhancenet-torch-state-dict"
PT_SUFFIXES = (".pt", ".pth")


def _model_config_from(path: Path, given: ModelConfig | None) -> ModelConfig:
    if given is not None:
        return given
    text = None
    if path.suffix == ".safetensors":
        text = read_safetensors(path)[1].get("model_config")
    elif path.suffix in PT_SUFFIXES and path.is_file():
        obj = torch.load(path, map_location="cpu", weights_only=True)
        info = obj.get("enhancenet") if isinstance(obj, dict) else None
        text = info.get("model_config") if isinstance(info, dict) else None
    if not text:
        raise ValueError(f"{path}: records no model configuration; pass --model-config")
    return model_config_from_json(text, f"{path} model_config")


def build(model_cfg: ModelConfig) -> PoseModel:
    """The model of ``model_cfg`` without loading any pretrained backbone (its weights come from the file)."""
    return build_model(dataclasses.replace(model_cfg, base=dataclasses.replace(model_cfg.base, pretrained=None)))


def load_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Load a canonical or ``.pt`` / ``.pth`` file into ``model``, checking every name and shape first."""
    if path.suffix == ".safetensors":
        load_canonical(model, path, model_cfg)
        return
    if path.suffix not in PT_SUFFIXES:
        raise ValueError(f"{path}: expected .safetensors, .pt or .pth")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    info = obj.get("enhancenet") if isinstance(obj, dict) else None
    preamble = ""
    if isinstance(info, dict) and "model_config" in info:
        stored = json.loads(info["model_config"])
        if stored != json.loads(model_config_json(model_cfg)):
            preamble = (f"the file holds a {stored.get('base', {}).get('name')!r} model with another configuration "
                        f"than the one requested ({model_cfg.base.name.value!r}); ")
    found = {k: v for k, v in read_state_dict(path).items() if not k.endswith("num_batches_tracked")}
    expected = {k: tuple(v.shape) for k, v in canonical_state_dict(model).items()}
    problems = _shape_problems(found, expected)
    if preamble and not problems:
        raise ValueError(f"{path}: {preamble.rstrip('; ')}")
    _raise_problems(os.fspath(path), problems, preamble)
    missing, unexpected = model.load_state_dict(found, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):  # pragma: no cover - checked above
        raise ValueError(f"{path}: missing {missing}, unexpected {unexpected}")


def save_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    """Write canonical safetensors or a ``.pt`` / ``.pth`` checkpoint (atomically)."""
    if path.suffix == ".safetensors":
        save_canonical(model, path, model_cfg)
        return
    if path.suffix not in PT_SUFFIXES:
        raise ValueError(f"{path}: expected .safetensors, .pt or .pth")
    import io

    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(),
                "enhancenet": {"format": PT_FORMAT, "model_config": model_config_json(model_cfg)}}, buf)
    atomic_write_bytes(path, buf.getvalue())


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> None:
    """``src`` -> ``dst`` (canonical safetensors or .pt/.pth) through the torch model of the configuration."""
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
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    result = {k: out[k].numpy() for k in ("lr", "hr") if k in out}
    for k, v in result.items():
        np.save(Path(out_dir) / f"{k}.npy", v)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enhancenet_torch.convert")
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
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    try:
        cfg = model_config_from_json(args.model_config, "--model-config") if args.model_config else None
        if args.cmd == "convert":
            convert(args.src, args.dst, cfg)
        else:
            verify_outputs(args.weights, args.out, args.seed, cfg)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"enhancenet_torch.convert: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
