"""``enhancenet-mindspore``: train, evaluate, predict, export (MINDIR, ONNX) and generate the synthetic data set.

    enhancenet-mindspore train CONFIG [--out DIR] [--set a.b=c ...] [--device cpu|gpu|ascend] [--max-steps N]
                                      [--mode pynative|graph]
    msrun --worker_num=4 --local_worker_num=4 $(which enhancenet-mindspore) train CONFIG ...  # data parallel
    enhancenet-mindspore eval CONFIG CHECKPOINT [--out DIR] [--set ...]
    enhancenet-mindspore predict CONFIG CHECKPOINT IMAGE [--boxes x,y,w,h ...] [--out FILE] [--joint K]
    enhancenet-mindspore export CONFIG CHECKPOINT OUT [--format mindir|onnx]
    enhancenet-mindspore synth OUT [--num-images N] [--seed S]

Verbs, flags, config resolution and error handling are enhancenet-core's (:mod:`enhancenet_runtime.engine.cli`), the
same in every framework; ``--mode`` is MindSpore's own. ``CHECKPOINT`` is a training checkpoint (``.ckpt``), plain
``.ckpt`` weights or canonical weights (``.safetensors``). Bad input exits with status 2 and one line naming the
file, field or box.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from enhancenet_runtime.engine.cli import (
    FrameworkCommands,
    build_parser,
    run_cli,
    run_evaluate,
    run_predict,
    run_train,
)

__all__ = ["build_mindspore_parser", "main"]

EXPORT_FORMATS = ("mindir", "onnx")


def _train(args: argparse.Namespace) -> int:
    from enhancenet_mindspore.train import train

    return run_train(args, train, mode=args.mode)


def _eval(args: argparse.Namespace) -> int:
    from enhancenet_mindspore.evaluate import evaluate_checkpoint

    return run_evaluate(args, evaluate_checkpoint, mode=args.mode)


def _predict(args: argparse.Namespace) -> int:
    from enhancenet_mindspore.predict import predict_image

    return run_predict(args, predict_image)


def _export(args: argparse.Namespace) -> int:
    from enhancenet_mindspore.checkpoint import load_model_weights
    from enhancenet_mindspore.export import export_mindir, export_onnx
    from enhancenet_mindspore.models import build_model

    cfg = args.cfg
    model = build_model(cfg.model)
    load_model_weights(model, args.checkpoint, cfg.model)
    exporter = export_onnx if args.format == "onnx" else export_mindir
    report = exporter(model, args.out, cfg.model.input_size)
    print(json.dumps({"path": str(report.path), "format": report.file_format,
                      "max_abs_diff": report.max_abs_diff, "scale": report.scale}, indent=2))
    return 0


def build_mindspore_parser() -> argparse.ArgumentParser:
    """The shared parser of :mod:`enhancenet_runtime.engine.cli` plus ``--mode`` on ``train`` and ``eval``."""
    from enhancenet_mindspore.checkpoint import CheckpointError

    parser = build_parser("enhancenet-mindspore", "EnhanceNet in MindSpore", FrameworkCommands(
        train=_train, evaluate=_eval, predict=_predict, export=_export, export_formats=EXPORT_FORMATS,
        extra_errors=(CheckpointError,), device_help="cpu, gpu or ascend, optionally :N (default: MindSpore's "
        "current device target)",
    ))  # fmt: skip
    for action in parser._subparsers._group_actions:  # argparse has no public accessor for sub-parsers
        for name in ("train", "eval"):
            action.choices[name].add_argument(
                "--mode", choices=("pynative", "graph"), default="pynative",
                help="PYNATIVE (eager) or GRAPH (compiled with mindspore.jit) execution",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``enhancenet-mindspore``; returns the exit status."""
    return run_cli(build_mindspore_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
