"""Developer entry points. Each implementation gets its own virtualenv.

    nox -s conformance   # the main job: every implementation checked against numpy-ref golden tensors
    nox -s tests         # every package's unit tests, each in its own virtualenv
    nox -s lint          # ruff
    nox -s bench         # benchmarks/ (ratios measured in one run)
    nox -s reproduce     # the paper's experiments at CPU scale (behind the conformance gate)
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"

# package key -> (directory, pip requirements installed into its virtualenv, in order)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("packages/core-spec", ("-e", "packages/core-spec[test]")),
    "numpy": ("packages/numpy-ref", ("-e", "packages/core-spec[test]", "-e", "packages/numpy-ref[test]")),
    "torch": (
        "packages/torch-impl",
        (
            "torch==2.13.0",
            "-e", "packages/core-spec[test]",
            "-e", "packages/numpy-ref[test]",
            "-e", "packages/torch-impl[test]",
        ),
    ),
}

# Implementations that are planned but not written yet: their test sessions skip and say why.
NOT_YET = {
    "paddle": "enhancenet-paddle is not implemented yet (issue 5)",
    "mindspore": "enhancenet-mindspore is not implemented yet (issue 8)",
}


def _install(session: nox.Session, requirements: tuple[str, ...]) -> None:
    session.install(*CONSTRAINTS, *requirements)


@nox.session
@nox.parametrize("package", [*PACKAGES, *NOT_YET])
def tests(session: nox.Session, package: str) -> None:
    """Unit tests of one package in its own virtualenv."""
    if package in NOT_YET:
        session.skip(NOT_YET[package])
    directory, requirements = PACKAGES[package]
    _install(session, requirements)
    session.run("pytest", "-c", "pyproject.toml", "--rootdir", ".", f"{directory}/tests", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
