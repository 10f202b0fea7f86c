"""Fixtures shared by every package's tests: where the real sample data lives.

The samples are read in place from ``../shared/data`` beside the repository (never copied into it);
``ENHANCENET_SHARED_DATA`` overrides the location. A missing sample directory is an error, not a skip:
the tests that need real data must not pass silently without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent


def _shared_data_dir() -> Path:
    env = os.environ.get("ENHANCENET_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"sample data directory {path} not found: expected ../shared/data beside the repository "
            "(or set ENHANCENET_SHARED_DATA)"
        )
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return _shared_data_dir()


@pytest.fixture(scope="session")
def coco_sample_dir(shared_data_dir: Path) -> Path:
    """4 COCO val2017 images, ``test_coco.json`` and ``test_coco_det_AP_H_56.json``."""
    return shared_data_dir / "coco_sample"


@pytest.fixture(scope="session")
def mpii_sample_dir(shared_data_dir: Path) -> Path:
    """5 MPII images and ``test_mpii.json`` (HRNet-style JSON, no head boxes)."""
    return shared_data_dir / "mpii_sample"
