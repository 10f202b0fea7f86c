"""``enhancenet-paddle``: train, evaluate, predict, export and generate the synthetic data set.

    enhancenet-paddle train CONFIG [--out DIR] [--set a.b=c ...] [--device cpu|gpu[:N]] [--max-steps N]
    python -m paddle.distributed.launch --nproc_per_node=4 -m enhancenet_paddle.cli train CONFIG ...   # multi-GPU
    enhancenet-paddle eval CONFIG CHECKPOINT [--out DIR] [--set ...] [--engine auto|inference|dygraph]
    enhancenet-paddle predict CONFIG CHECKPOINT IMAGE [--boxes x,y,w,h ...] [--out FILE] [--joint K] [--engine ...]
    enhancenet-paddle export CONFIG CHECKPOINT OUT [--format paddle|onnx]
    enhancenet-paddle synth OUT [--num-images N] [--seed S]

Verbs, flags, config resolution and error handling are enhancenet-core's shared CLI
(:mod:`enhancenet_runtime.engine.cli`): bad input (a missing file, a config error, a checkpoint of another
architecture, a box outside the image) exits with status 2 and one line naming what is wrong, no traceback.
``CHECKPOINT`` is a training checkpoint or canonical weights (both ``.safetensors``); a pickle file (``.pdparams``,
``.pdckpt``) is refused: convert a trusted one with ``enhancenet-convert SRC DST.safetensors --trust-pickle``.
``--engine`` (eval, predict): ``auto`` (Paddle Inference with oneDNN on the CPU, dygraph on a GPU), ``inference`` or
``dygraph`` (:mod:`enhancenet_paddle.predictor`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from enhancenet_runtime.engine.cli import (
    FrameworkCommands,
    build_parser,
    run_cli,
    run_evaluate,
    run_predict,
    run_train,
)

__all__ = ["main"]


def _train(args: argparse.Namespace) -> int:
    from enhancenet_paddle.train import train

    return run_train(args, train)


def _evaluate(args: argparse.Namespace) -> int:
    from enhancenet_paddle.evaluate import evaluate_checkpoint

    return run_evaluate(args, evaluate_checkpoint, engine=args.engine)


def _predict(args: argparse.Namespace) -> int:
    from enhancenet_paddle.predict import predict_image

    return run_predict(args, predict_image, engine=args.engine)


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


def _engine_argument(verb: str, parser: argparse.ArgumentParser) -> None:
    # the choices of enhancenet_paddle.predictor.ENGINES, written out so that parsing does not import Paddle
    parser.add_argument("--engine", choices=("auto", "inference", "dygraph"), default="auto",
                        help="auto: Paddle Inference with oneDNN on the CPU, dygraph on a GPU (default); "
                             "inference; dygraph")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``enhancenet-paddle``; returns the exit status."""
    from enhancenet_paddle.checkpoint import CheckpointError

    commands = FrameworkCommands(
        train=_train, evaluate=_evaluate, predict=_predict, export=_export, export_formats=("paddle", "onnx"),
        extra_errors=(CheckpointError,),
        device_help="cpu, gpu or gpu:N (cuda accepted; default: a GPU when Paddle has one)",
        extra_arguments=_engine_argument,
    )
    parser = build_parser("enhancenet-paddle", "EnhanceNet (belief-map enhancement for pose) in PaddlePaddle", commands)
    return run_cli(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
