"""``enhancenet-torch``: train, evaluate, predict, export and generate the synthetic data set.

    enhancenet-torch train CONFIG [--out DIR] [--set a.b=c ...] [--device cpu|cuda] [--max-steps N]
    torchrun --nproc_per_node=4 -m enhancenet_torch.cli train CONFIG ...    # DDP
    enhancenet-torch eval CONFIG CHECKPOINT [--out DIR] [--set ...]
    enhancenet-torch predict CONFIG CHECKPOINT IMAGE --boxes x,y,w,h [x,y,w,h ...] [--out FILE] [--joint K]
    enhancenet-torch export-onnx CONFIG CHECKPOINT OUT.onnx
    enhancenet-torch synth OUT [--num-images N] [--seed S]

``CONFIG`` is a YAML/JSON file or the name of a config shipped with enhancenet-core (``synthetic_quick``).
``CHECKPOINT`` is a training checkpoint (``.pt``) or canonical weights (``.safetensors``). Bad input (a missing
file, a config error, a checkpoint of another architecture, a box outside the image) exits with status 2 and a
one-line message naming what is wrong; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from enhancenet_core.config import Config, ConfigError, load_config, shipped_config_path

__all__ = ["main", "parse_boxes", "resolve_config"]


class UsageError(ValueError):
    """Bad command-line input (printed as one line, exit status 2)."""


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


def _cmd_train(args: argparse.Namespace) -> int:
    from enhancenet_torch.train import train

    cfg = resolve_config(args.config, args.set)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = train(cfg, out, device=args.device, resume=not args.no_resume, max_steps=args.max_steps,
                   checkpoint_every=args.checkpoint_every, validate=not args.no_val, progress=not args.no_progress)
    if result.checkpoint is not None:
        print(f"trained to epoch {result.epoch}, step {result.step}; checkpoint {result.checkpoint}")
        if result.best_metric is not None:
            print(f"best validation metric {result.best_metric:.4f} at epoch {result.best_epoch}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from enhancenet_torch.evaluate import evaluate_checkpoint

    cfg = resolve_config(args.config, args.set)
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "eval"
    metrics = evaluate_checkpoint(cfg, args.checkpoint, out_dir=out, device=args.device,
                                  progress=not args.no_progress)
    print(json.dumps({"metric_name": metrics["metric_name"], "metric": metrics["metric"],
                      "results": str(metrics.get("results_file", ""))}, indent=2))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from enhancenet_torch.predict import predict_image

    cfg = resolve_config(args.config, args.set)
    boxes = parse_boxes(args.boxes)
    out = Path(args.out) if args.out else Path(args.image).with_suffix(".pose.png")
    written = predict_image(cfg, args.checkpoint, args.image, boxes, out, device=args.device, joint=args.joint)
    for path in written:
        print(path)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.export import export_onnx
    from enhancenet_torch.models import build_model

    cfg = resolve_config(args.config, args.set)
    model = build_model(cfg.model)
    load_model_weights(model, args.checkpoint, cfg.model)
    report = export_onnx(model, args.out, cfg.model.input_size)
    print(report)
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from enhancenet_core.data.synthetic import generate_synthetic_coco

    ds = generate_synthetic_coco(args.out, args.num_images, args.seed, image_size=(args.width, args.height),
                                 overwrite=args.overwrite, progress=not args.no_progress)
    for split in ds.annotation_files:
        print(f"{split}: {ds.num_images[split]} images, {ds.num_people[split]} people -> {ds.annotation_files[split]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enhancenet-torch", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("config", help="config file, or the name of a shipped config (e.g. synthetic_quick)")
        p.add_argument("--set", action="append", default=[], metavar="a.b=c",
                       help="override a config field (YAML value), repeatable")
        if device:
            p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")

    p = sub.add_parser("train", help="train a model (DDP when launched by torchrun)")
    common(p)
    p.add_argument("--out", help="run directory (default runs/<config name>)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps in total")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if the run directory has a checkpoint")
    p.add_argument("--no-val", action="store_true", help="skip validation after each epoch")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on the config's test split")
    common(p)
    p.add_argument("checkpoint", help="training checkpoint (.pt) or canonical weights (.safetensors)")
    p.add_argument("--out", help="output directory (default: <checkpoint dir>/eval)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("predict", help="draw the predicted skeleton and the LR/HR heat maps of one image")
    common(p)
    p.add_argument("checkpoint")
    p.add_argument("image")
    p.add_argument("--boxes", nargs="+", required=True, metavar="x,y,w,h", help="person boxes in image pixels")
    p.add_argument("--out", help="output picture (default <image>.pose.png)")
    p.add_argument("--joint", type=int, default=None, help="keypoint whose heat maps are shown (default: all)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("export-onnx", help="export the model to ONNX (sub-pixel as DepthToSpace)")
    common(p, device=False)
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("synth", help="generate the synthetic COCO-format data set")
    p.add_argument("out", help="data set root to create")
    p.add_argument("--num-images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``enhancenet-torch``; returns the exit status."""
    from enhancenet_torch.checkpoint import CheckpointError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, FileExistsError, ConfigError, CheckpointError, UsageError) as exc:
        print(f"enhancenet-torch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad data or arguments detected by our checks (they name the field or file)
        print(f"enhancenet-torch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
