"""The fuzz suite (``nox -s fuzz``): prints how many bad inputs each strategy fed and how many were refused."""

from __future__ import annotations

import _fuzzkit


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _fuzzkit.TALLY:
        return
    fed = sum(c["fed"] for c in _fuzzkit.TALLY.values())
    ok = sum(c["refused"] for c in _fuzzkit.TALLY.values())
    terminalreporter.section("fuzz: bad inputs fed through the command lines")
    for kind, c in sorted(_fuzzkit.TALLY.items()):
        terminalreporter.write_line(f"{kind:<28} {c['fed']:>5} fed, {c['refused']:>5} refused cleanly")
    terminalreporter.write_line(f"{'total':<28} {fed:>5} fed, {ok:>5} refused cleanly "
                                "(a strategy stops at its first failure; see its test)")
