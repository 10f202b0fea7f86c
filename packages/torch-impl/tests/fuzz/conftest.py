"""The torch command line's fuzz suite (``nox -s fuzz``, torch environment); shares the runtime suite's kit."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "runtime" / "tests" / "fuzz"))

import _fuzzkit


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    _fuzzkit.terminal_summary(terminalreporter)
