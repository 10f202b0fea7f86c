"""enhancenet_runtime.engine.io and .logs: atomic writes keep the old file on failure, JSON values, provenance,
the resumable CSV log and the progress bar."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from enum import Enum
from pathlib import Path

import numpy as np
import pytest

from enhancenet_runtime.engine import io as eio
from enhancenet_runtime.engine.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    git_commit,
    json_default,
    package_versions,
)
from enhancenet_runtime.engine.logs import LOG_FIELDS, CsvLog, progress_bar


def test_atomic_write_replaces_and_gives_the_usual_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, memoryview(b"new bytes"))
    assert path.read_bytes() == b"new bytes"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "results.json"
    atomic_write_json(path, {"metric": 1.0})
    before = path.read_bytes()

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(eio.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(path, {"metric": 2.0})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    with pytest.raises(TypeError, match="cannot write object to JSON"):  # unserialisable: nothing written
        atomic_write_json(path, {"x": object()})
    assert path.read_bytes() == before


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "no"))):
        atomic_write_text(tmp_path / "no" / "f.txt", "x")
    atomic_write_text(tmp_path / "yes" / "f.txt", "é", make_parents=True)
    assert (tmp_path / "yes" / "f.txt").read_text(encoding="utf-8") == "é"


def test_json_values(tmp_path: Path) -> None:
    class Color(str, Enum):
        RED = "red"

    obj = {"a": np.float32(0.5), "b": np.arange(3), "c": tmp_path / "x", "d": Color.RED, "e": np.int64(7)}
    atomic_write_json(tmp_path / "v.json", obj)
    text = (tmp_path / "v.json").read_text()
    assert text.endswith("\n")
    assert json.loads(text) == {"a": 0.5, "b": [0, 1, 2], "c": str(tmp_path / "x"), "d": "red", "e": 7}
    with pytest.raises(TypeError, match="set"):
        json_default({1})


def test_git_commit_and_versions(tmp_path: Path) -> None:
    here = git_commit()
    assert here is not None and re.fullmatch(r"[0-9a-f]{40}", here)
    assert git_commit(tmp_path) is None  # outside any repository
    versions = package_versions("enhancenet-core", "no-such-distribution-xyz")
    assert versions["numpy"] == np.__version__ and versions["no-such-distribution-xyz"] == "unknown"
    assert re.match(r"\d+\.\d+", versions["enhancenet-core"]) and re.match(r"3\.\d+", versions["python"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_log_fresh_resume_truncates_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "train_log.csv"
    with CsvLog(path, None) as log:
        for step in range(1, 6):
            log.write({"epoch": 0, "step": step, "loss": 1.0 / step, "ignored": "x"})
    rows = _rows(path)
    assert [r["step"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert list(rows[0]) == list(LOG_FIELDS) and rows[0]["loss_hr"] == ""
    # killed after step 5, resumed from the checkpoint of step 3: steps 4 and 5 are run (and logged) again
    with CsvLog(path, 3) as log:
        log.write({"epoch": 0, "step": 4, "loss": 9.0})
    rows = _rows(path)
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"] and rows[-1]["loss"] == "9.0"
    assert [p.name for p in tmp_path.iterdir()] == ["train_log.csv"]  # no temporary left
    # a fresh run (no checkpoint) starts the file again; resuming without a file starts one
    CsvLog(path, None).close()
    assert _rows(path) == [] and path.read_text().strip() == ",".join(LOG_FIELDS)
    other = tmp_path / "other.csv"
    with CsvLog(other, 10, fields=("step", "x")) as log:
        log.write({"step": 11, "x": 2})
    assert _rows(other) == [{"step": "11", "x": "2"}]


def test_progress_bar_disabled_is_silent_and_transparent(capsys) -> None:
    bar = progress_bar([1, 2, 3], desc="x", enabled=False)
    assert list(bar) == [1, 2, 3]
    bar.update(2)
    bar.set_postfix(loss=1)
    bar.close()
    assert list(progress_bar(total=5, enabled=False)) == []
    assert capsys.readouterr().err == ""
    pytest.importorskip("tqdm")
    on = progress_bar(range(3), total=3, desc="t", enabled=True)
    assert list(on) == [0, 1, 2]
    on.close()
    assert "t" in capsys.readouterr().err
