"""The publish gate as ``reproduce`` applies it: one passing conformance report for this commit and the
framework versions that will run; a framework the report did not run is left out (its reason recorded)."""

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
) -> GateResult:
    """Raise :class:`ConformanceGateError` (naming the failing check) unless publishing is allowed.

    Args:
        report_path: the report (None: ``conformance/report.json``).
        commit: the commit the results will be published for.
        versions: framework distribution -> version of every framework that will run.
        frameworks: frameworks that would run; each must have passing checks in the report and its version
            recorded there, else it is left out (``excluded``, with the gate's reason).
        repo: the repository (its tree must be clean unless ``allow_dirty``).
    """
    if not allow_dirty and tree_is_dirty(repo):
        raise ConformanceGateError(
            "publishing refused: the working tree has uncommitted changes to tracked files; commit them first"
        )
    report = require_passing_report(report_path, commit=commit, versions={}, allow_dirty=allow_dirty)
    excluded: dict[str, str] = {}
    for fw in frameworks:
        dist = FRAMEWORK_DISTRIBUTIONS.get(fw, fw)
        try:
            require_passing_report(report_path, commit=commit, implementations=(fw,),
                                   versions={dist: versions[dist]} if dist in versions else {},
                                   allow_dirty=allow_dirty)
        except ConformanceGateError as exc:
            excluded[fw] = str(exc)
    return GateResult(report, commit, excluded)
