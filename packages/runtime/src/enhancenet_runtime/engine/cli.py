"""The command line every implementation shares: ``enhancenet-<framework> train|eval|predict|export|synth``.

A framework's ``cli.py`` only supplies the handlers that run its network::

    parser = build_parser("enhancenet-paddle", "EnhanceNet in PaddlePaddle", FrameworkCommands(
        train=_train, evaluate=_eval, predict=_predict, export=_export, export_formats=("paddle", "onnx")))
    return run_cli(parser, argv)

so verbs, flags, config resolution (a file or the name of a shipped config, with ``--set a.b=c`` overrides;
``eval --check-pycocotools`` is the override ``test.check_pycocotools=true``), box parsing, ``--version`` and the
error handling are the same everywhere.

Error handling, written once here (:func:`guard_main`, used by :func:`run_cli` and by ``enhancenet-convert``):
any failure on bad input (a missing or unreadable file, a config error, a bad box, a refused checkpoint, an
argument argparse refuses) prints exactly one line ``PROG COMMAND: error: ...`` naming the file or field and
exits with status 2, with no traceback; a missing optional dependency names the extra that installs it
(``pip install 'enhancenet-torch[plot]'``). ``predict`` checks its inputs before any model is built
(:func:`check_predict_inputs`): the image file's header size (:mod:`enhancenet_runtime.engine.inputs`), the
boxes against that size, and that the output would not replace the input image.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from enhancenet_core.config import Config, ConfigError, load_config, shipped_config_path

__all__ = [
    "BAD_INPUT_ERRORS",
    "OPTIONAL_EXTRAS",
    "FrameworkCommands",
    "MissingExtraError",
    "OneLineArgumentParser",
    "UsageError",
    "build_parser",
    "check_predict_inputs",
    "check_step_counts",
    "default_predict_out",
    "guard_main",
    "parse_boxes",
    "require_modules",
    "resolve_config",
    "run_cli",
    "run_evaluate",
    "run_predict",
    "run_train",
    "version_string",
]


class UsageError(ValueError):
    """Bad command-line input (printed as one line, exit status 2)."""


class MissingExtraError(UsageError):
    """An optional dependency is not installed; the message names the extra that installs it."""


#: optional module -> the extra (of enhancenet-torch / -paddle / -mindspore / -runtime) that installs it
OPTIONAL_EXTRAS: dict[str, str] = {
    "matplotlib": "plot", "onnx": "onnx", "onnxruntime": "onnx", "onnxscript": "onnx",
    "paddle2onnx": "onnx", "tensorboard": "tensorboard",
}  # fmt: skip

#: exceptions that mean "bad input" (a file, a field, an argument): one line, exit status 2
BAD_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ConfigError, UsageError, ValueError, RecursionError,
)  # fmt: skip


def _extra_message(exc: ImportError, distribution: str) -> str | None:
    name = (exc.name or "").split(".")[0]
    if name not in OPTIONAL_EXTRAS:
        name = next((m for m in OPTIONAL_EXTRAS if re.search(rf"\b{m}\b", str(exc))), "")
    if not name:
        return None
    return f"{name} is not installed; install the '{OPTIONAL_EXTRAS[name]}' extra: pip install '{distribution}[{OPTIONAL_EXTRAS[name]}]'"


def require_modules(names: Sequence[str], distribution: str) -> None:
    """Import each optional module now; :class:`MissingExtraError` naming the extra for the first missing one."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise MissingExtraError(_extra_message(exc, distribution) or f"{name} is not installed") from None


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    for ln in lines[1:]:
        text += (" " if text.endswith(":") else "; ") + ln
    return text


