"""Which interpreter runs each framework's CLI (reproduce.runner.default_python)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reproduce.runner import default_python


def test_default_python_prefers_env_var_then_the_nox_env_then_this_interpreter(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENHANCENET_PADDLE_PYTHON", raising=False)
    assert default_python("paddle", root=tmp_path) == sys.executable  # nothing built yet

    nox_python = tmp_path / ".nox" / "env-paddle" / "bin" / "python"
    nox_python.parent.mkdir(parents=True)
    nox_python.write_text("")
    assert default_python("paddle", root=tmp_path) == str(nox_python)
    assert default_python("torch", root=tmp_path) == sys.executable  # another framework's env is not used

    monkeypatch.setenv("ENHANCENET_PADDLE_PYTHON", "/opt/paddle/bin/python")
    assert default_python("paddle", root=tmp_path) == "/opt/paddle/bin/python"
