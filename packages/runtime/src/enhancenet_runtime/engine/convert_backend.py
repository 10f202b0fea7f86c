"""The framework back end of ``enhancenet-convert``, once: argument parser, convert and verify flows.

Every ``python -m enhancenet_<framework>.convert`` is this module run with the framework's
:class:`FrameworkIO` (how to build its model, read and write its native file, and run a forward pass)::

    python -m enhancenet_<fw>.convert convert SRC DST [--model-config JSON] [--trust-pickle]
    python -m enhancenet_<fw>.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON] [--trust-pickle]

``SRC`` / ``DST``: canonical ``.safetensors``, a training checkpoint (``.safetensors`` whose header holds one:
its model weights are read) or one of the framework's native suffixes. The model configuration is
``--model-config`` or the one the source file records (a file recording none is refused).

A pickle source (PyTorch ``.pt`` / ``.pth``, Paddle ``.pdparams``, or any file with a pickle / zip signature) is
refused with one line unless ``--trust-pickle`` is given: the explicit opt-in, typed by a user who trusts the file,
under which the framework's unpickling loader reads it. Never the default, never a fallback.
A ``.safetensors`` source without the canonical header (and no training checkpoint) is read as another code
base's checkpoint (mmpose, HRNet repository, bearpaw; :mod:`enhancenet_core.foreign_names`): its names are mapped
and checked, and it is loaded through a temporary canonical file, the same way in every framework (base-model
configs only).
``verify`` loads the weights, runs the model in eval mode on ``N(0, 1)`` input of shape (1, 3, H, W) drawn by
NumPy from ``--seed`` (:func:`seeded_input`: the same input in every back end) and saves ``lr.npy`` /
``hr.npy`` (float32) in ``DIR``. Exit status 2 with the error on stderr when refused.
:mod:`enhancenet_runtime.convert` runs these back ends as subprocesses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core import foreign_names
from enhancenet_core.canonical import (
    model_config_from_json,
    read_canonical_metadata,
    read_safetensors,
    save_canonical_arrays,
)
from enhancenet_core.config import ModelConfig
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_runtime.engine.safe_checkpoint import CHECKPOINT_KEY

__all__ = [
    "CANONICAL_SUFFIX",
    "FrameworkIO",
    "build_model_for",
    "check_source",
    "convert",
    "is_foreign_safetensors",
    "load_any",
    "load_foreign_safetensors",
    "model_config_from",
    "run_backend",
    "save_any",
    "seeded_input",
    "verify_outputs",
]

CANONICAL_SUFFIX = ".safetensors"
#: the errors a back end reports as "refused" (exit status 2) rather than a crash
_REFUSALS = (ValueError, FileNotFoundError, TypeError)


@dataclasses.dataclass(frozen=True)
class FrameworkIO:
    """What one framework supplies to the shared converter back end (``model`` is the framework's PoseModel).

    Attributes:
        prog: the module run, e.g. ``"enhancenet_torch.convert"`` (usage line and error prefix).
        native_suffixes: the framework's own weight-file suffixes, e.g. ``(".pt", ".pth")``.
        build_model: ``ModelConfig -> model`` (the framework's ``build_model``).
        load_canonical / save_canonical: ``(model, path, model_cfg)``; the framework's ``weights`` functions.
        load_native / save_native: ``(model, path, model_cfg)`` for a native file; checks every name and shape.
            A pickle-based native file reaches ``load_native`` only behind ``--trust-pickle``.
        native_model_config: ``path -> JSON text or None``: the model configuration a native file records
            (for a pickle-based one, also only behind ``--trust-pickle``).
        load_checkpoint_weights: ``(model, path, model_cfg)``: the model weights of one of the framework's
            safetensors training checkpoints (``None``: such files are refused).
        forward: ``(model, x (1, 3, H, W) float32) -> {"lr": (1, K, h, w), "hr": (1, K, rh, rw)}`` NumPy arrays,
            the model in eval mode without gradients.
        setup: called once before any work (device / threads / execution mode).
    """

    prog: str
    native_suffixes: tuple[str, ...]
    build_model: Callable[[ModelConfig], Any]
    load_canonical: Callable[[Any, Path, ModelConfig], Any]
    save_canonical: Callable[[Any, Path, ModelConfig], Any]
    load_native: Callable[[Any, Path, ModelConfig], Any]
    save_native: Callable[[Any, Path, ModelConfig], Any]
    native_model_config: Callable[[Path], str | None]
    forward: Callable[[Any, np.ndarray], Mapping[str, np.ndarray]]
    setup: Callable[[], None] = lambda: None
    load_checkpoint_weights: Callable[[Any, Path, ModelConfig], Any] | None = None

    # The framework module's public functions, bound to this framework (``convert = TORCH_IO.convert``, ...).
    def build(self, model_cfg: ModelConfig) -> Any:
        """The model of ``model_cfg`` without loading any pretrained backbone (its weights come from the file)."""
        return build_model_for(self, model_cfg)

    def load_any(self, model: Any, path: str | os.PathLike[str], model_cfg: ModelConfig,
                 trust_pickle: bool = False) -> None:
        """Load a canonical or native file into ``model`` (by suffix), every name and shape checked first."""
        load_any(self, model, Path(path), model_cfg, trust_pickle)

    def save_any(self, model: Any, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
        """Write ``model`` as a canonical or native file (by suffix), atomically."""
        save_any(self, model, Path(path), model_cfg)

    def convert(self, src: str | os.PathLike[str], dst: str | os.PathLike[str],
                model_cfg: ModelConfig | None = None, trust_pickle: bool = False) -> None:
        """``src`` -> ``dst`` through this framework's model of the configuration (see :func:`convert`)."""
        convert(self, src, dst, model_cfg, trust_pickle)

    def verify_outputs(self, weights: str | os.PathLike[str], out_dir: str | os.PathLike[str], seed: int,
                       model_cfg: ModelConfig | None = None, trust_pickle: bool = False) -> dict[str, np.ndarray]:
        """Eval-mode outputs on the seeded input, saved as ``<name>.npy`` (see :func:`verify_outputs`)."""
        return verify_outputs(self, weights, out_dir, seed, model_cfg, trust_pickle)

    def main(self, argv: Sequence[str] | None = None) -> int:
        """``python -m <prog>``: 0 on success, 2 when refused (the error on stderr)."""
        return run_backend(argv, self)

    def _suffix_error(self, path: Path) -> ValueError:
        wanted = ", ".join((CANONICAL_SUFFIX, *self.native_suffixes))
        return ValueError(f"{path}: expected one of {wanted}")


def check_source(io: FrameworkIO, path: Path, trust_pickle: bool) -> None:
    """Refuse (:class:`~enhancenet_core.safetensors_io.PickleRefusedError`, one line) a pickle source without
    ``trust_pickle``, before anything reads it."""
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    if not trust_pickle:
        check_not_pickle(path)


def _checkpoint_model_config(path: Path) -> str | None:
    """The model configuration a safetensors training checkpoint records (its JSON ``config.model``)."""
    meta = read_canonical_metadata(path)
    if CHECKPOINT_KEY not in meta:
        return None
    try:
        model = json.loads(meta[CHECKPOINT_KEY])["config"]["model"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ValueError(f"{path}: a training checkpoint without a readable config.model ({exc})") from exc
    return json.dumps(model)


def model_config_from(io: FrameworkIO, path: Path, given: ModelConfig | None, trust_pickle: bool = False) -> ModelConfig:
    """``given``, else the configuration ``path`` records; ValueError naming the file when it records none, or
    when a canonical file's recorded configuration is damaged (even with ``given``)."""
    check_source(io, path, trust_pickle)
    if path.suffix == CANONICAL_SUFFIX:
        recorded = read_canonical_metadata(path).get("model_config")
        if recorded is not None:
            model_config_from_json(recorded, f"{path} header model_config")
    if given is not None:
        return given
    text = None
    if path.suffix == CANONICAL_SUFFIX:
        text = read_canonical_metadata(path).get("model_config") or _checkpoint_model_config(path)
    elif path.suffix in io.native_suffixes:
        text = io.native_model_config(path)
    if not text:
        raise ValueError(f"{path}: records no model configuration; pass --model-config")
    return model_config_from_json(text, f"{path} model_config")


def build_model_for(io: FrameworkIO, model_cfg: ModelConfig) -> Any:
    """The model of ``model_cfg`` without loading any pretrained backbone (its weights come from the file)."""
    return io.build_model(dataclasses.replace(model_cfg, base=dataclasses.replace(model_cfg.base, pretrained=None)))


def is_foreign_safetensors(path: Path) -> bool:
    """A ``.safetensors`` file without the canonical header's ``format``: another code base's state dict."""
    if path.suffix != CANONICAL_SUFFIX:
        return False
    meta = read_canonical_metadata(path)
    return "format" not in meta and CHECKPOINT_KEY not in meta


def load_foreign_safetensors(io: FrameworkIO, model: Any, path: Path, model_cfg: ModelConfig) -> str:
    """Map a foreign ``.safetensors`` state dict to canonical names (checked: one line naming the first tensor
    that does not fit), write it as a temporary canonical file and load that; returns the layout key."""
    arrays, _ = read_safetensors(path)
    layout = foreign_names.detect_layout(arrays)
    foreign_names.require_base_only(model_cfg, os.fspath(path), layout)
    mapped = foreign_names.to_canonical(arrays, model_cfg, os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="enhancenet-foreign-") as tmp:
        canon = Path(tmp) / "canonical.safetensors"
        save_canonical_arrays(canon, mapped, model_cfg)
        io.load_canonical(model, canon, model_cfg)
    return layout


def load_any(io: FrameworkIO, model: Any, path: Path, model_cfg: ModelConfig, trust_pickle: bool = False) -> None:
    """Load a canonical file, a training checkpoint or a native file into ``model`` (by suffix and header), every
    name and shape checked first; a pickle file only with ``trust_pickle``."""
    check_source(io, path, trust_pickle)
    if is_foreign_safetensors(path):
        load_foreign_safetensors(io, model, path, model_cfg)
    elif path.suffix == CANONICAL_SUFFIX and CHECKPOINT_KEY in read_canonical_metadata(path):
        if io.load_checkpoint_weights is None:
            raise ValueError(f"{path}: a training checkpoint, which {io.prog} does not read; pass the weights")
        io.load_checkpoint_weights(model, path, model_cfg)
    elif path.suffix == CANONICAL_SUFFIX:
        io.load_canonical(model, path, model_cfg)
    elif path.suffix in io.native_suffixes:
        io.load_native(model, path, model_cfg)
    else:
        raise io._suffix_error(path)


def save_any(io: FrameworkIO, model: Any, path: Path, model_cfg: ModelConfig) -> None:
    """Write ``model`` as a canonical or native file (by suffix), atomically."""
    if path.suffix == CANONICAL_SUFFIX:
        io.save_canonical(model, path, model_cfg)
    elif path.suffix in io.native_suffixes:
        io.save_native(model, path, model_cfg)
    else:
        raise io._suffix_error(path)


def convert(io: FrameworkIO, src: str | os.PathLike[str], dst: str | os.PathLike[str],
            model_cfg: ModelConfig | None = None, trust_pickle: bool = False) -> None:
    """``src`` -> ``dst`` through the framework's model of the configuration (the destination suffix is checked
    before anything is read, and nothing is written when the source is refused)."""
    src_p, dst_p = Path(src), Path(dst)
    if dst_p.suffix != CANONICAL_SUFFIX and dst_p.suffix not in io.native_suffixes:
        raise io._suffix_error(dst_p)
    cfg = model_config_from(io, src_p, model_cfg, trust_pickle)
    model = build_model_for(io, cfg)
    load_any(io, model, src_p, cfg, trust_pickle)
    save_any(io, model, dst_p, cfg)


def seeded_input(model_cfg: ModelConfig, seed: int) -> np.ndarray:
    """The verification input: ``N(0, 1)`` float32 of shape (1, 3, H, W), ``(W, H) = model_cfg.input_size``."""
    w, h = model_cfg.input_size
    return np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)


def verify_outputs(io: FrameworkIO, weights: str | os.PathLike[str], out_dir: str | os.PathLike[str], seed: int,
                   model_cfg: ModelConfig | None = None, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """Eval-mode outputs of the loaded model on :func:`seeded_input`; saved as ``<name>.npy`` in ``out_dir``.

    Returns ``{"lr": (1, K, h, w)}`` plus ``"hr"`` (1, K, r·h, r·w) when the model has the head.
    """
    path = Path(weights)
    cfg = model_config_from(io, path, model_cfg, trust_pickle)
    model = build_model_for(io, cfg)
    load_any(io, model, path, cfg, trust_pickle)
    out = io.forward(model, seeded_input(cfg, seed))
    result = {k: np.asarray(out[k]) for k in ("lr", "hr") if k in out}
    for k, v in result.items():
        np.save(Path(out_dir) / f"{k}.npy", v)
    return result


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
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
        p.add_argument("--trust-pickle", action="store_true",
                       help="read a pickle source (.pt/.pth/.pdparams): runs code the file holds; only a trusted file")
    return parser


def run_backend(argv: Sequence[str] | None, io: FrameworkIO) -> int:
    """Parse ``argv`` and run ``convert`` or ``verify``; 0 on success, 2 (error on stderr) when refused."""
    args = _parser(io.prog).parse_args(argv)
    io.setup()
    try:
        cfg = model_config_from_json(args.model_config, "--model-config") if args.model_config else None
        if args.cmd == "convert":
            convert(io, args.src, args.dst, cfg, args.trust_pickle)
        else:
            verify_outputs(io, args.weights, args.out, args.seed, cfg, args.trust_pickle)
    except _REFUSALS as exc:
        print(f"{io.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0
