"""The fuzz suite (``nox -s fuzz``): prints how many bad inputs each strategy fed and how many were refused."""

from __future__ import annotations

import _fuzzkit


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    _fuzzkit.terminal_summary(terminalreporter)
