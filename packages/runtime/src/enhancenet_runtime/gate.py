"""The publish gate: results may be published only behind a passing conformance report.

``nox -s conformance`` writes ``conformance/report.json`` (format below). Every command that publishes results
(results tables, model cards, ``nox -s reproduce``, the implementations' publishing verbs) first calls::

    from enhancenet_runtime.gate import require_passing_report
    report = require_passing_report(implementations=("torch",))

which returns the parsed :class:`ConformanceReport` or raises :class:`ConformanceGateError` whose message names
what is wrong: the report is missing, unreadable or lacks a mandatory field (``dirty``, ``versions``, the two
digests); a check failed (each failing check and implementation named, with its max error and tolerance); a
required check (:func:`enhancenet_runtime.gate_evidence.required_checks`) is missing or "not run"; the golden
tensors or the check table do not match the report's digests; the report was made on another commit, or from a
tree with uncommitted changes; a framework version differs from the one the report was made with; or, when
``pythons`` is given, a re-run of one golden head case (numpy-ref and each published framework, each in its own
interpreter) disagrees with the report.

What a file-based gate can and cannot detect: it detects stale reports (commit, versions, golden data),
incomplete ones (required checks), reports edited after the fact without recomputing the digest, and an
implementation that is broken at this commit (the re-run). Someone with the code can still write a report
that passes every one of these checks; the gate is a guard against mistakes, not against forgery.

Report format (``format`` = ``enhancenet-conformance-report``, ``format_version`` = ``2``)::

    {
      "format": "enhancenet-conformance-report", "format_version": 2,
      "commit": "<40 hex>", "dirty": false, "created": "<ISO 8601>",
      "versions": {"torch": "2.13.0", "paddlepaddle": "3.3.1", ...},   # framework distributions
      "golden_digest": "<sha256 of conformance/golden/data>", "checks_digest": "<sha256 of checks>",
      "implementations": {"torch": {"status": "run", "versions": {...}}, "mindspore": {"status": "not run",
                          "reason": "..."}},
      "checks": [{"check": "golden.head.head_L2", "implementation": "torch", "status": "pass" | "fail" |
                  "not run", "max_error": 1e-7, "tolerance": 1e-5, "detail": "..."}],
      "passed": true
    }

This module is framework-free: it never imports a framework (installed versions are read with
:mod:`importlib.metadata`) and uses ``git`` through a subprocess only to learn the current commit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from enhancenet_runtime.gate_evidence import (
    ROUND_TRIP_CASES,
    checks_digest,
    golden_digest,
    golden_dir,
    required_checks,
    round_trip_required,
    spot_check,
)

__all__ = [
    "FRAMEWORK_DISTRIBUTIONS",
    "REPORT_FORMAT",
    "REPORT_FORMAT_VERSION",
    "CheckResult",
    "ConformanceGateError",
    "ConformanceReport",
    "current_commit",
    "default_report_path",
    "installed_framework_versions",
    "read_report",
    "repository_root",
    "require_passing_report",
    "tree_is_dirty",
]

REPORT_FORMAT = "enhancenet-conformance-report"
REPORT_FORMAT_VERSION = 2
#: Distributions whose versions a report pins (implementation key -> PyPI distribution name).
FRAMEWORK_DISTRIBUTIONS: dict[str, str] = {
    "torch": "torch",
    "paddle": "paddlepaddle",
    "mindspore": "mindspore",
}
STATUSES = ("pass", "fail", "not run")


class ConformanceGateError(RuntimeError):
    """Publishing refused: no passing conformance report for this commit and these framework versions."""


@dataclass(frozen=True)
class CheckResult:
    """One check on one implementation."""

    check: str
    implementation: str
    status: str  # "pass", "fail" or "not run"
    max_error: float | None = None
    tolerance: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class ConformanceReport:
    """A parsed ``report.json`` (see the module docstring)."""

    commit: str
    dirty: bool
    versions: dict[str, str]
    checks: tuple[CheckResult, ...]
    implementations: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = ""
    path: Path | None = None
    golden_digest: str = ""
    checks_digest: str = ""
    #: the report was read from the repository's own ``conformance/report.json`` (no override, no --report)
    official: bool = False

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def passed(self) -> bool:
        """True when no check failed and at least one check passed."""
        return not self.failures and any(c.status == "pass" for c in self.checks)


def default_report_path(start: str | os.PathLike[str] | None = None) -> Path:
    """``<repository root>/conformance/report.json``; the root is the git top level of ``start`` (default cwd).

    ``ENHANCENET_CONFORMANCE_REPORT`` overrides the path (for checking a report kept elsewhere; a report found
    that way is never :attr:`ConformanceReport.official`, so it cannot publish into ``results/``).
    """
    env = os.environ.get("ENHANCENET_CONFORMANCE_REPORT")
    if env:
        return Path(env)
    return repository_root(start) / "conformance" / "report.json"


def repository_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The git top level of ``start`` (default: the current directory)."""
    return Path(_git(["rev-parse", "--show-toplevel"], Path(start) if start else Path.cwd()))


