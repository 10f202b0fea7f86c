"""``enhancenet-spec``: validate configs, print the JSON Schema, list shipped configs, count head complexity.

    enhancenet-spec validate CONFIG [--set model.head.upscale=2 ...]
    enhancenet-spec schema [--out FILE]
    enhancenet-spec list-configs
    enhancenet-spec complexity CONFIG [--json] [--feature-channels N] [--set ...]

``CONFIG`` is a path or the name of a shipped config (``coco_hrnet_w32_256x192_enhancenet``).
Exit status: 0 on success, 2 on an invalid config, a missing or unreadable file or bad arguments, with one line
on stderr naming the file and field; anything else (a bug) keeps its traceback.

Sub-commands set ``func`` (``args -> int | None``) with ``parser.set_defaults``; the evaluation sub-commands
come from :func:`enhancenet_runtime.cli_eval.register` and follow the same contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.complexity import feature_channels, format_complexity_table, head_complexity
from enhancenet_core.config import (
    Config,
    ConfigError,
    _atomic_write_text,
    config_json_schema,
    list_shipped_configs,
    load_config,
    shipped_config_path,
)
from enhancenet_runtime import __version__, cli_eval
from enhancenet_runtime.engine.cli import OneLineArgumentParser

EXIT_INVALID = 2


def _resolve_config_path(name: str) -> Path:
    """A path that exists, else a shipped config of that name (FileNotFoundError when neither)."""
    path = Path(name)
    if path.is_file():
        return path
    if path.parent == Path(".") and not path.exists():
        try:
            return shipped_config_path(name)
        except FileNotFoundError:
            pass
    raise FileNotFoundError(f"config file {name} not found (neither a file nor a shipped config name)")


def _load(args: argparse.Namespace) -> Config:
    return load_config(_resolve_config_path(args.config), overrides=args.set or ())


def _summary(cfg: Config) -> str:
    m, head = cfg.model, cfg.model.head
    base = m.base
    detail = {
        "simple_baseline": f"ResNet-{base.depth}",
        "cpn": f"ResNet-{base.depth}",
        "hrnet": f"W{base.width}",
        "hourglass": f"{base.stages} stages",
        "dlcm": f"3 levels, 5 stacks, C={base.hourglass_channels}",
    }[base.name.value]
    lr_w, lr_h = m.heatmap_size
    lines = [
        f"  model:    {base.name.value} ({detail}), K={m.num_keypoints}, input {m.input_size[1]}x{m.input_size[0]} "
        f"(HxW), M^LR {lr_h}x{lr_w} (stride {m.heatmap_stride})",
    ]
    if head.enabled:
        hr_w, hr_h = heatmap_codecs(cfg).hr.heatmap_size
        lines.append(
            f"  head:     EnhanceNet L={head.num_layers}, C={head.channels}, r={head.upscale}, "
            f"{head.upsampler.value} k{head.upsampler_kernel}, inputs={head.inputs.value}, M^HR {hr_h}x{hr_w}, "
            f"eta={cfg.loss.hr_weight:g}"
        )
    else:
        lines.append("  head:     none (base model only)")
    lines += [
        f"  target:   sigma={cfg.target.sigma:g} (HR: r*sigma), convention={cfg.target.convention.value}",
        f"  data:     {cfg.data.dataset} ({cfg.data.train_set} / {cfg.data.test_set})",
        f"  train:    {cfg.train.optimizer} lr={cfg.train.lr:g}, steps {list(cfg.train.lr_steps)}, "
        f"{cfg.train.epochs} epochs, batch {cfg.train.batch_size}",
        f"  test:     flip_test={cfg.test.flip_test}, decoder={cfg.test.decoder.value}",
    ]
    return "\n".join(lines)


def _cmd_validate(args: argparse.Namespace) -> int:
    cfg = _load(args)
    print(f"OK: {args.config}")
    print(_summary(cfg))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(config_json_schema(), indent=2) + "\n"
    if args.out:
        _atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for name in list_shipped_configs(include_partials=args.all):
        first = shipped_config_path(name).read_text(encoding="utf-8").splitlines()[:1]
        desc = first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""
        print(f"{name:<52}{desc}".rstrip())
    return 0


def _cmd_complexity(args: argparse.Namespace) -> int:
    cfg = _load(args)
    if args.feature_channels is not None and args.feature_channels < 1:
        raise ConfigError("--feature-channels", f"expected an integer >= 1, got {args.feature_channels}")
    f_channels = args.feature_channels if args.feature_channels is not None else feature_channels(cfg.model.base)
    hc = head_complexity(cfg.model, f_channels)
    if args.json:
        print(json.dumps({"config": args.config, "enabled": cfg.model.head.enabled, **hc.to_dict()}, indent=2))
        return 0
    head = cfg.model.head
    if not head.enabled:
        print(f"{args.config}: EnhanceNet is disabled (model.head.enabled=false); the head adds 0 parameters.")
        return 0
    lr_w, lr_h = hc.lr_size
    hr_w, hr_h = hc.hr_size
    k = cfg.model.num_keypoints
    parts = {
        "features": f"F^LR {f_channels} channels",
        "heatmaps": f"M^LR {k} channels",
        "both": f"F^LR {f_channels} + M^LR {k} = {hc.input_channels} channels",
    }
    title = (
        f"EnhanceNet head of {args.config}\n"
        f"L={head.num_layers}, C={head.channels}, r={head.upscale}, upsampler={head.upsampler.value} "
        f"k{head.upsampler_kernel}, inputs={head.inputs.value} ({parts[head.inputs.value]}), "
        f"M^LR {lr_h}x{lr_w} -> M^HR {hr_h}x{hr_w}"
    )
    print(format_complexity_table(hc, title))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``enhancenet-spec`` argument parser (core sub-commands plus the evaluation ones)."""
    parser = OneLineArgumentParser(  # a bad argument: one line, exit 2
        prog="enhancenet-spec",
        description="EnhanceNet (belief map enhancement for pose estimation) spec tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add_config_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="config file (.yaml/.json) or shipped config name")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="dotted override, value parsed as YAML (repeatable), e.g. model.head.upscale=2",
        )

    p = sub.add_parser("validate", help="load and validate a config; print a summary")
    add_config_args(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema (draft 2020-12) of config files")
    p.add_argument("--out", help="write the schema to this file instead of stdout")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("list-configs", help="list the configs shipped with enhancenet-core")
    p.add_argument("--all", action="store_true", help="also list partial bases (names starting with _)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("complexity", help="#Params and GFLOPs of the EnhanceNet head (as in Table 5)")
    add_config_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--feature-channels",
        type=int,
        default=None,
        metavar="N",
        help="channels of F^LR (default: from the base model)",
    )
    p.set_defaults(func=_cmd_complexity)

    cli_eval.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``enhancenet-spec``; returns the exit status (argparse errors raise ``SystemExit(2)``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except ConfigError as exc:  # every problem of a config file or --set override, naming the field and file
        print(f"error: invalid config: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:  # a file named on the command line is missing, unreadable or cannot be written
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID
    return 0 if status is None else int(status)


def _one_line(exc: BaseException) -> str:
    """The message on one line (a file name or value could hold a line break)."""
    return " ".join(str(exc).splitlines())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
