"""The publish gate refuses without a complete, passing, current report that agrees with a re-run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enhancenet_runtime import gate_evidence
from enhancenet_runtime.gate import (
    ConformanceGateError,
    current_commit,
    read_report,
    require_passing_report,
)
from enhancenet_runtime.gate_evidence import checks_digest, required_checks, synthetic_report

ROOT = Path(__file__).resolve().parents[3]
COMMIT = "a" * 40
VERSIONS = {"torch": "2.13.0"}


def _write(path: Path, data: dict, redigest: bool = True) -> Path:
    if redigest:
        data["checks_digest"] = checks_digest(data["checks"])
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _good(impls=("torch", "paddle"), **kw) -> dict:
    return synthetic_report(ROOT, COMMIT, impls, {"torch": "2.13.0", "paddlepaddle": "3.3.1"}, **kw)


def _gate(path: Path, **kw):
    kw.setdefault("commit", COMMIT)
    kw.setdefault("versions", VERSIONS)
    kw.setdefault("repo", ROOT)
    return require_passing_report(path, **kw)


def test_complete_report_is_accepted(tmp_path: Path) -> None:
    report = _gate(_write(tmp_path / "report.json", _good()), implementations=["torch", "paddle"])
    assert report.passed and report.commit == COMMIT
    assert not report.official  # an explicit path never counts as the repository's own report
    assert {"numpy", "torch", "paddle", "spec", "torch-paddle"} <= {c.implementation for c in report.checks}


def test_failing_check_is_refused_by_name(tmp_path: Path) -> None:
    data = _good()
    data["checks"].append({"check": "train_step.head.grads", "implementation": "paddle", "status": "fail",
                           "max_error": 3e-3, "tolerance": 1e-4})
    with pytest.raises(ConformanceGateError) as err:
        _gate(_write(tmp_path / "report.json", data))
    msg = str(err.value)
    assert "train_step.head.grads [paddle]" in msg and "0.003" in msg and "0.0001" in msg
    assert "golden.head.head_L2" not in msg  # passing checks are not blamed


def test_hand_written_pass_with_the_rest_not_run_is_refused(tmp_path: Path) -> None:
    """One passing check per framework, everything else "not run": the required set is not met."""
    data = _good()
    data["checks"] = [{"check": "golden.head.head_L2", "implementation": impl, "status": "pass",
                       "max_error": 1e-7, "tolerance": 1e-5} for impl in ("numpy", "torch", "paddle")]
    data["checks"] += [{"check": "all", "implementation": "mindspore", "status": "not run", "max_error": None,
                        "tolerance": None}]
    with pytest.raises(ConformanceGateError, match=r"required conformance check\(s\) did not pass.*spec\.test_"):
        _gate(_write(tmp_path / "report.json", data), implementations=["torch"])


@pytest.mark.parametrize(("impls", "dropped"), [
    (["torch"], ("golden.head.head_L4", "torch")),  # every golden head case of the manifest
    (["torch"], ("golden.base.base_hrnet_w32.hr", "numpy")),  # the reference's checks are always required
    (["torch"], ("spec.test_coco_eval", "spec")),
    (["torch"], ("train_step.r18.written", "torch")),
    (["torch", "paddle"], ("train_parity.r18.bn_running_stats", "torch-paddle")),
    (["mindspore"], ("ps.every_index.paper.r5", "mindspore-graph")),  # both MindSpore modes
    (["torch"], ("grouping.ae_tiny.people", "torch")),  # bottom-up: grouping parity and the AE training step
    (["paddle"], ("train_step.ae.loss_vs_numpy_float64", "paddle")),
    (["torch", "mindspore"], ("train_parity.ae.grads", "torch-mindspore-graph")),
])
def test_each_required_check_is_required(tmp_path: Path, impls: list[str], dropped: tuple[str, str]) -> None:
    data = synthetic_report(ROOT, COMMIT, impls, {"torch": "2.13.0", "paddlepaddle": "3.3.1", "mindspore": "2.8.0"})
    assert dropped in required_checks(impls, ROOT / "conformance" / "golden" / "data")
    kept = [c for c in data["checks"] if (c["check"], c["implementation"]) != dropped]
    assert len(kept) == len(data["checks"]) - 1
    _gate(_write(tmp_path / "full.json", data), implementations=impls, versions={})
    data["checks"] = [*kept, {"check": dropped[0], "implementation": dropped[1], "status": "not run"}]
    with pytest.raises(ConformanceGateError, match=rf"1 required .*{dropped[0]} \[{dropped[1]}\]"):
        _gate(_write(tmp_path / "r.json", data), implementations=impls, versions={})
    data["checks"] = kept
    with pytest.raises(ConformanceGateError, match=rf"{dropped[0]} \[{dropped[1]}\]"):
        _gate(_write(tmp_path / "r.json", data), implementations=impls, versions={})


def test_round_trip_is_required_when_two_frameworks_publish(tmp_path: Path) -> None:
    data = _good()
    data["checks"] = [c for c in data["checks"] if not c["check"].startswith("round_trip.hourglass")]
    with pytest.raises(ConformanceGateError, match=r"round_trip\.hourglass_2_deconv \[torch->paddle\]"):
        _gate(_write(tmp_path / "r.json", data), implementations=["torch", "paddle"])
    _gate(_write(tmp_path / "r.json", data), implementations=["torch"])  # one framework: no round trip needed


@pytest.mark.parametrize(("field", "value", "message"), [
    ("dirty", None, "field 'dirty' must be true or false"),
    ("dirty", "no", "field 'dirty' must be true or false"),
    ("versions", None, "field 'versions' is missing"),
    ("golden_digest", None, "field 'golden_digest' must be a SHA-256"),
    ("checks_digest", "0" * 63, "field 'checks_digest' must be a SHA-256"),
    ("format_version", 1, r"'format_version' is 1, expected 2"),
])
def test_mandatory_fields(tmp_path: Path, field: str, value, message: str) -> None:
    data = _good()
    if value is None:
        del data[field]
    else:
        data[field] = value
    path = _write(tmp_path / "r.json", data, redigest=field != "checks_digest")
    with pytest.raises(ConformanceGateError, match=message):
        _gate(path)


def test_check_table_edited_after_the_fact_is_refused(tmp_path: Path) -> None:
    data = _good()
    data["checks"].append({"check": "golden.head.head_L2", "implementation": "torch", "status": "fail",
                           "max_error": 1.0, "tolerance": 1e-5})
    _write(tmp_path / "r.json", data)
    data["checks"][-1]["status"] = "pass"  # the failure hidden, the digest left as the suite wrote it
    path = _write(tmp_path / "r.json", data, redigest=False)
    with pytest.raises(ConformanceGateError, match="'checks_digest' does not match the check table"):
        _gate(path)


def test_other_golden_tensors_are_refused(tmp_path: Path) -> None:
    data = _good()
    data["golden_digest"] = "f" * 64
    with pytest.raises(ConformanceGateError, match="other golden tensors"):
        _gate(_write(tmp_path / "r.json", data))


def test_stale_commit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConformanceGateError, match=r"commit aaaaaaaaaaaa.*this is commit bbbbbbbbbbbb"):
        _gate(_write(tmp_path / "r.json", _good()), commit="b" * 40)


def test_version_mismatch_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.json", _good())
    with pytest.raises(ConformanceGateError, match=r"torch 2\.12\.0 \(the report was made with 2\.13\.0\)"):
        _gate(path, versions={"torch": "2.12.0"})
    with pytest.raises(ConformanceGateError, match=r"mindspore 2\.8\.0 \(the report records no mindspore\)"):
        _gate(path, versions={"mindspore": "2.8.0"})
    data = _good()
    data["versions"] = {"paddlepaddle": "3.3.1"}
    with pytest.raises(ConformanceGateError, match="records no version of torch"):
        _gate(_write(tmp_path / "r.json", data), implementations=["torch"], versions={})


def test_missing_report_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConformanceGateError, match=r"no conformance report at .*nope\.json.*nox -s conformance"):
        _gate(tmp_path / "nope.json")


def test_implementation_not_run_is_refused_with_reason(tmp_path: Path) -> None:
    data = _good()
    data["implementations"]["mindspore"] = {"status": "not run", "reason": "no adapter yet"}
    with pytest.raises(ConformanceGateError, match=r"'mindspore' was not run .*no adapter yet"):
        _gate(_write(tmp_path / "r.json", data), implementations=["mindspore"])


def test_dirty_report_is_refused_unless_allowed(tmp_path: Path) -> None:
    data = _good()
    data["dirty"] = True
    path = _write(tmp_path / "r.json", data)
    with pytest.raises(ConformanceGateError, match="uncommitted changes"):
        _gate(path)
    assert _gate(path, allow_dirty=True).dirty


def test_malformed_reports_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConformanceGateError, match="not a readable JSON"):
        _gate(bad)
    data = _good()
    data["checks"] = [{"check": "x", "implementation": "torch", "status": "maybe"}]
    with pytest.raises(ValueError, match=r"checks\[0\]\.status"):
        read_report(_write(tmp_path / "r.json", data))
    data["checks"] = [{"check": "x", "implementation": "torch", "status": "not run"}]
    with pytest.raises(ConformanceGateError, match="no passing check"):
        _gate(_write(tmp_path / "r.json", data))


def _repo(path: Path) -> Path:
    """A one-commit git repository holding a copy of the golden tensors."""
    shutil.copytree(ROOT / "conformance" / "golden" / "data", path / "conformance" / "golden" / "data")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "f.txt").write_text("x", encoding="utf-8")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], check=True)
    return path


def test_default_commit_and_tree_come_from_the_publishing_repository(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENHANCENET_CONFORMANCE_REPORT", raising=False)
    repo = _repo(tmp_path / "repo")
    head = current_commit(repo)
    _write(repo / "conformance" / "report.json", synthetic_report(repo, head, ["torch"]))
    report = require_passing_report(repo=repo, versions={})
    assert report.commit == head and report.official
    assert not require_passing_report(repo=repo, versions={}, allow_dirty=True).official
    (repo / "f.txt").write_text("changed", encoding="utf-8")
    with pytest.raises(ConformanceGateError, match="working tree has uncommitted changes"):
        require_passing_report(repo=repo, versions={})


def test_environment_override_checks_this_tree_and_is_never_official(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A report of another clean checkout (same commit) does not let a dirty tree pass."""
    here = _repo(tmp_path / "here")
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(here), str(other)], check=True)
    shutil.copytree(here / "conformance", other / "conformance", dirs_exist_ok=True)
    _write(other / "conformance" / "report.json", synthetic_report(other, current_commit(other), ["torch"]))
    monkeypatch.setenv("ENHANCENET_CONFORMANCE_REPORT", str(other / "conformance" / "report.json"))
    report = require_passing_report(repo=here, versions={})
    assert not report.official  # found through the override: may never publish into results/
    (here / "f.txt").write_text("changed", encoding="utf-8")
    with pytest.raises(ConformanceGateError, match="working tree has uncommitted changes"):
        require_passing_report(repo=here, versions={})


