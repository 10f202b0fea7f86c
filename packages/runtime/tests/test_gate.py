"""The publish gate refuses without a passing report for this commit and these versions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from enhancenet_runtime.gate import (
    REPORT_FORMAT,
    ConformanceGateError,
    current_commit,
    read_report,
    require_passing_report,
)

COMMIT = "a" * 40


def _report(path: Path, checks: list[dict], commit: str = COMMIT, dirty: bool = False, **extra) -> Path:
    data = {
        "format": REPORT_FORMAT,
        "format_version": 1,
        "commit": commit,
        "dirty": dirty,
        "versions": {"torch": "2.13.0", "paddlepaddle": "3.3.1"},
        "implementations": {"mindspore": {"status": "not run", "reason": "no adapter yet"}},
        "checks": checks,
        **extra,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _check(name: str, impl: str, status: str = "pass", err: float = 1e-7, tol: float = 1e-5) -> dict:
    return {"check": name, "implementation": impl, "status": status, "max_error": err, "tolerance": tol}


GOOD = [_check("golden.head.head_L2", "torch"), _check("golden.head.head_L2", "paddle"),
        {"check": "golden.head.head_L2", "implementation": "mindspore", "status": "not run"}]
VERSIONS = {"torch": "2.13.0"}


def test_passing_report_is_accepted(tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", GOOD)
    report = require_passing_report(path, commit=COMMIT, versions=VERSIONS, implementations=["torch", "paddle"])
    assert report.passed
    assert report.commit == COMMIT
    assert {c.implementation for c in report.checks} == {"torch", "paddle", "mindspore"}


def test_failing_check_is_refused_by_name(tmp_path: Path) -> None:
    checks = [*GOOD, _check("train_step.head.grads", "paddle", "fail", 3e-3, 1e-4)]
    path = _report(tmp_path / "report.json", checks)
    with pytest.raises(ConformanceGateError) as err:
        require_passing_report(path, commit=COMMIT, versions=VERSIONS)
    msg = str(err.value)
    assert "train_step.head.grads [paddle]" in msg
    assert "0.003" in msg and "0.0001" in msg
    assert "golden.head.head_L2" not in msg  # passing checks are not blamed


def test_stale_commit_is_refused(tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", GOOD)
    with pytest.raises(ConformanceGateError, match=r"commit aaaaaaaaaaaa.*this is commit bbbbbbbbbbbb"):
        require_passing_report(path, commit="b" * 40, versions=VERSIONS)


def test_version_mismatch_is_refused(tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", GOOD)
    with pytest.raises(ConformanceGateError, match=r"torch 2\.12\.0 \(the report was made with 2\.13\.0\)"):
        require_passing_report(path, commit=COMMIT, versions={"torch": "2.12.0"})
    with pytest.raises(ConformanceGateError, match=r"mindspore 2\.8\.0 \(the report records no mindspore\)"):
        require_passing_report(path, commit=COMMIT, versions={"mindspore": "2.8.0"})


def test_missing_report_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConformanceGateError, match=r"no conformance report at .*nope\.json.*nox -s conformance"):
        require_passing_report(tmp_path / "nope.json", commit=COMMIT, versions=VERSIONS)


def test_implementation_not_run_is_refused_with_reason(tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", GOOD)
    with pytest.raises(ConformanceGateError, match=r"'mindspore' was not run .*no adapter yet"):
        require_passing_report(path, commit=COMMIT, versions=VERSIONS, implementations=["mindspore"])


def test_dirty_report_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", GOOD, dirty=True)
    with pytest.raises(ConformanceGateError, match="uncommitted changes"):
        require_passing_report(path, commit=COMMIT, versions=VERSIONS)
    assert require_passing_report(path, commit=COMMIT, versions=VERSIONS, allow_dirty=True).dirty


def test_malformed_reports_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConformanceGateError, match="not a readable JSON"):
        require_passing_report(bad, commit=COMMIT, versions=VERSIONS)
    path = _report(tmp_path / "r.json", [{"check": "x", "implementation": "torch", "status": "maybe"}])
    with pytest.raises(ValueError, match=r"checks\[0\]\.status"):
        read_report(path)
    path = _report(tmp_path / "empty.json", [{"check": "x", "implementation": "torch", "status": "not run"}])
    with pytest.raises(ConformanceGateError, match="no passing check"):
        require_passing_report(path, commit=COMMIT, versions=VERSIONS)


def test_default_commit_and_versions_come_from_git_and_this_interpreter(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "conformance").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f.txt").write_text("x", encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], check=True)
    head = current_commit(repo)
    path = _report(repo / "conformance" / "report.json", GOOD, commit=head)
    # this interpreter's installed framework versions are compared only where the report records them
    report = require_passing_report(path, versions={})
    assert report.commit == head
    (repo / "f.txt").write_text("changed", encoding="utf-8")
    with pytest.raises(ConformanceGateError, match="working tree has uncommitted changes"):
        require_passing_report(path, versions={})
