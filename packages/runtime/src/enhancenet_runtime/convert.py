"""``enhancenet-convert``: weights between torch, paddle and mindspore checkpoints and canonical safetensors.

    enhancenet-convert SRC DST [--config CONFIG] [--torch-python PY] [--paddle-python PY] [--mindspore-python PY]
                       [--verify] [--trust-pickle]

Formats by suffix: ``.safetensors`` canonical (names of :mod:`enhancenet_core.namemap`), ``.pt`` / ``.pth``
PyTorch state dict, ``.pdparams`` Paddle state dict, ``.ckpt`` MindSpore checkpoint (``mindspore.save_checkpoint``,
MindSpore parameter names; back end :mod:`enhancenet_mindspore.convert`).

Every conversion goes through the canonical format and each framework's own back end, run as a subprocess
``PY -m enhancenet_<framework>.convert ...`` with that framework's interpreter (``--torch-python``,
``--paddle-python``, ``--mindspore-python``; default ``sys.executable``). So this module never imports a framework, and no framework imports another:
torch -> paddle is torch -> canonical (torch's interpreter) then canonical -> paddle (paddle's). The back ends
check the architecture and every tensor's shape with their weights modules (which use the name map) and
refuse with a message listing the offending tensors; that message is passed through in :class:`ConvertError`.

The model configuration comes from ``--config`` (a config file or a shipped config name; its ``model``
section), else from the source file's own record (the canonical header's ``model_config``, the metadata the
back ends store in native checkpoints).

``--verify``: both ends load their weights, run a forward pass on the same seeded random input
(``N(0, 1)``, shape (1, 3, H, W) of the model's input size, float32) in eval mode and save M^LR / M^HR;
the max absolute difference per output, relative to max(1, max |output|), is reported.

Pickle: a ``.pt`` / ``.pth`` / ``.pdparams`` source (or any file with a pickle or zip signature) is refused with
one line, exit status 2, nothing unpickled, unless ``--trust-pickle`` is given. That flag is the explicit opt-in
for a file the user trusts (e.g. an official HRNet ``.pth``): the source's back end then unpickles it, which runs
any code the file holds. It is never the default and never a fallback; every other enhancenet command reads
only ``.safetensors`` (canonical weights and training checkpoints).

Python API: :func:`convert_weights` (returns :class:`ConvertResult`), :func:`read_canonical_header`.
Exit status: 0 on success, 2 on bad arguments / unreadable input / refused conversion, 1 on a failed
``--verify`` tolerance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enhancenet_core import canonical
from enhancenet_core.canonical import model_config_json, read_canonical_metadata
from enhancenet_core.config import ConfigError, ModelConfig, load_config
from enhancenet_core.safetensors_io import PICKLE_SUFFIXES, check_not_pickle, read_safetensors
from enhancenet_runtime.engine.safe_checkpoint import CHECKPOINT_KEY

__all__ = [
    "BACKENDS",
    "FORMATS",
    "ConvertError",
    "ConvertResult",
    "convert_weights",
    "format_of",
    "main",
    "model_config_from_json",
    "model_config_to_json",
    "read_canonical_header",
]

CANONICAL = "canonical"
#: file suffix -> format (a framework key, or "canonical")
FORMATS: dict[str, str] = {
    ".safetensors": CANONICAL,
    ".pt": "torch",
    ".pth": "torch",
    ".pdparams": "paddle",
    ".ckpt": "mindspore",
}
#: framework key -> back-end module run as ``python -m``
BACKENDS: dict[str, str] = {
    "torch": "enhancenet_torch.convert",
    "paddle": "enhancenet_paddle.convert",
    "mindspore": "enhancenet_mindspore.convert",
}
#: default --verify limit on max |difference| / max(1, max |output|) of float32 outputs
VERIFY_TOLERANCE = 1e-4


class ConvertError(ValueError):
    """A conversion was refused or failed; the message names the file, tensor or setting."""


@dataclass(frozen=True)
class ConvertResult:
    """What :func:`convert_weights` did: the steps run and, with ``verify``, max |difference| per output."""

    src: Path
    dst: Path
    steps: tuple[str, ...]
    max_abs_diff: dict[str, float] = field(default_factory=dict)


def format_of(path: str | os.PathLike[str]) -> str:
    """The format of a weight file from its suffix (ConvertError naming the suffix otherwise)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConvertError(f"{path}: unknown weight format {suffix!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[suffix]


def read_canonical_header(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (no tensor is read): :func:`enhancenet_core.canonical.read_canonical_metadata`.

    Raises FileNotFoundError for a missing file and ConvertError naming the file when it is not safetensors.
    """
    try:
        return read_canonical_metadata(path)
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise ConvertError(str(exc)) from exc


def model_config_to_json(model_cfg: ModelConfig) -> str:
    """The model configuration as compact JSON with sorted keys (as the canonical header stores it):
    :func:`enhancenet_core.canonical.model_config_json`."""
    return model_config_json(model_cfg)


def model_config_from_json(text: str, source: str = "model_config") -> ModelConfig:
    """:func:`enhancenet_core.canonical.model_config_from_json`, raising :class:`ConvertError`."""
    try:
        return canonical.model_config_from_json(text, source)
    except ValueError as exc:
        raise ConvertError(str(exc)) from exc


def _resolve_model_config(config: str | os.PathLike[str] | ModelConfig | None) -> ModelConfig | None:
    if config is None or isinstance(config, ModelConfig):
        return config
    path = Path(config)
    if not path.is_file():
        from enhancenet_core.config import shipped_config_path

        try:
            path = shipped_config_path(str(config))
        except (FileNotFoundError, ValueError) as exc:
            raise ConvertError(f"--config {config}: neither a file nor a shipped config name") from exc
    try:
        return load_config(path).model
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise ConvertError(f"--config {config}: {exc}") from exc


def _check_canonical_source(path: Path) -> None:
    """Every header entry of a canonical source fits the file, and every float tensor is finite."""
    try:
        tensors, _ = read_safetensors(path)
    except ValueError as exc:
        raise ConvertError(str(exc)) from exc
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise ConvertError(f"{path}: tensor {name!r} holds {bad} NaN/inf value(s) of {arr.size}; "
                               "non-finite weights are not converted")


def _checkpoint_framework(path: Path) -> str | None:
    """The framework whose training checkpoint a ``.safetensors`` file holds (``format``
    ``enhancenet-<framework>-checkpoint`` in its JSON header), or ``None`` for canonical weights."""
    if not path.is_file():
        return None
    try:
        meta = read_canonical_header(path)
    except ConvertError:
        return None  # unreadable: refused below as canonical weights
    if CHECKPOINT_KEY not in meta:
        return None
    try:
        structure = json.loads(meta[CHECKPOINT_KEY])
        fmt = structure.get("format") if isinstance(structure, dict) else None
    except (ValueError, RecursionError) as exc:
        raise ConvertError(f"{path}: a training checkpoint with a corrupt header ({exc})") from exc
    fw = next((f for f in BACKENDS if fmt == f"enhancenet-{f}-checkpoint"), None)
    if fw is None:
        raise ConvertError(f"{path}: a training checkpoint of unknown format {fmt!r}")
    return fw


def _run_backend(framework: str, python: str, args: Sequence[str]) -> str:
    if framework not in BACKENDS:
        raise ConvertError(f"no converter back end for {framework!r}")
    cmd = [python, "-m", BACKENDS[framework], *args]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    env.setdefault("GLOG_minloglevel", "2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise ConvertError(f"cannot run the {framework} interpreter {python!r}: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        if len(err) > 20:  # keep the back end's first lines (what is wrong) and its last ones
            err = [*err[:10], f"... ({len(err) - 20} more lines)", *err[-10:]]
        tail = "\n".join(err) if err else proc.stdout.strip()
        if "No module named" in tail and BACKENDS[framework].split(".")[0] in tail:
            tail = (f"{BACKENDS[framework].split('.')[0]} is not installed for {python}; "
                    f"pass --{framework}-python with an interpreter that has it\n{tail}")
        raise ConvertError(f"{framework} back end refused ({' '.join(cmd[1:4])} ...):\n{tail}")
    return proc.stdout


def convert_weights(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    config: str | os.PathLike[str] | ModelConfig | None = None,
    pythons: Mapping[str, str] | None = None,
    verify: bool = False,
    seed: int = 0,
    trust_pickle: bool = False,
) -> ConvertResult:
    """Convert ``src`` to ``dst`` (formats from the suffixes) through canonical safetensors.

    Args:
        src, dst: weight files; ``dst`` is written atomically by the back end, nothing on failure.
        config: model configuration (a :class:`ModelConfig`, a config file, a shipped config name) or None
            to take it from ``src``'s own record.
        pythons: framework -> interpreter that has that framework (default ``sys.executable``).
        verify: run both ends on the same seeded input and fill ``max_abs_diff``.
        seed: seed of the verification input.
        trust_pickle: read a pickle source (``.pt`` / ``.pth`` / ``.pdparams``): its back end unpickles it, which
            runs any code it holds; without it such a source is refused unread.
    """
    src_p, dst_p = Path(src), Path(dst)
    if src_p.is_file() and not trust_pickle:  # first: a .pdckpt is a pickle before it is an unknown format
        try:
            check_not_pickle(src_p)
        except ValueError as exc:
            raise ConvertError(str(exc)) from exc
    src_fmt, dst_fmt = format_of(src_p), format_of(dst_p)
    if not src_p.is_file():
        raise ConvertError(f"source weight file {src_p} not found")
    trust = ["--trust-pickle"] if trust_pickle else []
    if src_p.resolve() == dst_p.resolve():
        raise ConvertError(f"source and destination are the same file {src_p}")
    if not dst_p.parent.is_dir():
        raise ConvertError(f"destination directory {dst_p.parent} does not exist")
    pythons = dict(pythons or {})
    model_cfg = _resolve_model_config(config)
    ckpt_fw = _checkpoint_framework(src_p) if src_fmt == CANONICAL else None
    if src_fmt == CANONICAL and ckpt_fw is None:
        try:
            meta = read_canonical_header(src_p)
        except ConvertError:
            if model_cfg is None:
                raise
            meta = {}  # unreadable: the back end refuses the file itself
        if model_cfg is None and "model_config" not in meta:
            foreign = "" if "format" in meta else (" (a checkpoint of another code base, e.g. mmpose: pass the "
                                                   "config of its base model)")
            raise ConvertError(f"{src_p}: no model_config in the header; pass --config{foreign}")
        if "model_config" in meta:  # a damaged record is refused even when --config overrides it
            recorded = model_config_from_json(meta["model_config"], f"{src_p} header model_config")
            model_cfg = model_cfg if model_cfg is not None else recorded
        _check_canonical_source(src_p)
    cfg_args = ["--model-config", model_config_to_json(model_cfg)] if model_cfg is not None else []

    def py(fw: str) -> str:
        return pythons.get(fw) or sys.executable

    steps: list[str] = []
    with tempfile.TemporaryDirectory(prefix="enhancenet-convert-") as tmp:
        if ckpt_fw is not None and not (dst_fmt == CANONICAL or dst_fmt == ckpt_fw):
            # a training checkpoint is read by the framework that wrote it: its model to canonical first
            mid = Path(tmp) / "checkpoint.safetensors"
            _run_backend(ckpt_fw, py(ckpt_fw), ["convert", str(src_p), str(mid), *cfg_args])
            steps.append(f"{ckpt_fw}: {src_p.name} -> canonical")
            src_p, ckpt_fw = mid, None
        if src_fmt == CANONICAL and dst_fmt == CANONICAL and ckpt_fw is not None:
            _run_backend(ckpt_fw, py(ckpt_fw), ["convert", str(src_p), str(dst_p), *cfg_args])
            steps.append(f"{ckpt_fw}: {src_p.name} -> {dst_p.name}")
        elif src_fmt == CANONICAL and dst_fmt == CANONICAL:
            # re-check and rewrite (e.g. into the config's shuffle order) with any framework that is installed
            fw = next((f for f in ("torch", "paddle", "mindspore") if f in pythons), "torch")
            _run_backend(fw, py(fw), ["convert", str(src_p), str(dst_p), *cfg_args, *trust])
            steps.append(f"{fw}: {src_p.name} -> {dst_p.name}")
        elif src_fmt == CANONICAL or dst_fmt == CANONICAL:
            fw = dst_fmt if src_fmt == CANONICAL else src_fmt
            _run_backend(fw, py(fw), ["convert", str(src_p), str(dst_p), *cfg_args, *trust])
            steps.append(f"{fw}: {src_p.name} -> {dst_p.name}")
        else:
            mid = Path(tmp) / "canonical.safetensors"
            _run_backend(src_fmt, py(src_fmt), ["convert", str(src_p), str(mid), *cfg_args, *trust])
            steps.append(f"{src_fmt}: {src_p.name} -> canonical")
            _run_backend(dst_fmt, py(dst_fmt), ["convert", str(mid), str(dst_p), *cfg_args])
            steps.append(f"{dst_fmt}: canonical -> {dst_p.name}")
        diffs: dict[str, float] = {}
        if verify:
            diffs = _verify(src_p, src_fmt, dst_p, dst_fmt, cfg_args, py, seed, Path(tmp), trust)
            steps.append("verify")
    return ConvertResult(src_p, dst_p, tuple(steps), diffs)


def _verify(src: Path, src_fmt: str, dst: Path, dst_fmt: str, cfg_args: list[str], py, seed: int, tmp: Path,
            trust: list[str]) -> dict[str, float]:
    """Each end runs in its own framework (a canonical end runs in the other end's framework)."""
    frameworks = [src_fmt, dst_fmt]
    for i in (0, 1):
        if frameworks[i] == CANONICAL:
            other = frameworks[1 - i]
            frameworks[i] = other if other != CANONICAL else "torch"
    outs = []
    for i, (path, fw) in enumerate(zip((src, dst), frameworks, strict=True)):
        out_dir = tmp / f"verify{i}"
        out_dir.mkdir()
        # the source: as the user trusted it; the destination: the file this call's own back end just wrote
        extra = trust if i == 0 else (["--trust-pickle"] if path.suffix.lower() in PICKLE_SUFFIXES else [])
        _run_backend(fw, py(fw), ["verify", str(path), "--out", str(out_dir), "--seed", str(seed), *cfg_args, *extra])
        outs.append({p.stem: np.load(p) for p in sorted(out_dir.glob("*.npy"))})
    a, b = outs
    if set(a) != set(b):
        raise ConvertError(f"--verify: the two ends produced different outputs {sorted(a)} vs {sorted(b)}")
    out = {}
    for k in sorted(a):
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        out[k] = float(np.max(np.abs(x - y)) / max(1.0, float(np.max(np.abs(x)))))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from enhancenet_runtime.engine.cli import OneLineArgumentParser, guard_main, version_string

    parser = OneLineArgumentParser(
        prog="enhancenet-convert",
        description="Convert EnhanceNet weights between torch (.pt/.pth), paddle (.pdparams), mindspore (.ckpt) "
        "and canonical safetensors, through each framework's own back end.",
    )
    parser.add_argument("--version", action="version", version=version_string("enhancenet-runtime", "enhancenet-convert"))
    parser.add_argument("src", help="source weight file")
    parser.add_argument("dst", help="destination weight file (format from its suffix)")
    parser.add_argument("--config", help="config file or shipped config name (default: the source's own record)")
    for fw in BACKENDS:
        parser.add_argument(f"--{fw}-python", default=None, help=f"interpreter with enhancenet-{fw} (default: this one)")
    parser.add_argument("--verify", action="store_true", help="run both ends on a seeded random input, report max |diff|")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --verify input")
    parser.add_argument("--tolerance", type=float, default=VERIFY_TOLERANCE, help="--verify fails above this max |diff|")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read a pickle source (.pt/.pth/.pdparams); unpickling runs any code the file holds, "
                        "so only for a file you trust (refused without this flag)")
    args = parser.parse_args(argv)
    pythons = {fw: getattr(args, f"{fw}_python") for fw in BACKENDS if getattr(args, f"{fw}_python")}

    def body() -> int:
        result = convert_weights(args.src, args.dst, args.config, pythons, verify=args.verify, seed=args.seed,
                                 trust_pickle=args.trust_pickle)
        for step in result.steps:
            print(step)
        if args.verify:
            worst = max(result.max_abs_diff.values(), default=0.0)
            for k, v in result.max_abs_diff.items():
                print(f"max |diff| / max(1, max |{k}|): {v:.3g}")
            if worst > args.tolerance:
                print(f"enhancenet-convert: verify failed: max |diff| {worst:.3g} > {args.tolerance:.3g}",
                      file=sys.stderr)
                return 1
        print(f"wrote {result.dst}")
        return 0

    return guard_main("enhancenet-convert", body, (ConvertError,), distribution="enhancenet-runtime")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
