"""``enhancenet-torch``: train, evaluate, predict, export and generate the synthetic data set.

    enhancenet-torch train CONFIG [--out DIR] [--set a.b=c ...] [--device cpu|cuda] [--max-steps N]
    torchrun --nproc_per_node=4 -m enhancenet_torch.cli train CONFIG ...    # DDP
    enhancenet-torch eval CONFIG CHECKPOINT [--out DIR] [--set ...]
    enhancenet-torch predict CONFIG CHECKPOINT IMAGE [--boxes x,y,w,h ...] [--out FILE] [--joint K]
    enhancenet-torch export CONFIG CHECKPOINT OUT.onnx [--format onnx]
    enhancenet-torch synth OUT [--num-images N] [--seed S]

The verbs, flags, config resolution, box parsing and error handling are the shared command line of
:mod:`enhancenet_runtime.engine.cli` (the same in every framework); this module supplies the handlers that run
the PyTorch network. Under ``torchrun`` the ``train`` verb runs DDP (the process group comes from torchrun's
environment, see :mod:`enhancenet_torch.train`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from enhancenet_runtime.engine.cli import (
    FrameworkCommands,
    build_parser,
    run_cli,
    run_evaluate,
    run_predict,
    run_train,
)

__all__ = ["COMMANDS", "main", "parser"]


def _train(args: argparse.Namespace) -> int:
    from enhancenet_torch.train import train

    return run_train(args, train)


def _eval(args: argparse.Namespace) -> int:
    from enhancenet_torch.evaluate import evaluate_checkpoint

    return run_evaluate(args, evaluate_checkpoint)


def _predict(args: argparse.Namespace) -> int:
    from enhancenet_torch.predict import predict_image

    return run_predict(args, predict_image)


def _export(args: argparse.Namespace) -> int:
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.export import export_onnx
    from enhancenet_torch.models import build_model

    model = build_model(args.cfg.model)
    load_model_weights(model, args.checkpoint, args.cfg.model)
    print(export_onnx(model, args.out, args.cfg.model.input_size))
    return 0


def _commands() -> FrameworkCommands:
    from enhancenet_torch.checkpoint import CheckpointError

    return FrameworkCommands(
        train=_train, evaluate=_eval, predict=_predict, export=_export, export_formats=("onnx",),
        extra_errors=(CheckpointError,), device_help="cpu, cuda or cuda:N (default: cuda when available)",
    )


COMMANDS = _commands()


def parser() -> argparse.ArgumentParser:
    """The shared parser with the PyTorch handlers."""
    return build_parser("enhancenet-torch", "EnhanceNet in PyTorch (DDP when launched by torchrun)", COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``enhancenet-torch``; returns the exit status (2 with a one-line message on bad input)."""
    return run_cli(parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
