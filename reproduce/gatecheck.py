"""The publish gate as ``reproduce`` applies it: one passing conformance report for this commit and the
framework versions that will run; a framework the report did not run is left out (its reason recorded); the
frameworks that will run must also have passed their pairwise checks, and (unless only planning) one golden
head case is re-run in numpy-ref and in each of them and must agree with the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from enhancenet_runtime.gate import (
    FRAMEWORK_DISTRIBUTIONS,
    ConformanceGateError,
    ConformanceReport,
    require_passing_report,
    tree_is_dirty,
)

__all__ = ["GateResult", "check_gate"]


@dataclass(frozen=True)
class GateResult:
    """The accepted report, and the frameworks the gate leaves out (framework -> reason)."""

    report: ConformanceReport
    commit: str
    excluded: dict[str, str] = field(default_factory=dict)


def check_gate(
    report_path: Path | None,
    commit: str,
    versions: Mapping[str, str],
    frameworks: list[str],
    repo: Path,
    allow_dirty: bool = False,
    pythons: Mapping[str, str] | None = None,
) -> GateResult:
    """Raise :class:`ConformanceGateError` (naming the failing check) unless publishing is allowed.

    Args:
        report_path: the report (None: ``conformance/report.json``).
        commit: the commit the results will be published for.
        versions: framework distribution -> version of every framework that will run.
        frameworks: frameworks that would run; each must have passing checks in the report and its version
            recorded there, else it is left out (``excluded``, with the gate's reason).
        repo: the repository (its tree must be clean unless ``allow_dirty``).
        pythons: implementation -> interpreter for the re-run (``numpy`` optional); None: no re-run.
    """
    if not allow_dirty and tree_is_dirty(repo):
        raise ConformanceGateError(
            "publishing refused: the working tree has uncommitted changes to tracked files; commit them first"
        )
    report = require_passing_report(report_path, commit=commit, versions={}, allow_dirty=allow_dirty, repo=repo)
    excluded: dict[str, str] = {}
    for fw in frameworks:
        dist = FRAMEWORK_DISTRIBUTIONS.get(fw, fw)
        try:
            require_passing_report(report_path, commit=commit, implementations=(fw,),
                                   versions={dist: versions[dist]} if dist in versions else {},
                                   allow_dirty=allow_dirty, repo=repo)
        except ConformanceGateError as exc:
            excluded[fw] = str(exc)
    run = [fw for fw in frameworks if fw not in excluded]
    if len(run) > 1 or pythons is not None:  # pairwise checks among those that run, then the re-run
        spot = None if pythons is None else {k: v for k, v in pythons.items() if k in run or k == "numpy"}
        report = require_passing_report(report_path, commit=commit, versions={}, implementations=run,
                                        allow_dirty=allow_dirty, repo=repo, pythons=spot if run else None)
    return GateResult(report, commit, excluded)
