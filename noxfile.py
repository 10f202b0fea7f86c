"""Developer entry points. Each implementation gets its own virtualenv.

    nox -s conformance   # the main job: every implementation checked against numpy-ref golden tensors
    nox -s tests         # every package's unit tests, each in its own virtualenv
    nox -s lint          # ruff
    nox -s bench         # benchmarks/ (ratios measured in one run)
    nox -s reproduce     # the paper's experiments at CPU scale (behind the conformance gate)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"

# package key -> (directory, pip requirements installed into its virtualenv, in order)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("packages/core-spec", ("-e", "packages/core-spec[test]")),
    "numpy": ("packages/numpy-ref", ("-e", "packages/core-spec[test]", "-e", "packages/numpy-ref[test]")),
    "torch": (
        "packages/torch-impl",
        (
            "torch==2.13.0",
            "-e", "packages/core-spec[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/torch-impl[test]",
        ),
    ),
    "paddle": (
        "packages/paddle-impl",
        (
            "paddlepaddle==3.3.1",
            "-e", "packages/core-spec[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/paddle-impl[test]",
        ),
    ),
    "mindspore": (
        "packages/mindspore-impl",
        (
            "mindspore==2.8.0",
            "-e", "packages/core-spec[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/mindspore-impl[test]",
        ),
    ),
}

# Tests of the spec and the reference that cross-check against a framework (or a library) and therefore skip,
# naming why, in the core-only virtualenv: they run again where that framework is installed.
CROSS_CHECKS: dict[str, tuple[str, ...]] = {
    "numpy": ("packages/core-spec/tests/test_canonical.py",),
    "torch": (
        "packages/core-spec/tests/test_convert.py",
        "packages/core-spec/tests/test_pixel_shuffle.py",
        "packages/numpy-ref/tests/test_ops_torch.py",
    ),
}

# Implementations that are planned but not written yet: their test sessions skip and say why.
NOT_YET: dict[str, str] = {}


def _install(session: nox.Session, requirements: tuple[str, ...]) -> None:
    session.install(*CONSTRAINTS, *requirements)


@nox.session
@nox.parametrize("package", [*PACKAGES, *NOT_YET])
def tests(session: nox.Session, package: str) -> None:
    """Unit tests of one package in its own virtualenv."""
    if package in NOT_YET:
        session.skip(NOT_YET[package])
    directory, requirements = PACKAGES[package]
    _install(session, requirements)
    session.run("pytest", "-c", "pyproject.toml", "--rootdir", ".", f"{directory}/tests", *CROSS_CHECKS.get(package, ()),
                "-q", *session.posargs)


# Each benchmark runs in the virtualenv of the framework it measures (never two frameworks in one process);
# numpy-ref's head is timed against torch, so it runs in the torch environment. Ratios are measured in one run.
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "core": ("benchmarks/core/bench_targets_decoders.py", "benchmarks/core/bench_coco_eval.py"),
    "torch": ("benchmarks/numpy_ref/bench_head.py", "benchmarks/torch/bench_models.py"),
    "paddle": ("benchmarks/paddle/bench_models.py",),
    "mindspore": ("benchmarks/mindspore/bench_models.py",),
}


@nox.session
@nox.parametrize("env", list(BENCHMARKS))
def bench(session: nox.Session, env: str) -> None:
    """Speed measurements (benchmarks/) with each script's defaults; run a script directly for its options
    (e.g. `--device cuda --amp` for the framework model benchmarks on a GPU)."""
    _install(session, PACKAGES[env][1])
    for script in BENCHMARKS[env]:
        session.run("python", script, env={"OMP_NUM_THREADS": "2"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


# ------------------------------------------------------------------------------------------- conformance
# `nox -s conformance` queues (session.notify, in this order) one `conformance_impl` session per
# implementation, each in its own virtualenv, then `conformance_report`, which runs the cross-framework steps
# (training-step pairs, the torch -> paddle -> mindspore -> torch conversion round trip with each framework's
# interpreter found by path in .nox/) and writes conformance/report.json and report.md; it exits non-zero on any failure.
CONFORMANCE_IMPLS: dict[str, tuple[str, ...]] = {
    "numpy": PACKAGES["numpy"][1],
    "torch": PACKAGES["torch"][1],
    "paddle": (
        "paddlepaddle==3.3.1",
        "-e", "packages/core-spec[test]",
        "-e", "packages/numpy-ref[test]",
        "-e", "packages/paddle-impl[test]",
    ),
    "mindspore": (
        "mindspore==2.8.0",
        "-e", "packages/core-spec[test]",
        "-e", "packages/numpy-ref[test]",
        "-e", "packages/mindspore-impl[test]",
    ),
}
#: adapter keys (conformance --impl) checked in each implementation's session: MindSpore in both modes
CONFORMANCE_ADAPTER_KEYS: dict[str, tuple[str, ...]] = {"mindspore": ("mindspore", "mindspore-graph")}
CONFORMANCE_NOT_YET: dict[str, str] = {}
ARTIFACTS = ROOT / "conformance" / ".artifacts"
SPEC_TESTS = ("test_decoders.py", "test_coco_eval.py", "test_pckh.py", "test_flip.py", "test_targets.py")


@nox.session
def conformance(session: nox.Session) -> None:
    """Every implementation against numpy-ref and each other; writes conformance/report.{json,md}."""
    import shutil

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    for impl in [*CONFORMANCE_IMPLS, *CONFORMANCE_NOT_YET]:
        session.notify(f"conformance_impl(impl='{impl}')", posargs=session.posargs)
    session.notify("conformance_report")


@nox.session
@nox.parametrize("impl", [*CONFORMANCE_IMPLS, *CONFORMANCE_NOT_YET])
def conformance_impl(session: nox.Session, impl: str) -> None:
    """The conformance suite for one implementation in its own virtualenv (results in conformance/.artifacts)."""
    if impl in CONFORMANCE_NOT_YET:
        session.skip(CONFORMANCE_NOT_YET[impl])
    _install(session, CONFORMANCE_IMPLS[impl])
    env = {"OMP_NUM_THREADS": "2", "GLOG_minloglevel": "2", "GLOG_v": "3"}
    common = ("-c", "pyproject.toml", "--rootdir", ".", "-q", "-p", "no:cacheprovider")
    # failures are recorded in the results and fail `conformance_report`; keep going so the report is complete
    keys = [arg for key in CONFORMANCE_ADAPTER_KEYS.get(impl, (impl,)) for arg in ("--impl", key)]
    session.run("pytest", *common, "conformance", *keys, *session.posargs, env=env, success_codes=[0, 1])
    if impl == "numpy":  # (e) framework-free spec checks, once
        session.run("pytest", *common, *(f"packages/core-spec/tests/{t}" for t in SPEC_TESTS),
                    f"--junitxml={ARTIFACTS / 'spec-junit.xml'}", env=env, success_codes=[0, 1])


@nox.session
def conformance_report(session: nox.Session) -> None:
    """Cross-framework checks and the report (run after the conformance_impl sessions)."""
    _install(session, CONFORMANCE_IMPLS["numpy"])
    pythons = []
    for impl in ("torch", "paddle", "mindspore"):
        found = sorted((ROOT / ".nox").glob(f"conformance_impl-impl-{impl}/bin/python"))
        # a skipped session still leaves a bare virtualenv: pass only interpreters that have the back end
        probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec('enhancenet_{impl}') is None)"
        if found and subprocess.run([str(found[0]), "-c", probe], check=False).returncode == 0:
            pythons += ["--python", f"{impl}={found[0]}"]
    session.run("python", "-m", "conformance.report", *pythons, env={"OMP_NUM_THREADS": "2"})


# --------------------------------------------------------------------------------------------- reproduce
@nox.session
def reproduce(session: nox.Session) -> None:
    """The paper's experiments at CPU scale behind the conformance gate (`-- --quick` for the smoke test).

    Framework-free itself: each framework's CLI runs in that framework's own interpreter (the `tests`
    session's virtualenv in .nox/, or --torch-python / --paddle-python / --mindspore-python). Runs its own tests
    first. Writes results/<commit>/ and benchmarks/reproduce/<scale>.json.
    """
    _install(session, ("-e", "packages/core-spec[data,plot,test]"))
    session.run("pytest", "-c", "pyproject.toml", "--rootdir", ".", "reproduce/tests", "-q")
    session.run("python", "-m", "reproduce", *session.posargs, env={"OMP_NUM_THREADS": "2"})
