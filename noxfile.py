"""Developer entry points. Each package gets its own virtualenv, ``.nox/env-<package>``, built once and shared by
every session that needs it (tests, conformance, bench, reproduce).

    nox -s conformance   # the main job: every implementation checked against numpy-ref golden tensors
    nox -s tests         # every package's unit tests, each in its own virtualenv
    nox -s fuzz          # generated bad inputs through the command lines: exit 2 and one line for each
    nox -s lint          # ruff and the import contract (layering, no cycles)
    nox -s bench         # benchmarks/ (ratios measured in one run)
    nox -s reproduce     # the paper's experiments at CPU scale (behind the conformance gate)
    nox -s build         # sdists and wheels of every distribution in dist/
    nox -s install_check # each framework's wheel installed from dist/ into a fresh virtualenv and run there
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
ENV_DIR = ROOT / ".nox"

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"

# package key -> (directory, pip requirements installed into its virtualenv, in order)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("packages/core-spec", ("-e", "packages/core-spec[test]")),
    "runtime": ("packages/runtime", ("-e", "packages/core-spec[test]", "-e", "packages/runtime[plot,test]")),
    # the runtime too: conformance's report and round trip (run in this environment) use the converter front end
    "numpy": (
        "packages/numpy-ref",
        ("-e", "packages/core-spec[test]", "-e", "packages/runtime[test]", "-e", "packages/numpy-ref[test]"),
    ),
    "torch": (
        "packages/torch-impl",
        (
            "torch==2.13.0",
            "-e", "packages/core-spec[test]",
            "-e", "packages/runtime[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/torch-impl[test]",
        ),
    ),
    "paddle": (
        "packages/paddle-impl",
        (
            "paddlepaddle==3.3.1",
            "-e", "packages/core-spec[test]",
            "-e", "packages/runtime[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/paddle-impl[test]",
        ),
    ),
    "mindspore": (
        "packages/mindspore-impl",
        (
            "mindspore==2.8.0",
            "-e", "packages/core-spec[test]",
            "-e", "packages/runtime[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/mindspore-impl[test]",
        ),
    ),
}

# Tests of the spec and the reference that cross-check against a framework (or a library) and therefore skip,
# naming why, in the core-only virtualenv: they run again where that framework is installed.
CROSS_CHECKS: dict[str, tuple[str, ...]] = {
    # the gate's re-run of a golden head case needs numpy-ref in some interpreter
    "numpy": ("packages/core-spec/tests/test_canonical.py", "packages/runtime/tests/test_gate.py"),
    "torch": (
        "packages/runtime/tests/test_convert.py",
        "packages/core-spec/tests/test_pixel_shuffle.py",
        "packages/numpy-ref/tests/test_ops_torch.py",
    ),
}

# Implementations that are planned but not written yet: their test sessions skip and say why.
NOT_YET: dict[str, str] = {}


def env_dir(package: str) -> Path:
    """The one virtualenv of ``package`` (``.nox/env-<package>``)."""
    return ENV_DIR / f"env-{package}"


def _env_fingerprint(requirements: tuple[str, ...]) -> str:
    """What an environment was built from: its requirements, the pins, and every local project's pyproject."""
    digest = hashlib.sha256("\n".join(requirements).encode())
    digest.update((ROOT / "constraints.txt").read_bytes())
    for req in requirements:
        local = ROOT / req.split("[")[0]
        if (local / "pyproject.toml").is_file():
            digest.update((local / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def _framework_env(session: nox.Session, package: str) -> Path:
    """Create or update ``package``'s virtualenv and return its ``bin/`` directory.

    Every session that needs a package's environment (tests, conformance, bench, reproduce) shares this one
    instead of building a copy per session: the frameworks are 1.5-2.4 GB each installed, and one copy per
    session filled CI's disk. Reinstalls only when the requirements, the pins or a local pyproject changed.
    """
    env = env_dir(package)
    requirements = PACKAGES[package][1]
    stamp = env / ".enhancenet-requirements"
    if not (env / "bin" / "python").is_file():
        session.run(sys.executable, "-m", "virtualenv", "--quiet", str(env), external=True)
    fingerprint = _env_fingerprint(requirements)
    if not stamp.is_file() or stamp.read_text() != fingerprint:
        session.run(str(env / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", *CONSTRAINTS, *requirements,
                    external=True)
        stamp.write_text(fingerprint)
    else:
        session.log(f"reusing {env.relative_to(ROOT)} (requirements unchanged)")
    return env / "bin"


def _run(session: nox.Session, bin_dir: Path, program: str, *args: str, env: dict[str, str] | None = None,
         success_codes: list[int] | None = None) -> None:
    """Run ``program`` from a package environment with that environment first on PATH (as if activated)."""
    activated = {"VIRTUAL_ENV": str(bin_dir.parent), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    session.run(str(bin_dir / program), *args, env={**activated, **(env or {})}, external=True,
                success_codes=success_codes)


# Sessions run in the shared package environments above, so nox itself builds none (venv_backend="none").
@nox.session(venv_backend="none")
@nox.parametrize("package", [*PACKAGES, *NOT_YET])
def tests(session: nox.Session, package: str) -> None:
    """Unit tests of one package in its own virtualenv, without the end-to-end tests marked ``slow``
    (those run in `nox -s slow`, which CI runs too); ``--durations`` lists the slowest."""
    _package_tests(session, package, "not slow")


@nox.session(venv_backend="none")
@nox.parametrize("package", [*PACKAGES, *NOT_YET])
def slow(session: nox.Session, package: str) -> None:
    """The end-to-end tests marked ``slow`` (training to a better loss, kill -9 and resume, multi-process
    training, conversion round trips through subprocesses, every base model's export); CI runs them."""
    _package_tests(session, package, "slow")


def _package_tests(session: nox.Session, package: str, marker: str) -> None:
    if package in NOT_YET:
        session.skip(NOT_YET[package])
    bin_dir = _framework_env(session, package)
    # exit 5 (nothing selected) is fine: a package may have no slow test
    _run(session, bin_dir, "pytest", "-c", "pyproject.toml", "--rootdir", ".", f"{PACKAGES[package][0]}/tests",
         *CROSS_CHECKS.get(package, ()), *(f"--ignore={d}" for d in FUZZ_SUITES.values()), "-q", "-m", marker,
         "--durations=10", *session.posargs, success_codes=[0, 5])


# The fuzz suites (`nox -s fuzz`, run by CI after `nox -s tests`, not by `tests`): hypothesis feeds generated bad
# configs, COCO/MPII files, weight files and images through the command lines in-process; every one must be
# refused with exit 2 and one line, leaving no output. Each runs in its package's environment.
FUZZ_SUITES: dict[str, str] = {"runtime": "packages/runtime/tests/fuzz", "torch": "packages/torch-impl/tests/fuzz"}


@nox.session(venv_backend="none")
def fuzz(session: nox.Session) -> None:
    """Property-based fuzzing of the command lines (ENHANCENET_FUZZ_EXAMPLES per strategy, default 60)."""
    for package, suite in FUZZ_SUITES.items():
        if not (ROOT / suite).is_dir():
            continue
        bin_dir = _framework_env(session, package)
        _run(session, bin_dir, "pytest", "-c", "pyproject.toml", "--rootdir", ".", suite, "-q", "-p", "no:cacheprovider",
             *session.posargs, env={"OMP_NUM_THREADS": "1"})


# Each benchmark runs in the virtualenv of the framework it measures (never two frameworks in one process);
# numpy-ref's head is timed against torch, so it runs in the torch environment. Ratios are measured in one run.
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "core": ("benchmarks/core/bench_targets_decoders.py", "benchmarks/core/bench_coco_eval.py",
             "benchmarks/core/bench_grouping.py"),
    "torch": ("benchmarks/numpy_ref/bench_head.py", "benchmarks/torch/bench_models.py",
              "benchmarks/torch/bench_input_pipeline.py"),
    "paddle": ("benchmarks/paddle/bench_models.py",),
    "mindspore": ("benchmarks/mindspore/bench_models.py",),
}


@nox.session(venv_backend="none")
@nox.parametrize("env", list(BENCHMARKS))
def bench(session: nox.Session, env: str) -> None:
    """Speed measurements (benchmarks/) with each script's defaults; run a script directly for its options
    (e.g. `--device cuda --amp` for the framework model benchmarks on a GPU)."""
    bin_dir = _framework_env(session, env)
    for script in BENCHMARKS[env]:
        _run(session, bin_dir, "python", script, env={"OMP_NUM_THREADS": "2"})


#: the source folders of every package, so that import-linter finds them without installing anything
SOURCE_DIRS: tuple[str, ...] = tuple(f"{directory}/src" for directory, _ in PACKAGES.values())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, then the layering contract (pyproject.toml `[tool.importlinter]`): spec <- runtime <- frameworks,
    numpy-ref <- spec only, frameworks independent, nothing imports conformance or reproduce, no import cycle."""
    session.install("ruff", "import-linter==2.17")
    session.run("ruff", "check", ".")
    python_path = os.pathsep.join([str(ROOT), *(str(ROOT / d) for d in SOURCE_DIRS)])
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": python_path})


# ------------------------------------------------------------------------------------------- conformance
# `nox -s conformance` queues (session.notify, in this order) one `conformance_impl` session per
# implementation, each in its package's virtualenv (the one `tests` uses), then `conformance_report`, which runs
# the cross-framework steps (training-step pairs, the torch -> paddle -> mindspore -> torch conversion round trip
# with each framework's interpreter found by path, .nox/env-<fw>/bin/python) and writes conformance/report.json
# and report.md; it exits non-zero on any failure.
CONFORMANCE_IMPLS: tuple[str, ...] = ("numpy", "torch", "paddle", "mindspore")
#: adapter keys (conformance --impl) checked in each implementation's session: MindSpore in both modes
CONFORMANCE_ADAPTER_KEYS: dict[str, tuple[str, ...]] = {"mindspore": ("mindspore", "mindspore-graph")}
CONFORMANCE_NOT_YET: dict[str, str] = {}
ARTIFACTS = ROOT / "conformance" / ".artifacts"
SPEC_TESTS = ("test_decoders.py", "test_coco_eval.py", "test_pckh.py", "test_flip.py", "test_targets.py",
              "test_compositional_targets.py")


@nox.session(venv_backend="none")
def conformance(session: nox.Session) -> None:
    """Every implementation against numpy-ref and each other; writes conformance/report.{json,md}."""
    import shutil

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    for impl in [*CONFORMANCE_IMPLS, *CONFORMANCE_NOT_YET]:
        session.notify(f"conformance_impl(impl='{impl}')", posargs=session.posargs)
    session.notify("conformance_report")


@nox.session(venv_backend="none")
@nox.parametrize("impl", [*CONFORMANCE_IMPLS, *CONFORMANCE_NOT_YET])
def conformance_impl(session: nox.Session, impl: str) -> None:
    """The conformance suite for one implementation in its own virtualenv (results in conformance/.artifacts)."""
    if impl in CONFORMANCE_NOT_YET:
        session.skip(CONFORMANCE_NOT_YET[impl])
    bin_dir = _framework_env(session, impl)
    env = {"OMP_NUM_THREADS": "2", "GLOG_minloglevel": "2", "GLOG_v": "3"}
    common = ("-c", "pyproject.toml", "--rootdir", ".", "-q", "-p", "no:cacheprovider")
    # failures are recorded in the results and fail `conformance_report`; keep going so the report is complete
    keys = [arg for key in CONFORMANCE_ADAPTER_KEYS.get(impl, (impl,)) for arg in ("--impl", key)]
    _run(session, bin_dir, "pytest", *common, "conformance", *keys, *session.posargs, env=env, success_codes=[0, 1])
    if impl == "numpy":  # (e) framework-free spec checks, once
        _run(session, bin_dir, "pytest", *common, *(f"packages/core-spec/tests/{t}" for t in SPEC_TESTS),
             f"--junitxml={ARTIFACTS / 'spec-junit.xml'}", env=env, success_codes=[0, 1])


@nox.session(venv_backend="none")
def conformance_report(session: nox.Session) -> None:
    """Cross-framework checks and the report (run after the conformance_impl sessions)."""
    bin_dir = _framework_env(session, "numpy")
    pythons = []
    for impl in ("torch", "paddle", "mindspore"):
        python = env_dir(impl) / "bin" / "python"
        # pass only interpreters that have the back end (an environment may exist half-built)
        probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec('enhancenet_{impl}') is None)"
        if python.is_file() and subprocess.run([str(python), "-c", probe], check=False).returncode == 0:
            pythons += ["--python", f"{impl}={python}"]
    _run(session, bin_dir, "python", "-m", "conformance.report", *pythons, env={"OMP_NUM_THREADS": "2"})


# --------------------------------------------------------------------------------------------- reproduce
@nox.session(venv_backend="none")
def reproduce(session: nox.Session) -> None:
    """The paper's experiments at CPU scale behind the conformance gate (`-- --quick` for the smoke test).

    Framework-free itself (it runs in the runtime environment): each framework's CLI runs in that framework's own
    interpreter (.nox/env-<fw>, the one conformance checked, or --torch-python / --paddle-python /
    --mindspore-python). Runs its own tests first. Writes results/<commit>/ and benchmarks/reproduce/<scale>.json.
    """
    bin_dir = _framework_env(session, "runtime")
    _run(session, bin_dir, "pytest", "-c", "pyproject.toml", "--rootdir", ".", "reproduce/tests", "-q")
    _run(session, bin_dir, "python", "-m", "reproduce", *session.posargs, env={"OMP_NUM_THREADS": "2"})


# ------------------------------------------------------------------------------------ build and install
# `nox -s build` writes an sdist and a wheel of every distribution into dist/; `nox -s install_check` installs
# a framework's distribution from those files into a fresh virtualenv, as a user would, and runs it there.
DISTRIBUTIONS: dict[str, str] = {  # distribution -> its directory
    "enhancenet-core": "packages/core-spec",
    "enhancenet-runtime": "packages/runtime",
    "enhancenet-numpy": "packages/numpy-ref",
    "enhancenet-torch": "packages/torch-impl",
    "enhancenet-paddle": "packages/paddle-impl",
    "enhancenet-mindspore": "packages/mindspore-impl",
}
DIST = ROOT / "dist"
#: the extras install_check installs with each framework's distribution (predict draws with matplotlib)
INSTALL_EXTRAS = ("plot",)


@nox.session
def build(session: nox.Session) -> None:
    """An sdist and a wheel of every distribution in dist/ (the wheel is built from the sdist, so a file missing
    from the sdist fails here). Replaces what dist/ held."""
    import shutil

    session.install("build", "setuptools>=68", "wheel")
    shutil.rmtree(DIST, ignore_errors=True)
    for directory in DISTRIBUTIONS.values():  # one build environment (this session's) for all six: 4x faster
        session.run("python", "-m", "build", "--no-isolation", "--outdir", str(DIST), directory)


def _wheel_requirements(wheel: Path) -> list[str]:
    """The ``Requires-Dist`` lines of a wheel's METADATA."""
    import email.parser
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(name).decode())
    return meta.get_all("Requires-Dist") or []


def _third_party_requirements(dist_dir: Path, top: str, extras: tuple[str, ...]) -> list[str]:
    """Every requirement outside this project that installing ``top[extras]`` from ``dist_dir`` pulls in,
    following our own distributions' requirements (and the extras they name) through their wheels."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    wheels = {canonicalize_name(p.name.split("-")[0]): p for p in dist_dir.glob("*.whl")}
    ours = {canonicalize_name(d) for d in DISTRIBUTIONS}
    missing = sorted(ours - set(wheels))
    if missing:
        raise RuntimeError(f"{dist_dir}: no wheel of {missing}; run `nox -s build` first")
    found: list[str] = []
    todo, seen = [(canonicalize_name(top), frozenset(extras))], set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        for line in _wheel_requirements(wheels[name]):
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in ("", *wanted)):
                continue
            if canonicalize_name(req.name) in ours:
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
            else:  # the marker is decided here (an ``extra == ...`` one would stop pip installing it)
                extras_part = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
                line = f"{req.name}{extras_part}{req.specifier}"
                if line not in found:
                    found.append(line)
    return found


@nox.session(venv_backend="none")
@nox.parametrize("framework", ["torch", "paddle", "mindspore"])
def install_check(session: nox.Session, framework: str) -> None:
    """Install ``enhancenet-<framework>`` from dist/ into a fresh virtualenv (.nox/install-<framework>, deleted
    afterwards unless `-- --keep`) and run it there: `--version`, predict on a sample image with random weights,
    and a conversion to canonical safetensors and back (.ci/install_smoke.py).

    Two pip steps, so that nothing of ours can come from anywhere but dist/: first the third-party requirements
    read from the wheels' metadata, with the framework pins of constraints.txt (from the configured index), then
    our distributions with `--no-index --find-links dist/`. Prints the wall time of each phase.
    """
    import shutil
    import time

    top = f"enhancenet-{framework}"
    env = ENV_DIR / f"install-{framework}"
    python = env / "bin" / "python"
    pip = (str(python), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check")
    times: dict[str, float] = {}
    start = time.perf_counter()
    shutil.rmtree(env, ignore_errors=True)
    try:
        session.run(sys.executable, "-m", "virtualenv", "--quiet", str(env), external=True)
        third_party = _third_party_requirements(DIST, top, INSTALL_EXTRAS)
        session.log(f"third-party requirements of {top}[{','.join(INSTALL_EXTRAS)}]: {third_party}")
        t = time.perf_counter()
        session.run(*pip, *CONSTRAINTS, *third_party, external=True)
        times["third-party install"] = time.perf_counter() - t
        t = time.perf_counter()
        # no index, no pip configuration (its find-links could name other directories): dist/ alone
        session.run(*pip, "--no-index", f"{top}[{','.join(INSTALL_EXTRAS)}]", external=True,
                    env={"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(DIST)})
        times["enhancenet install (--no-index)"] = time.perf_counter() - t
        t = time.perf_counter()
        session.run(str(python), str(ROOT / ".ci" / "install_smoke.py"), framework, "--dist", str(DIST),
                    env={"OMP_NUM_THREADS": "2", "PYTHONPATH": "", "GLOG_minloglevel": "2", "GLOG_v": "3"},
                    external=True)
        times["smoke"] = time.perf_counter() - t
        times["venv size (MB)"] = sum(p.stat().st_size for p in env.rglob("*") if p.is_file()) / 2**20
    finally:
        if "--keep" not in session.posargs:
            shutil.rmtree(env, ignore_errors=True)
    times["total"] = time.perf_counter() - start
    session.log(f"install_check({framework}): " + ", ".join(f"{k} {v:.0f}" + ("" if "MB" in k else " s")
                                                            for k, v in times.items()))
