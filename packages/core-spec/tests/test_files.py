"""Atomic writes (enhancenet_core.files): one writer, the usual file mode everywhere, NumPy-free import."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from enhancenet_core.config import Config, save_config
from enhancenet_core.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from enhancenet_core.metrics.coco import write_keypoint_results


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_writer_gives_0644_under_umask_022(tmp_path, umask_022):
    paths = [
        atomic_write_bytes(tmp_path / "a.bin", b"x"),
        atomic_write_text(tmp_path / "b.txt", "x"),
        atomic_write_json(tmp_path / "c.json", {"a": 1}),
        save_config(Config(), tmp_path / "d.yaml"),
    ]
    write_keypoint_results(tmp_path / "e.json", [{"image_id": 1, "category_id": 1, "keypoints": [0.0] * 51, "score": 1.0}])
    paths.append(tmp_path / "e.json")
    assert {p.name: _mode(p) for p in paths} == {p.name: 0o644 for p in paths}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_mode_follows_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert _mode(path) == 0o600


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = atomic_write_text(tmp_path / "keep.json", "old")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_importing_the_writer_and_the_config_does_not_import_numpy():
    code = "import sys, enhancenet_core.files, enhancenet_core.config; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
