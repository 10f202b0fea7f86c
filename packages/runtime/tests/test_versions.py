"""Each distribution's ``__version__`` (what ``--version`` prints) equals the version its pyproject builds.

Read from the files (not imported), so the frameworks need not be installed here; ``nox -s install_check``
checks the same on the installed wheels.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))


def _module_version(init: Path) -> str:
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{init}: no __version__")


def test_every_package_is_found() -> None:
    assert len(PACKAGES) == 6, [p.name for p in PACKAGES]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_module_version_is_the_distribution_version(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    module = project["name"].replace("-", "_")
    init = package / "src" / module / "__init__.py"
    assert _module_version(init) == project["version"], f"{init} vs {package / 'pyproject.toml'}"
