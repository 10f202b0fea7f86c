"""Back end of ``enhancenet-convert`` for Paddle (run by :mod:`enhancenet_core.convert` as a subprocess).

    python -m enhancenet_paddle.convert convert SRC DST [--model-config JSON]
    python -m enhancenet_paddle.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON]

``SRC`` / ``DST``: ``.safetensors`` (canonical) or ``.pdparams``, read and written by
:mod:`enhancenet_paddle.weights` (``load_canonical`` / ``save_canonical`` / ``load_pdparams`` /
``save_pdparams``), which check every tensor's name and shape, and the recorded architecture, before loading.
``verify`` loads the weights, runs the model in eval mode on ``N(0, 1)`` input (1, 3, H, W) drawn by NumPy from
``--seed`` (the same input every back end draws) and saves ``lr.npy`` / ``hr.npy`` (float32) in ``DIR``.
Exit status 2 with the error on stderr when refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import paddle

from enhancenet_core.config import ModelConfig
from enhancenet_core.convert import model_config_from_json
from enhancenet_paddle.models import PoseModel, build_model
from enhancenet_paddle.weights import (
    load_canonical,
    load_pdparams,
    read_safetensors,
    save_canonical,
    save_pdparams,
)


def _model_config_from(path: Path, given: ModelConfig | None) -> ModelConfig:
    if given is not None:
        return given
    text = None
    if path.suffix == ".safetensors":
        text = read_safetensors(path)[1].get("model_config")
    elif path.suffix == ".pdparams" and path.is_file():
        info = paddle.load(os.fspath(path)).get("__enhancenet__")
        text = info.get("model_config") if isinstance(info, dict) else None
    if not text:
        raise ValueError(f"{path}: records no model configuration; pass --model-config")
    return model_config_from_json(text, f"{path} model_config")


def build(model_cfg: ModelConfig) -> PoseModel:
    """The model of ``model_cfg`` without loading any pretrained backbone (its weights come from the file)."""
    return build_model(dataclasses.replace(model_cfg, base=dataclasses.replace(model_cfg.base, pretrained=None)))


def load_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    if path.suffix == ".safetensors":
        load_canonical(model, path, model_cfg)
    elif path.suffix == ".pdparams":
        load_pdparams(model, path, model_cfg)
    else:
        raise ValueError(f"{path}: expected .safetensors or .pdparams")


def save_any(model: PoseModel, path: Path, model_cfg: ModelConfig) -> None:
    if path.suffix == ".safetensors":
        save_canonical(model, path, model_cfg)
    elif path.suffix == ".pdparams":
        save_pdparams(model, path, model_cfg)
    else:
        raise ValueError(f"{path}: expected .safetensors or .pdparams")


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], model_cfg: ModelConfig | None = None) -> None:
    """``src`` -> ``dst`` (canonical safetensors or .pdparams) through the Paddle model of the configuration."""
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
    with paddle.no_grad():
        out = model(paddle.to_tensor(x))
    result = {k: out[k].numpy() for k in ("lr", "hr") if k in out}
    for k, v in result.items():
        np.save(Path(out_dir) / f"{k}.npy", v)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enhancenet_paddle.convert")
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
    paddle.set_device("cpu")
    try:
        cfg = model_config_from_json(args.model_config, "--model-config") if args.model_config else None
        if args.cmd == "convert":
            convert(args.src, args.dst, cfg)
        else:
            verify_outputs(args.weights, args.out, args.seed, cfg)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"enhancenet_paddle.convert: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
