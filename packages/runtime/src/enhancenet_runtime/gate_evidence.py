"""What the publish gate demands of a conformance report beyond "no check failed".

* :func:`required_checks`: the checks that ``nox -s conformance`` runs today, per implementation (read from
  ``conformance/test_*.py``, ``conformance/report.py`` and ``noxfile.py``); each must be in the report with
  status ``pass``. The golden case names come from ``conformance/golden/data/manifest.json`` of the repository
  being published, so adding a golden case adds a required check.
* :func:`golden_digest` / :func:`checks_digest`: SHA-256 of the golden tensors and of the report's own check
  table; the report records both and the gate recomputes them (a report made against other golden data, or
  whose table was edited afterwards without recomputing the digest, is refused).
* :func:`spot_check`: re-runs one golden head case (``python -m conformance.spotcheck``) in numpy-ref and in
  each framework being published, each in its own interpreter, and compares with the report's numbers.

Framework-free: frameworks run only in subprocesses (their own interpreters).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ADAPTER_KEYS",
    "REFERENCE",
    "SPEC_MODULES",
    "SPOT_CHECK_CASE",
    "checks_digest",
    "golden_digest",
    "golden_dir",
    "required_checks",
    "round_trip_required",
    "spot_check",
    "synthetic_report",
]

#: the reference implementation (numpy-ref): its checks are required for every publication
REFERENCE = "numpy"
#: implementation -> the conformance adapter keys checked for it (MindSpore in both execution modes)
ADAPTER_KEYS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "paddle": ("paddle",),
    "mindspore": ("mindspore", "mindspore-graph"),
}
#: the framework-free spec test modules whose JUnit results the report carries (noxfile.SPEC_TESTS)
#: (test_compositional_targets: DLCM's bone-map targets vs a per-pixel loop, as test_targets for the Gaussians)
SPEC_MODULES = ("test_coco_eval", "test_compositional_targets", "test_decoders", "test_flip", "test_pckh", "test_targets")
#: frameworks in the conversion round trip (conformance/report.py ROUND_TRIP)
ROUND_TRIP = ("torch", "paddle", "mindspore")
ROUND_TRIP_CASES = ("simple_baseline_r18_paper_order", "hourglass_2_deconv", "ae_hourglass_2_r2")
#: the golden head case the gate re-runs before publishing
SPOT_CHECK_CASE = "head_L2"
#: a re-run agrees with the report when |rerun - reported| <= SPOT_AGREEMENT x tolerance
SPOT_AGREEMENT = 0.1
SPOT_TIMEOUT_S = 300.0


def golden_dir(repo: str | os.PathLike[str]) -> Path:
    return Path(repo) / "conformance" / "golden" / "data"


def golden_digest(directory: str | os.PathLike[str]) -> str:
    """SHA-256 over every file of the golden data directory (sorted names, each name then its bytes)."""
    d = Path(directory)
    if not (d / "manifest.json").is_file():
        raise FileNotFoundError(f"{d / 'manifest.json'} not found: no golden tensors to check the report against")
    h = hashlib.sha256()
    for f in sorted(p for p in d.iterdir() if p.is_file()):
        h.update(f.name.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def checks_digest(checks: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 of the check table as canonical JSON (sorted keys, compact), in the report's order."""
    rows = [{k: row.get(k) for k in ("check", "implementation", "status", "max_error", "tolerance", "detail")}
            for row in checks]
    for row in rows:
        row["detail"] = "" if row["detail"] is None else str(row["detail"])
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _golden_cases(directory: Path) -> dict[str, list[str]]:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        cases = manifest["cases"]
        out: dict[str, list[str]] = {}
        for name, entry in cases.items():
            out.setdefault(str(entry["kind"]), []).append(str(name))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{directory / 'manifest.json'}: not a readable golden manifest ({exc})") from exc
    return {k: sorted(v) for k, v in out.items()}


def _adapter_checks(key: str, cases: Mapping[str, list[str]]) -> list[str]:
    """What conformance/test_*.py record for one adapter key."""
    names = [f"golden.head.{c}" for c in cases.get("head", [])]
    names += [f"golden.base.{c}.{part}" for c in cases.get("base", []) for part in ("features", "lr", "hr")]
    names += [f"golden.op.{c}" for c in cases.get("op", []) if c.startswith("op_pixel_shuffle")]
    names += [f"ps.every_index.{order}.r{r}" for order in ("paper", "framework") for r in range(1, 6)]
    names += [f"ps.paper_vs_framework_model.r{r}" for r in (2, 3, 4)]
    names += [f"equal_weights.coco_sample.r18.{part}" for part in ("lr", "hr")]
    names += ["grouping.ae_tiny.people"]  # conformance/test_bottomup.py
    if key != REFERENCE:  # numpy-ref has no backward: its training steps are "not run" by design
        names += ["train_step.head.loss_vs_numpy_float64", "train_step.head.grad_vs_finite_differences",
                  "train_step.r18.written", "train_step.ae.loss_vs_numpy_float64", "train_step.ae.written"]
    return names


def _pair_checks() -> list[str]:
    head = [f"train_parity.head.{p}" for p in ("loss", "grads", "weights_after_adam")]
    r18 = [f"train_parity.r18.{p}" for p in ("loss", "grads", "weights_after_adam", "bn_running_stats")]
    ae = [f"train_parity.ae.{p}" for p in ("loss", "grads", "weights_after_adam")]  # no BN in the AE hourglass
    return head + r18 + ae