def _git(args: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConformanceGateError(
            f"cannot ask git about {cwd} ({' '.join(['git', *args])} failed: {exc}); the gate needs the "
            "repository's commit"
        ) from exc
    return out.stdout.strip()


def current_commit(repo: str | os.PathLike[str] | None = None) -> str:
    """``git rev-parse HEAD`` of the repository holding ``repo`` (default: the current directory)."""
    return _git(["rev-parse", "HEAD"], Path(repo) if repo else Path.cwd())


def tree_is_dirty(repo: str | os.PathLike[str] | None = None) -> bool:
    """Whether tracked files differ from HEAD (untracked files are ignored)."""
    return bool(_git(["status", "--porcelain", "--untracked-files=no"], Path(repo) if repo else Path.cwd()))


def installed_framework_versions() -> dict[str, str]:
    """Versions of the framework distributions installed in this interpreter (absent ones left out)."""
    out: dict[str, str] = {}
    for dist in FRAMEWORK_DISTRIBUTIONS.values():
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _float_or_none(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number or null, got {value!r}")
    return float(value)


def read_report(path: str | os.PathLike[str]) -> ConformanceReport:
    """Parse and validate ``report.json``; FileNotFoundError / ValueError name the file and the field."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"conformance report {p} not found")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable JSON conformance report ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ValueError(f"{p}: field 'format' must be {REPORT_FORMAT!r}")
    if data.get("format_version") != REPORT_FORMAT_VERSION:
        raise ValueError(f"{p}: field 'format_version' is {data.get('format_version')!r}, expected "
                         f"{REPORT_FORMAT_VERSION} (run `nox -s conformance` again)")
    commit = data.get("commit")
    if not isinstance(commit, str) or not commit:
        raise ValueError(f"{p}: field 'commit' must be a non-empty string")
    if not isinstance(data.get("dirty"), bool):
        raise ValueError(f"{p}: field 'dirty' must be true or false (is the tree the report was made from clean?)")
    if "versions" not in data:
        raise ValueError(f"{p}: field 'versions' is missing (distribution name -> version of each framework run)")
    versions = data["versions"]
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise ValueError(f"{p}: field 'versions' must map distribution names to version strings")
    for key in ("golden_digest", "checks_digest"):
        value = data.get(key)
        if not isinstance(value, str) or len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
            raise ValueError(f"{p}: field {key!r} must be a SHA-256 hex digest (64 lowercase hex digits)")
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list):
        raise ValueError(f"{p}: field 'checks' must be a list")
    checks = []
    for i, c in enumerate(raw_checks):
        where = f"{p}: checks[{i}]"
        if not isinstance(c, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("check", "implementation", "status"):
            if not isinstance(c.get(key), str):
                raise ValueError(f"{where}.{key}: expected a string")
        if c["status"] not in STATUSES:
            raise ValueError(f"{where}.status: expected one of {STATUSES}, got {c['status']!r}")
        checks.append(
            CheckResult(
                check=c["check"],
                implementation=c["implementation"],
                status=c["status"],
                max_error=_float_or_none(c.get("max_error"), f"{where}.max_error"),
                tolerance=_float_or_none(c.get("tolerance"), f"{where}.tolerance"),
                detail=str(c.get("detail", "")),
            )
        )
    if checks_digest(raw_checks) != data["checks_digest"]:
        raise ValueError(f"{p}: field 'checks_digest' does not match the check table (the table was changed "
                         "after the conformance suite wrote it)")
    impls = data.get("implementations", {})
    if not isinstance(impls, dict):
        raise ValueError(f"{p}: field 'implementations' must be an object")
    return ConformanceReport(
        commit=commit,
        dirty=data["dirty"],
        versions=dict(versions),
        checks=tuple(checks),
        implementations=impls,
        created=str(data.get("created", "")),
        path=p,
        golden_digest=data["golden_digest"],
        checks_digest=data["checks_digest"],
    )


def _describe(c: CheckResult) -> str:
    err = "" if c.max_error is None else f" (max error {c.max_error:.3g}"
    if err:
        err += "" if c.tolerance is None else f" > tolerance {c.tolerance:.3g}"
        err += ")"
    detail = f": {c.detail}" if c.detail else ""
    return f"{c.check} [{c.implementation}]{err}{detail}"


def require_passing_report(
    report_path: str | os.PathLike[str] | None = None,
    commit: str | None = None,
    versions: Mapping[str, str] | None = None,
    implementations: Iterable[str] | None = None,
    allow_dirty: bool = False,
    repo: str | os.PathLike[str] | None = None,
    pythons: Mapping[str, str] | None = None,
) -> ConformanceReport:
    """Return the conformance report when publishing is allowed, else raise :class:`ConformanceGateError`.

    Args:
        report_path: the report (default :func:`default_report_path` of ``repo``).
        commit: the commit being published; default ``git rev-parse HEAD`` of ``repo``.
        versions: distribution -> version the publisher runs with (e.g. ``{"torch": "2.13.0"}``); default the
            framework distributions installed in this interpreter (:func:`installed_framework_versions`)
            that the report records. Every given name must be in the report with the same version.
        implementations: implementations that will publish (``torch``, ``paddle``, ``mindspore``); their
            required checks (:func:`~enhancenet_runtime.gate_evidence.required_checks`) must all have passed, as
            must numpy-ref's and the spec's (required even when none is named), and each one's framework
            version must be recorded.
        allow_dirty: accept a report made from, or a current tree with, uncommitted changes to tracked files
            (development only; the commit then does not describe the code that was checked).
        repo: the repository being published from (default: the git top level of the current directory). Its
            commit, its tree and its golden tensors are what the report is checked against, wherever the
            report file lies.
        pythons: implementation -> interpreter; when given, one golden head case is re-run in each of them
            (and in numpy-ref) and must agree with the report (:func:`~enhancenet_runtime.gate_evidence.spot_check`).

    Refuses (in this order): missing, unreadable or incomplete report; a failing check (all of them named); a
    required check missing or not run; golden tensors that differ from the report's; commit mismatch; dirty
    tree; version mismatch; a re-run that disagrees with the report.
    """
    root = Path(repo) if repo is not None else repository_root()
    own = root / "conformance" / "report.json"
    if report_path is not None:
        path = Path(report_path)
    else:
        path = default_report_path(root)
    official = (report_path is None and not os.environ.get("ENHANCENET_CONFORMANCE_REPORT")
                and path.resolve() == own.resolve() and not allow_dirty)
    try:
        report = read_report(path)
    except FileNotFoundError as exc:
        raise ConformanceGateError(
            f"publishing refused: no conformance report at {path}; run `nox -s conformance` first"
        ) from exc
    except ValueError as exc:
        raise ConformanceGateError(f"publishing refused: {exc}") from exc
    if report.failures:
        listed = "\n  ".join(_describe(c) for c in report.failures)
        raise ConformanceGateError(
            f"publishing refused: {len(report.failures)} conformance check(s) failed in {path}:\n  {listed}"
        )
    if not any(c.status == "pass" for c in report.checks):
        raise ConformanceGateError(f"publishing refused: {path} holds no passing check")
    impls = list(implementations or ())
    for impl in impls:
        ran = [c for c in report.checks if c.implementation == impl and c.status == "pass"]
        if not ran:
            info = report.implementations.get(impl, {})
            reason = info.get("reason") if isinstance(info, dict) else None
            raise ConformanceGateError(
                f"publishing refused: implementation {impl!r} was not run by the conformance suite in {path}"
                + (f" ({reason})" if reason else "")
            )
    _require_checks(report, path, impls, root)
    try:
        here_golden = golden_digest(golden_dir(root))
    except FileNotFoundError as exc:
        raise ConformanceGateError(f"publishing refused: {exc}") from exc
    if report.golden_digest != here_golden:
        raise ConformanceGateError(
            f"publishing refused: the conformance report {path} was made against other golden tensors than "
            f"{golden_dir(root)} (golden_digest differs); run `nox -s conformance` again"
        )
    want_commit = commit if commit is not None else current_commit(root)
    if report.commit != want_commit:
        raise ConformanceGateError(
            f"publishing refused: the conformance report {path} is for commit {report.commit[:12]}, "
            f"but this is commit {want_commit[:12]}; run `nox -s conformance` again"
        )
    if not allow_dirty:
        if report.dirty:
            raise ConformanceGateError(
                f"publishing refused: the conformance report {path} was made from a tree with uncommitted "
                "changes; commit them and run `nox -s conformance` again"
            )
        if commit is None and tree_is_dirty(root):
            raise ConformanceGateError(
                "publishing refused: the working tree has uncommitted changes to tracked files, so the "
                f"report for {report.commit[:12]} does not describe this code; commit and rerun conformance"
            )
    _require_versions(report, path, impls, versions)
    if pythons:
        problems = spot_check(report.checks, pythons, root)
        if problems:
            raise ConformanceGateError(
                f"publishing refused: re-running a golden check disagrees with {path}: " + "; ".join(problems)
            )
    return dataclasses.replace(report, official=official)


def _require_checks(report: ConformanceReport, path: Path, impls: list[str], root: Path) -> None:
    try:
        required = required_checks(impls, golden_dir(root))
    except ValueError as exc:
        raise ConformanceGateError(f"publishing refused: {exc}") from exc
    passed = {(c.check, c.implementation) for c in report.checks if c.status == "pass"}
    missing = [f"{name} [{impl}]" for name, impl in required if (name, impl) not in passed]
    chain = round_trip_required(impls)
    if chain:
        for case in ROUND_TRIP_CASES:
            if not any(c.check == f"round_trip.{case}" and c.status == "pass"
                       and set(chain) <= set(c.implementation.split("->")) for c in report.checks):
                missing.append(f"round_trip.{case} [{'->'.join(chain)}]")
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise ConformanceGateError(
            f"publishing refused: {len(missing)} required conformance check(s) did not pass (missing or not "
            f"run) in {path}: {shown}; run the whole `nox -s conformance`"
        )


def _require_versions(report: ConformanceReport, path: Path, impls: list[str],
                      versions: Mapping[str, str] | None) -> None:
    missing = [FRAMEWORK_DISTRIBUTIONS[i] for i in impls
               if i in FRAMEWORK_DISTRIBUTIONS and FRAMEWORK_DISTRIBUTIONS[i] not in report.versions]
    if missing:
        raise ConformanceGateError(
            f"publishing refused: the conformance report {path} records no version of {', '.join(missing)}"
        )
    if versions is None:
        here = installed_framework_versions()
        want = {k: v for k, v in here.items() if k in report.versions}
    else:
        want = dict(versions)
    mismatched = []
    for dist, version in sorted(want.items()):
        if dist not in report.versions:
            mismatched.append(f"{dist} {version} (the report records no {dist})")
        elif report.versions[dist] != version:
            mismatched.append(f"{dist} {version} (the report was made with {report.versions[dist]})")
    if mismatched:
        raise ConformanceGateError(
            f"publishing refused: framework version mismatch with {path}: " + "; ".join(mismatched)
            + "; run `nox -s conformance` with these versions"
        )