# ------------------------------------------------------------------------------------------- the re-run
def _fake_rerun(monkeypatch: pytest.MonkeyPatch, errors: dict[str, float], tolerance: float = 1e-5) -> list:
    calls: list = []

    def run(python, keys, repo, case):
        calls.append((python, tuple(keys)))
        return {k: {"implementation": k, "max_error": errors[k], "tolerance": tolerance} for k in keys}

    monkeypatch.setattr(gate_evidence, "_run_spot", run)
    return calls


def test_rerun_that_agrees_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_rerun(monkeypatch, {"numpy": 1.2e-7, "torch": 1e-7, "paddle": 0.9e-7})
    path = _write(tmp_path / "r.json", _good())
    _gate(path, implementations=["torch", "paddle"], pythons={"torch": "/t/python", "paddle": "/p/python"})
    # each framework in its own interpreter; numpy-ref in the first one given when no numpy interpreter is
    assert sorted(calls) == [("/p/python", ("paddle",)), ("/t/python", ("torch", "numpy"))]


def test_rerun_that_disagrees_with_the_report_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_rerun(monkeypatch, {"numpy": 1e-7, "torch": 4e-6})
    with pytest.raises(ConformanceGateError, match=r"golden\.head\.head_L2 \[torch\]: the report says max error "
                                                   r"1e-07, the re-run measures 4e-06"):
        _gate(_write(tmp_path / "r.json", _good()), implementations=["torch"], pythons={"torch": "py"})


