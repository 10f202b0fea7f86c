"""Provenance of results and checkpoints (git commit, package versions); the atomic writes are the spec's
:mod:`enhancenet_core.files`, re-exported here for the runtime's callers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from enhancenet_core.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_default

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "git_commit",
    "json_default",
    "package_versions",
]


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``git rev-parse HEAD`` of the repository holding ``cwd`` (default: this file), ``None`` when unavailable."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def package_versions(*distributions: str) -> dict[str, str]:
    """``{distribution: version}`` of the installed ``distributions`` (``"unknown"`` for one not installed),
    plus Python's and NumPy's; recorded in ``results.json`` beside the git commit."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in distributions:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
