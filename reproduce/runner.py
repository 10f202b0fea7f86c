"""Running the framework CLIs as subprocesses (one interpreter per framework; never two frameworks in one
process), with resume: a training is done when its ``run.json`` exists, an evaluation when its
``results.json`` exists, both in a directory named by the run's content hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enhancenet_runtime.engine.io import atomic_write_json
from reproduce.experiments import DataSpec, EvalRun, TrainRun

__all__ = [
    "DISTRIBUTION",
    "FrameworkInfo",
    "Runner",
    "default_python",
    "ensure_data",
    "probe_framework",
]

DISTRIBUTION = {"torch": "torch", "paddle": "paddlepaddle", "mindspore": "mindspore"}
ROOT = Path(__file__).resolve().parent.parent


def default_python(framework: str, root: Path = ROOT) -> str:
    """``ENHANCENET_<FW>_PYTHON``, else the nox virtualenv of that framework (``.nox/env-<fw>``, the one the
    conformance gate checked and the tests ran in), else this interpreter."""
    env = os.environ.get(f"ENHANCENET_{framework.upper()}_PYTHON")
    if env:
        return env
    nox_python = root / ".nox" / f"env-{framework}" / "bin" / "python"
    return str(nox_python) if nox_python.is_file() else sys.executable


@dataclass(frozen=True)
class FrameworkInfo:
    """A framework's interpreter and whether its CLI can train/evaluate (``reason`` says why not)."""

    name: str
    python: str
    version: str | None
    usable: bool
    reason: str = ""


def probe_framework(framework: str, python: str, timeout: float = 120.0) -> FrameworkInfo:
    """Ask ``python`` for the framework's version and whether ``python -m enhancenet_<fw>.cli`` has
    ``train`` and ``eval``."""
    dist = DISTRIBUTION[framework]
    code = (
        "import importlib.metadata as m, importlib.util as u, json\n"
        f"v = None\ntry: v = m.version({dist!r})\nexcept m.PackageNotFoundError: pass\n"
        f"print(json.dumps({{'version': v, 'cli': u.find_spec('enhancenet_{framework}.cli') is not None}}))"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout, check=False)
        info = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return FrameworkInfo(framework, python, None, False, f"cannot run {python}: {exc}")
    if info is None:
        return FrameworkInfo(framework, python, None, False, f"{python} failed: {out.stderr.strip()[-300:]}")
    if info["version"] is None:
        return FrameworkInfo(framework, python, None, False, f"{dist} is not installed in {python}")
    if not info["cli"]:
        return FrameworkInfo(framework, python, info["version"], False,
                             f"enhancenet_{framework}.cli does not exist in {python}")
    helped = subprocess.run([python, "-m", f"enhancenet_{framework}.cli", "--help"], capture_output=True,
                            text=True, timeout=timeout, check=False)
    missing = [verb for verb in ("train", "eval") if verb not in helped.stdout]
    if helped.returncode != 0 or missing:
        why = helped.stderr.strip().splitlines()[-1:] if helped.returncode else [f"no verb {missing}"]
        return FrameworkInfo(framework, python, info["version"], False,
                             f"enhancenet_{framework}.cli is not usable: {' '.join(why)}")
    return FrameworkInfo(framework, python, info["version"], True)


def ensure_data(spec: DataSpec, work_dir: Path) -> Path:
    """Generate the synthetic data set once (framework-free, deterministic); returns its root."""
    root = work_dir / "data" / spec.key
    if (root / "annotations" / "person_keypoints_val.json").is_file():
        return root
    from enhancenet_runtime.data.synthetic import generate_synthetic_coco

    generate_synthetic_coco(root, spec.num_images, spec.seed, image_size=spec.image_size,
                            people_per_image=spec.people_per_image, overwrite=True, progress=False)
    return root


class RunFailed(RuntimeError):
    """A framework command exited non-zero; the message holds the command and the tail of its output."""