def required_checks(implementations: Sequence[str], golden: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(check, implementation) pairs that must pass before ``implementations`` may publish.

    Always: numpy-ref's checks and the spec checks. Per implementation: its adapters' golden, shuffle,
    equal-weight and training-step checks. For every pair of published implementations: the training-step
    parity checks. When torch and another framework of the round trip are published: the conversion round trip.
    """
    cases = _golden_cases(Path(golden))
    impls = list(dict.fromkeys([REFERENCE, *implementations]))
    out: list[tuple[str, str]] = [(f"spec.{m}", "spec") for m in SPEC_MODULES]
    keys: list[str] = []
    for impl in impls:
        if impl not in ADAPTER_KEYS:
            raise ValueError(f"unknown implementation {impl!r}; known: {sorted(ADAPTER_KEYS)}")
        keys.extend(ADAPTER_KEYS[impl])
    for key in keys:
        out.extend((name, key) for name in _adapter_checks(key, cases))
    trained = [k for k in keys if k != REFERENCE]
    for a, b in itertools.combinations(trained, 2):
        out.extend((name, f"{a}-{b}") for name in _pair_checks())
    return out


def round_trip_required(implementations: Sequence[str]) -> list[str]:
    """Frameworks whose conversion round trip must have passed (empty unless torch and another are published)."""
    fws = [fw for fw in ROUND_TRIP if fw in implementations]
    return fws if "torch" in fws and len(fws) >= 2 else []


def _run_spot(python: str, keys: Sequence[str], repo: Path, case: str) -> dict[str, dict[str, Any]]:
    cmd = [python, "-m", "conformance.spotcheck", "--case", case, *(a for k in keys for a in ("--impl", k))]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "GLOG_minloglevel": "2"}
    env.pop("PYTHONSAFEPATH", None)
    try:
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=SPOT_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"the spot check could not run {python!r}: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ValueError(f"the spot check in {python} failed: {last}")
    out = {}
    for line in proc.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "implementation" in row:
            out[str(row["implementation"])] = row
    return out


def spot_check(
    checks: Iterable[Any],
    pythons: Mapping[str, str],
    repo: str | os.PathLike[str],
    case: str = SPOT_CHECK_CASE,
) -> list[str]:
    """Re-run ``golden.head.<case>`` for each implementation in ``pythons`` (implementation -> interpreter;
    numpy-ref is run too, in ``pythons['numpy']`` or else the first interpreter given) and compare with the
    report's ``checks`` (CheckResult-like objects). Returns the disagreements, one line each (empty: agrees).
    """
    table = {(c.check, c.implementation): c for c in checks}
    wanted = dict(pythons)
    if REFERENCE not in wanted and wanted:
        wanted[REFERENCE] = next(iter(wanted.values()))
    problems: list[str] = []
    by_python: dict[str, list[str]] = {}
    for impl, python in wanted.items():
        by_python.setdefault(python, []).append(ADAPTER_KEYS.get(impl, (impl,))[0])
    for python, keys in by_python.items():
        try:
            rows = _run_spot(python, keys, Path(repo), case)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        for key in keys:
            name = f"golden.head.{case}"
            row = rows.get(key)
            reported = table.get((name, key))
            if row is None:
                problems.append(f"{name} [{key}]: the spot check in {python} gave no result")
                continue
            err, tol = row.get("max_error"), row.get("tolerance")
            if not isinstance(err, int | float) or not isinstance(tol, int | float) or not err <= tol:
                problems.append(f"{name} [{key}]: re-run now fails (max error {err!r} > tolerance {tol!r}): "
                                "the implementation is broken at this commit")
                continue
            if reported is None or reported.max_error is None or reported.tolerance is None:
                problems.append(f"{name} [{key}]: the report holds no measured error to compare the re-run with")
                continue
            if abs(reported.tolerance - tol) > 1e-9 * max(1.0, abs(tol)):
                problems.append(f"{name} [{key}]: the report's tolerance {reported.tolerance:.6g} is not the "
                                f"suite's {tol:.6g}")
            elif abs(reported.max_error - err) > SPOT_AGREEMENT * tol:
                problems.append(f"{name} [{key}]: the report says max error {reported.max_error:.3g}, the re-run "
                                f"measures {err:.3g} (tolerance {tol:.3g})")
    return problems


def synthetic_report(
    repo: str | os.PathLike[str],
    commit: str,
    implementations: Sequence[str] = ("torch",),
    versions: Mapping[str, str] | None = None,
    error: float = 1e-7,
    tolerance: float = 1e-5,
) -> dict[str, Any]:
    """A report dict holding every required check of ``implementations`` as passed, with valid digests.

    For tests of the gate (and a demonstration of its limit: anyone with the code can write one; only the
    re-run, :func:`spot_check`, compares it with what the implementations compute).
    """
    rows = [{"check": name, "implementation": impl, "status": "pass", "max_error": error,
             "tolerance": tolerance, "detail": ""} for name, impl in required_checks(implementations, golden_dir(repo))]
    chain = round_trip_required(implementations)
    if chain:
        rows += [{"check": f"round_trip.{case}", "implementation": "->".join([*chain, "torch"]), "status": "pass",
                  "max_error": 0.0, "tolerance": 0.0, "detail": ""} for case in ROUND_TRIP_CASES]
    return {
        "format": "enhancenet-conformance-report", "format_version": 2, "commit": commit, "dirty": False,
        "created": "2026-01-01T00:00:00+00:00", "versions": dict(versions or {"torch": "2.13.0"}),
        "golden_digest": golden_digest(golden_dir(repo)), "checks_digest": checks_digest(rows),
        "implementations": {i: {"status": "run"} for i in implementations}, "checks": rows, "passed": True,
    }
