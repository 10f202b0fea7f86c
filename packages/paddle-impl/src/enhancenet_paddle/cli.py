"""``enhancenet-paddle``: train, evaluate, predict, export and generate the synthetic data set.

    enhancenet-paddle train CONFIG [--out DIR] [--set a.b=c ...] [--device cpu|gpu[:N]] [--max-steps N]
    python -m paddle.distributed.launch --nproc_per_node=4 -m enhancenet_paddle.cli train CONFIG ...   # multi-GPU
    enhancenet-paddle eval CONFIG CHECKPOINT [--out DIR] [--set ...]
    enhancenet-paddle predict CONFIG CHECKPOINT IMAGE --boxes x,y,w,h [x,y,w,h ...] [--out FILE] [--joint K]
    enhancenet-paddle export CONFIG CHECKPOINT OUT [--format paddle|onnx]
    enhancenet-paddle synth OUT [--num-images N] [--seed S]

Verbs, flags, config resolution and error handling are enhancenet-core's shared CLI
(:mod:`enhancenet_core.engine.cli`): bad input (a missing file, a config error, a checkpoint of another
architecture, a box outside the image) exits with status 2 and one line naming what is wrong, no traceback.
``CHECKPOINT`` is a training checkpoint (``.pdckpt``), native weights (``.pdparams``) or canonical weights
(``.safetensors``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from enhancenet_core.engine.cli import FrameworkCommands, build_parser, run_cli

__all__ = ["main"]


def _train(args: argparse.Namespace) -> int:
    from enhancenet_paddle.train import train

    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = train(args.cfg, out, device=args.device, resume=not args.no_resume, max_steps=args.max_steps,
                   checkpoint_every=args.checkpoint_every, validate=not args.no_val, progress=not args.no_progress)
    if result.checkpoint is not None:
        print(f"trained to epoch {result.epoch}, step {result.step}; checkpoint {result.checkpoint}")
        if result.best_metric is not None:
            print(f"best validation metric {result.best_metric:.4f} at epoch {result.best_epoch}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from enhancenet_paddle.evaluate import evaluate_checkpoint

    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "eval"
    metrics = evaluate_checkpoint(args.cfg, args.checkpoint, out_dir=out, device=args.device,
                                  progress=not args.no_progress)
    print(json.dumps({"metric_name": metrics["metric_name"], "metric": metrics["metric"],
                      "results": str(metrics.get("results_json", ""))}, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from enhancenet_paddle.predict import predict_image

    out = Path(args.out) if args.out else Path(args.image).with_suffix(".pose.png")
    for path in predict_image(args.cfg, args.checkpoint, args.image, args.boxes, out, device=args.device,
                              joint=args.joint):
        print(path)
    return 0


def _export(args: argparse.Namespace) -> int:
    import paddle

    from enhancenet_paddle.checkpoint import load_model_weights
    from enhancenet_paddle.export import export_inference, export_onnx
    from enhancenet_paddle.models import build_model

    paddle.set_device("cpu")
    cfg = args.cfg
    model = build_model(cfg.model)
    load_model_weights(model, args.checkpoint, cfg.model)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "onnx":
        report = export_onnx(model, out, cfg.model.input_size)
    else:  # Paddle inference format: OUT is the path prefix of OUT.json + OUT.pdiparams
        report = export_inference(model, out, cfg.model.input_size)
    print(report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``enhancenet-paddle``; returns the exit status."""
    from enhancenet_paddle.checkpoint import CheckpointError

    commands = FrameworkCommands(
        train=_train, evaluate=_evaluate, predict=_predict, export=_export, export_formats=("paddle", "onnx"),
        extra_errors=(CheckpointError,),
        device_help="cpu, gpu or gpu:N (cuda accepted; default: a GPU when Paddle has one)",
    )
    parser = build_parser("enhancenet-paddle", "EnhanceNet (belief-map enhancement for pose) in PaddlePaddle", commands)
    return run_cli(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