class Runner:
    """Trains and evaluates through the CLIs; records wall time; skips what is already done.

    Args:
        work_dir: where runs live (``<work_dir>/runs/<train key>/``, evaluations in ``eval-<key>/``).
        pythons: framework -> interpreter.
        threads: ``OMP_NUM_THREADS`` for the subprocesses.
        log: called with one line per finished step.
    """

    def __init__(self, work_dir: Path, pythons: Mapping[str, str], threads: int = 2,
                 log: Callable[[str], None] = print) -> None:
        self.work_dir = Path(work_dir)
        self.pythons = dict(pythons)
        self.threads = threads
        self.log = log

    def train_dir(self, run: TrainRun) -> Path:
        return self.work_dir / "runs" / run.key

    def eval_dir(self, ev: EvalRun) -> Path:
        return self.train_dir(ev.train) / f"eval-{ev.key}"

    def checkpoint(self, run: TrainRun) -> Path:
        """The run's last checkpoint, whatever the framework's suffix (``checkpoint_last.safetensors``, MindSpore's ``.ckpt``)."""
        found = sorted(self.train_dir(run).glob("checkpoint_last.*"))
        return found[0] if found else self.train_dir(run) / "checkpoint_last"

    def train_done(self, run: TrainRun) -> bool:
        return (self.train_dir(run) / "run.json").is_file()

    def eval_done(self, ev: EvalRun) -> bool:
        return (self.eval_dir(ev) / "results.json").is_file()

    def _sets(self, overrides: Sequence[tuple[str, str]], data_root: Path) -> list[str]:
        out: list[str] = []
        for key, value in (*overrides, ("data.root", str(data_root))):
            out += ["--set", f"{key}={value}"]
        return out

    def _call(self, framework: str, args: list[str], log_file: Path) -> float:
        return self._run([self.pythons[framework], "-m", f"enhancenet_{framework}.cli", *args], log_file)

    def _run(self, cmd: list[str], log_file: Path, env: Mapping[str, str] | None = None) -> float:
        """Run ``cmd`` in the work directory, output to ``log_file``; its wall time, or RunFailed with the tail.
        ``env`` adds to the environment."""
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "GLOG_minloglevel": "2", **(env or {})}
        log_file.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with log_file.open("w") as fh:
            fh.write(" ".join(cmd) + "\n")
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=self.work_dir, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-5:]
            raise RunFailed(f"{' '.join(cmd[:5])} ... exited {proc.returncode} (log {log_file}):\n  " +
                            "\n  ".join(tail))
        return seconds

    def backbone(self, pretrain: TrainRun) -> Path:
        """The canonical weights (``.safetensors``) :meth:`pretrain` makes of ``pretrain``."""
        return self.work_dir / "pretrain" / pretrain.key / "backbone.safetensors"

    def pretrain(self, run: TrainRun, data_root: Path) -> dict[str, Any]:
        """Train the backbone-pretraining ``run`` and convert its checkpoint to canonical safetensors
        (:meth:`backbone`) with ``enhancenet-convert`` in the framework's interpreter; skips what exists.
        Returns the training record plus ``convert_seconds``."""
        record = self.train(run, data_root)
        dst = self.backbone(run)
        if dst.is_file():
            return {**record, "convert_seconds": None}
        dst.parent.mkdir(parents=True, exist_ok=True)
        python = self.pythons[run.framework]
        cmd = [python, "-m", "enhancenet_runtime.convert", str(self.checkpoint(run)), str(dst),
               f"--{run.framework}-python", python]
        seconds = self._run(cmd, dst.parent / "convert.log")
        if not dst.is_file():
            raise RunFailed(f"{run.name}: enhancenet-convert finished without {dst}")
        self.log(f"converted the pretrained {run.name} backbone in {seconds:.0f} s")
        return {**record, "convert_seconds": round(seconds, 2)}

    def train(self, run: TrainRun, data_root: Path) -> dict[str, Any]:
        """Train ``run`` unless its ``run.json`` exists; returns that record (``seconds``, ``cached``).

        A run with a ``pretrain`` source starts its backbone from :meth:`backbone` of it (which must exist)."""
        d = self.train_dir(run)
        done = d / "run.json"
        if done.is_file():
            return {**json.loads(done.read_text()), "cached": True}
        overrides = list(run.overrides)
        if run.pretrain is not None:
            weights = self.backbone(run.pretrain)
            if not weights.is_file():
                raise RunFailed(f"{run.name}: the pretrained backbone {weights} does not exist (pretraining failed?)")
            overrides.append(("model.base.pretrained", str(weights)))
        args = ["train", run.config, "--out", str(d), "--no-val", "--no-progress", *self._sets(overrides, data_root)]
        if run.max_steps is not None:
            args += ["--max-steps", str(run.max_steps)]
        seconds = self._call(run.framework, args, d / "train.log")
        if not self.checkpoint(run).is_file():
            raise RunFailed(f"{run.name}: training finished without {self.checkpoint(run)}")
        record = {"name": run.name, "key": run.key, "framework": run.framework, "seed": run.seed,
                  "variant": run.variant.name, "overrides": [list(o) for o in run.overrides],
                  "max_steps": run.max_steps, "seconds": round(seconds, 2)}
        atomic_write_json(done, record)
        self.log(f"trained {run.name} in {seconds:.0f} s")
        return {**record, "cached": False}

    def evaluate(self, ev: EvalRun, data_root: Path) -> dict[str, Any]:
        """Evaluate ``ev`` unless its ``results.json`` exists; returns it with ``seconds`` and ``cached``."""
        d = self.eval_dir(ev)
        res = d / "results.json"
        cached = res.is_file()
        if not cached:
            seconds = self._call(ev.train.framework, ["eval", ev.train.config, str(self.checkpoint(ev.train)),
                                                      "--out", str(d), "--no-progress",
                                                      *self._sets((*ev.train.overrides, *ev.overrides), data_root)],
                                 d / "eval.log")
            atomic_write_json(d / "wall.json", {"seconds": round(seconds, 2)})
            self.log(f"evaluated {ev.name} in {seconds:.0f} s")
        record = json.loads(res.read_text())
        wall = d / "wall.json"
        record["wall_seconds"] = json.loads(wall.read_text())["seconds"] if wall.is_file() else None
        record["cached"] = cached
        return record

    def predict(self, run: TrainRun, data_root: Path, image: Path, box: Sequence[float], joint: int,
                out: Path) -> Path:
        """Fig. 1 through the framework's ``predict`` verb (LR and HR maps of ``joint``, both poses)."""
        self._call(run.framework, ["predict", run.config, str(self.checkpoint(run)), str(image), "--boxes",
                                   ",".join(f"{v:.2f}" for v in box), "--out", str(out), "--joint", str(joint),
                                   *self._sets(run.overrides, data_root)], out.with_suffix(".log"))
        return out