def test_rerun_of_a_broken_implementation_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_rerun(monkeypatch, {"numpy": 1e-7, "torch": 0.3})
    with pytest.raises(ConformanceGateError, match=r"\[torch\]: re-run now fails .*broken at this commit"):
        _gate(_write(tmp_path / "r.json", _good()), implementations=["torch"], pythons={"torch": "py"})


def _numpy_ref_python() -> str | None:
    probe = "import enhancenet_numpy, conformance"
    for python in (ROOT / ".nox" / "env-numpy" / "bin" / "python", Path(sys.executable)):
        if python.is_file() and subprocess.run([str(python), "-c", probe], cwd=ROOT, capture_output=True,
                                               check=False).returncode == 0:
            return str(python)
    return None


def test_real_rerun_of_numpy_ref_against_a_forged_report(tmp_path: Path) -> None:
    """conformance.spotcheck really runs: numpy-ref's float32 head vs the golden output."""
    python = _numpy_ref_python()
    if python is None:
        pytest.skip("no interpreter with enhancenet-numpy (.nox/env-numpy) to re-run numpy-ref in")
    rows = gate_evidence._run_spot(python, ["numpy"], ROOT, "head_L2")
    err, tol = rows["numpy"]["max_error"], rows["numpy"]["tolerance"]
    assert 0 <= err <= tol and tol >= 1e-5
    honest = _good(error=err, tolerance=tol)
    _gate(_write(tmp_path / "honest.json", honest), pythons={"numpy": python})
    forged = _good(error=err + 0.5 * tol, tolerance=tol)  # plausible, passing, but not what the code computes
    with pytest.raises(ConformanceGateError, match=r"\[numpy\]: the report says max error"):
        _gate(_write(tmp_path / "forged.json", forged), pythons={"numpy": python})
