"""The gate: a failing report refuses and writes nothing; a passing one lets the harness go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enhancenet_runtime.gate import ConformanceGateError, current_commit
from enhancenet_runtime.gate_evidence import checks_digest, synthetic_report
from reproduce import cli, runner
from reproduce.gatecheck import check_gate
from reproduce.runner import ROOT, FrameworkInfo


def _report(path: Path, commit: str, failing: bool) -> Path:
    data = synthetic_report(ROOT, commit, ["torch"], {"torch": "2.13.0"})
    if failing:
        data["checks"].append({"check": "train_parity.r18.bn_running_stats", "implementation": "torch-paddle",
                               "status": "fail", "max_error": 0.15, "tolerance": 1e-5, "detail": "running_var"})
        data["checks_digest"] = checks_digest(data["checks"])
        data["passed"] = False
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "probe_framework",
                        lambda fw, python, timeout=120.0: FrameworkInfo(fw, python, "2.13.0", True))


def _args(tmp_path: Path, report: Path) -> list[str]:
    return ["--quick", "--frameworks", "torch", "--report", str(report), "--allow-dirty",
            "--results-root", str(tmp_path / "results"), "--work-dir", str(tmp_path / "work"),
            "--bench-dir", str(tmp_path / "bench")]


def test_failing_report_refuses_and_writes_nothing(tmp_path: Path, fake_torch: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "report.json", current_commit(ROOT), failing=True)
    assert cli.main(_args(tmp_path, report)) == 2
    err = capsys.readouterr().err
    assert "train_parity.r18.bn_running_stats" in err and "refused" in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "work").exists()
    assert not (tmp_path / "bench").exists()


def test_report_for_another_commit_refuses(tmp_path: Path, fake_torch: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "report.json", "0" * 40, failing=False)
    assert cli.main(_args(tmp_path, report)) == 2
    assert "000000000000" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_missing_report_refuses(tmp_path: Path, fake_torch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_args(tmp_path, tmp_path / "nope.json")) == 2
    assert "no conformance report" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_passing_report_goes_on(tmp_path: Path, fake_torch: None, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "report.json", current_commit(ROOT), failing=False)
    assert cli.main([*_args(tmp_path, report), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "trainings" in out
    assert not (tmp_path / "results").exists()  # --plan runs and writes nothing


def test_passing_report_leaves_out_frameworks_it_did_not_run(tmp_path: Path) -> None:
    commit = current_commit(ROOT)
    report = _report(tmp_path / "report.json", commit, failing=False)
    res = check_gate(report, commit, {"torch": "2.13.0", "paddlepaddle": "3.3.1"}, ["torch", "paddle"], ROOT,
                     allow_dirty=True)
    assert set(res.excluded) == {"paddle"} and "paddle" in res.excluded["paddle"]
    res = check_gate(report, commit, {"torch": "9.9"}, ["torch"], ROOT, allow_dirty=True)
    assert "torch" in res.excluded and "version" in res.excluded["torch"]
    with pytest.raises(ConformanceGateError, match="bn_running_stats"):
        check_gate(_report(tmp_path / "bad.json", commit, failing=True), commit, {}, ["torch"], ROOT,
                   allow_dirty=True)


def test_test_reports_may_not_publish_into_the_repository(tmp_path: Path, fake_torch: None,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path / "report.json", current_commit(ROOT), failing=False)
    args = _args(tmp_path, report)
    args[args.index("--results-root") + 1] = str(ROOT / "results")
    assert cli.main(args) == 2
    assert "results/" in capsys.readouterr().err


def test_environment_override_may_not_publish_into_the_repository(tmp_path: Path, fake_torch: None,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """ENHANCENET_CONFORMANCE_REPORT (e.g. another clean checkout's report) never reaches results/."""
    report = _report(tmp_path / "report.json", current_commit(ROOT), failing=False)
    monkeypatch.setenv("ENHANCENET_CONFORMANCE_REPORT", str(report))
    assert cli.main(["--quick", "--frameworks", "torch", "--plan", "--work-dir", str(tmp_path / "work"),
                     "--bench-dir", str(tmp_path / "bench")]) == 2
    assert "ENHANCENET_CONFORMANCE_REPORT" in capsys.readouterr().err


def test_only_the_official_report_publishes_into_results(tmp_path: Path, fake_torch: None,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Even past the argument check, a report the gate did not read from conformance/report.json is refused."""
    report = _report(tmp_path / "report.json", current_commit(ROOT), failing=False)
    accepted = check_gate(report, current_commit(ROOT), {"torch": "2.13.0"}, ["torch"], ROOT, allow_dirty=True)
    assert not accepted.report.official
    monkeypatch.setattr(cli, "check_gate", lambda *a, **k: accepted)
    monkeypatch.delenv("ENHANCENET_CONFORMANCE_REPORT", raising=False)
    assert cli.main(["--quick", "--frameworks", "torch", "--plan", "--work-dir", str(tmp_path / "work"),
                     "--bench-dir", str(tmp_path / "bench")]) == 2
    assert "only the repository's own conformance/report.json" in capsys.readouterr().err


def test_rerun_disagreement_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from enhancenet_runtime import gate_evidence

    commit = current_commit(ROOT)
    report = _report(tmp_path / "report.json", commit, failing=False)
    monkeypatch.setattr(gate_evidence, "_run_spot", lambda python, keys, repo, case: {
        k: {"implementation": k, "max_error": 0.5, "tolerance": 1e-5} for k in keys})
    with pytest.raises(ConformanceGateError, match=r"golden\.head\.head_L2 \[torch\]: re-run now fails"):
        check_gate(report, commit, {"torch": "2.13.0"}, ["torch"], ROOT, allow_dirty=True,
                   pythons={"torch": "py"})