def guard_main(prog: str, body: Callable[[], int | None], errors: tuple[type[BaseException], ...] = (),
               distribution: str | None = None) -> int:
    """Run ``body``; bad input (:data:`BAD_INPUT_ERRORS` and ``errors``) -> one line ``PROG: error: ...`` on stderr
    and status 2; a missing optional module (:data:`OPTIONAL_EXTRAS`) -> one line naming the extra of
    ``distribution`` to install. Anything else is a bug and keeps its traceback."""
    try:
        return int(body() or 0)
    except ImportError as exc:
        msg = _extra_message(exc, distribution or prog.split()[0])
        if msg is None:
            raise
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
    except (*BAD_INPUT_ERRORS, *errors) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse with its refusals on one line (``PROG: error: MESSAGE (see PROG --help)``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def version_string(distribution: str, prog: str | None = None) -> str:
    """``enhancenet-torch 0.1.0 (enhancenet-runtime 0.1.0, enhancenet-core 0.1.0)``: ``prog`` (default the
    distribution's name), the distribution's package version and the shared ones."""
    import enhancenet_core
    import enhancenet_runtime

    module = distribution.replace("-", "_")
    try:
        own = getattr(importlib.import_module(module), "__version__", "unknown")
    except ImportError:
        own = "unknown"
    return f"{prog or distribution} {own} (enhancenet-runtime {enhancenet_runtime.__version__}, enhancenet-core {enhancenet_core.__version__})"


def resolve_config(spec: str, overrides: Sequence[str] = ()) -> Config:
    """Load ``spec`` (a file, or the name of a shipped config) with ``--set`` overrides applied."""
    path = Path(spec)
    if not path.is_file():
        if path.suffix or "/" in spec:
            raise FileNotFoundError(f"config file {spec} not found")
        path = shipped_config_path(spec)
    return load_config(path, overrides)


def parse_boxes(items: Sequence[str]) -> list[tuple[float, float, float, float]]:
    """``["x,y,w,h", ...]`` -> boxes; each needs four finite numbers with ``w, h > 0``."""
    boxes = []
    for item in items:
        parts = item.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4 or not all(v == v and abs(v) != float("inf") for v in values):
            raise UsageError(f"--boxes: expected x,y,w,h (four numbers), got {item!r}")
        if values[2] <= 0 or values[3] <= 0:
            raise UsageError(f"--boxes: width and height must be positive, got {item!r}")
        boxes.append((values[0], values[1], values[2], values[3]))
    if not boxes:
        raise UsageError("--boxes: give at least one box x,y,w,h")
    return boxes


def check_step_counts(args: argparse.Namespace) -> None:
    """``--max-steps`` must be >= 1 (a run of no step would exit 0 having done nothing) and
    ``--checkpoint-every`` >= 0 (0: only the regular checkpoints); raises :class:`UsageError`."""
    max_steps = getattr(args, "max_steps", None)
    if max_steps is not None and max_steps < 1:
        raise UsageError(f"--max-steps: expected an integer >= 1 (optimizer steps of the whole run), got {max_steps}")
    every = getattr(args, "checkpoint_every", None)
    if every is not None and every < 0:
        raise UsageError(f"--checkpoint-every: expected an integer >= 0 (0: no extra checkpoints), got {every}")


Handler = Callable[[argparse.Namespace], "int | None"]


@dataclass(frozen=True)
class FrameworkCommands:
    """The handlers a framework provides; each takes the parsed arguments and returns an exit status (or None).

    ``args.config`` is already resolved into ``args.cfg`` (a :class:`Config`) before a handler runs, and
    ``args.boxes`` into a list of ``(x, y, w, h)`` for ``predict``.
    """

    train: Handler
    evaluate: Handler
    predict: Handler
    export: Handler
    export_formats: tuple[str, ...] = ("onnx",)
    extra_errors: tuple[type[BaseException], ...] = ()
    device_help: str = "cpu, or an accelerator such as cuda / gpu:N (default: an accelerator when available)"
    extra_arguments: Callable[[str, argparse.ArgumentParser], object] | None = None
    """``(verb, subparser)``: adds a framework's own flags to a verb (e.g. Paddle's ``--engine`` for eval/predict);
    the handler passes them on as ``framework_kwargs``."""


def run_train(args: argparse.Namespace, train: Callable[..., Any], **framework_kwargs: Any) -> int:
    """The ``train`` verb for any framework: ``train(cfg, out_dir, device=, resume=, max_steps=, checkpoint_every=,
    validate=, progress=, **framework_kwargs)`` returning an object with ``checkpoint``, ``epoch``, ``step``,
    ``best_metric``, ``best_epoch``; the run directory defaults to ``runs/<config name>``."""
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = train(args.cfg, out, device=args.device, resume=not args.no_resume, max_steps=args.max_steps,
                   checkpoint_every=args.checkpoint_every, validate=not args.no_val, progress=not args.no_progress,
                   **framework_kwargs)
    if result.checkpoint is not None:
        print(f"trained to epoch {result.epoch}, step {result.step}; checkpoint {result.checkpoint}")
        if result.best_metric is not None:
            print(f"best validation metric {result.best_metric:.4f} at epoch {result.best_epoch}")
    return 0


def run_evaluate(args: argparse.Namespace, evaluate_checkpoint: Callable[..., Any], **framework_kwargs: Any) -> int:
    """The ``eval`` verb: ``evaluate_checkpoint(cfg, checkpoint, out_dir=, device=, progress=, **framework_kwargs)``
    returning the metrics dict of :func:`enhancenet_runtime.engine.evaluation.write_evaluation`; output defaults to
    ``<checkpoint dir>/eval``; prints the primary metric and where ``results.json`` is."""
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "eval"
    metrics = evaluate_checkpoint(args.cfg, args.checkpoint, out_dir=out, device=args.device,
                                  progress=not args.no_progress, **framework_kwargs)
    print(json.dumps({"metric_name": metrics["metric_name"], "metric": metrics["metric"],
                      "results": str(metrics.get("results_json", ""))}, indent=2))
    return 0


def default_predict_out(image: str | os.PathLike[str]) -> Path:
    """Where ``predict`` writes without ``--out``: ``runs/predict/<image name>.pose.png`` under the working
    directory (like ``train``'s ``runs/<config name>``), never beside the input image."""
    return Path("runs") / "predict" / Path(image).with_suffix(".pose.png").name


def run_predict(args: argparse.Namespace, predict_image: Callable[..., Any], **framework_kwargs: Any) -> int:
    """The ``predict`` verb: ``predict_image(cfg, checkpoint, image, boxes, out, device=, joint=)`` returning the
    files written; the picture defaults to :func:`default_predict_out` (``runs/predict/<image name>.pose.png``)."""
    out = Path(args.out) if args.out else default_predict_out(args.image)
    for path in predict_image(args.cfg, args.checkpoint, args.image, args.boxes, out, device=args.device,
                              joint=args.joint, **framework_kwargs):
        print(path)
    return 0


def _synth(args: argparse.Namespace) -> int:
    from enhancenet_runtime.data.synthetic import generate_synthetic_coco

    ds = generate_synthetic_coco(args.out, args.num_images, args.seed, image_size=(args.width, args.height),
                                 overwrite=args.overwrite, progress=not args.no_progress)
    for split in ds.annotation_files:
        print(f"{split}: {ds.num_images[split]} images, {ds.num_people[split]} people -> {ds.annotation_files[split]}")
    return 0


def build_parser(prog: str, description: str, commands: FrameworkCommands) -> argparse.ArgumentParser:
    """The shared parser: ``train``, ``eval``, ``predict``, ``export``, ``synth`` with the same flags everywhere."""
    parser = OneLineArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=version_string(prog))
    parser.set_defaults(_commands=commands)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("config", help="config file, or the name of a shipped config (e.g. synthetic_quick)")
        p.add_argument("--set", action="append", default=[], metavar="a.b=c",
                       help="override a config field (YAML value), repeatable")
        if device:
            p.add_argument("--device", default=None, help=commands.device_help)

    p = sub.add_parser("train", help="train a model (multi-process when launched by the framework's launcher)")
    common(p)
    p.add_argument("--out", help="run directory (default runs/<config name>)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps in total")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if the run directory has a checkpoint")
    p.add_argument("--no-val", action="store_true", help="skip validation after each epoch")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=commands.train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on the config's test split")
    common(p)
    p.add_argument("checkpoint", help="training checkpoint or canonical weights (.safetensors)")
    p.add_argument("--out", help="output directory (default: <checkpoint dir>/eval)")
    p.add_argument("--check-pycocotools", action="store_true",
                   help="COCO AP: also run pycocotools as a cross-check of our evaluator (slower; the same as "
                        "--set test.check_pycocotools=true)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=commands.evaluate)
    if commands.extra_arguments is not None:
        commands.extra_arguments("eval", p)

    p = sub.add_parser("predict", help="draw the predicted skeleton and the LR/HR heat maps of one image")
    common(p)
    p.add_argument("checkpoint")
    p.add_argument("image")
    p.add_argument("--boxes", nargs="+", default=None, metavar="x,y,w,h",
                   help="person boxes in image pixels (default: the whole image is one person)")
    p.add_argument("--out", help="output picture (default runs/predict/<image name>.pose.png)")
    p.add_argument("--joint", type=int, default=None, help="keypoint whose heat maps are shown (default: all)")
    p.set_defaults(func=commands.predict)
    if commands.extra_arguments is not None:
        commands.extra_arguments("predict", p)

    p = sub.add_parser("export", help=f"export the model ({', '.join(commands.export_formats)})")
    common(p, device=False)
    p.add_argument("checkpoint")
    p.add_argument("out", help="output file or directory")
    p.add_argument("--format", choices=commands.export_formats, default=commands.export_formats[0])
    p.set_defaults(func=commands.export)

    p = sub.add_parser("synth", help="generate the synthetic COCO-format data set")
    p.add_argument("out", help="data set root to create")
    p.add_argument("--num-images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_synth)
    return parser


def check_predict_inputs(args: argparse.Namespace, distribution: str) -> None:
    """``predict``'s inputs, before any model is built: matplotlib installed, the image file readable and within
    :data:`~enhancenet_runtime.engine.inputs.MAX_IMAGE_PIXELS`, every box finite, positive and sized to the image,
    and the output not the input image."""
    from enhancenet_runtime.engine.inputs import check_boxes_for_image, check_image_file

    require_modules(("matplotlib",), distribution)
    size = check_image_file(args.image)
    try:
        if args.boxes is not None:
            check_boxes_for_image(args.boxes, size)
    except ValueError as exc:
        raise UsageError(f"--boxes: {exc}") from None
    out = Path(args.out) if args.out else default_predict_out(args.image)
    if out.resolve() == Path(args.image).resolve():
        raise UsageError(f"--out {out}: that is the input image; choose another output file")


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, resolve the config and boxes, run the handler through :func:`guard_main` (bad input -> one
    line on stderr, exit 2)."""
    args = parser.parse_args(argv)
    commands: FrameworkCommands = args._commands

    def body() -> int:
        check_step_counts(args)
        if getattr(args, "config", None) is not None:
            # --check-pycocotools is the config field test.check_pycocotools, applied after the --set overrides
            overrides = [*args.set, *(["test.check_pycocotools=true"] if getattr(args, "check_pycocotools", False)
                                      else [])]
            args.cfg = resolve_config(args.config, overrides)
        if getattr(args, "boxes", None) is not None:
            args.boxes = parse_boxes(args.boxes)
        if args.command == "predict":
            check_predict_inputs(args, parser.prog)
        return int(args.func(args) or 0)

    return guard_main(f"{parser.prog} {args.command}", body, commands.extra_errors, distribution=parser.prog)
