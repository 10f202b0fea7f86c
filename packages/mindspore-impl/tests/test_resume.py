"""Stopping a run and resuming it gives bit-identical weights and optimizer state to a run never stopped (CPU)."""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from _toy import ToyDataset, toy_config, toy_model

from enhancenet_mindspore.checkpoint import CheckpointError, load_checkpoint
from enhancenet_mindspore.train import train


def _run(cfg, out: Path, max_steps: int | None, **kw):
    return train(cfg, out, device="cpu", max_steps=max_steps, validate=False, progress=False, model_fn=toy_model,
                 train_dataset=kw.pop("dataset", ToyDataset(10)), **kw)


def _state(out: Path) -> dict:
    return load_checkpoint(out / "checkpoint_last.ckpt")


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a["tensors"]) == sorted(b["tensors"]) and sorted(a["optimizer"]) == sorted(b["optimizer"])
    for name, value in a["tensors"].items():
        np.testing.assert_array_equal(value, b["tensors"][name], err_msg=name)
    for name, value in a["optimizer"].items():
        np.testing.assert_array_equal(value, b["optimizer"][name], err_msg=f"optimizer {name}")


@pytest.mark.parametrize("stop_at", [2, 3])  # 2 steps per epoch: at an epoch end (lr drops next) and mid-epoch
def test_resume_gives_identical_weights(tmp_path: Path, stop_at: int) -> None:
    cfg = toy_config(epochs=3, batch_size=4)  # 10 samples -> 2 full batches per epoch, lr × 0.1 from epoch 1
    full = _run(cfg, tmp_path / "full", max_steps=None)
    assert full.step == 6 and full.epoch == 3
    first = _run(cfg, tmp_path / "split", max_steps=stop_at)
    ckpt = _state(tmp_path / "split")
    assert first.step == ckpt["step"] == stop_at
    assert (ckpt["epoch"], ckpt["batch_in_epoch"]) == divmod(stop_at, 2)
    second = _run(cfg, tmp_path / "split", max_steps=None)
    assert second.step == 6
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    _assert_same(a, b)
    assert "moment1.stem.weight" in a["optimizer"] and int(a["optimizer"]["global_step"][0]) == 6
    assert float(a["optimizer"]["learning_rate"]) == pytest.approx(1e-3)  # the multi-step schedule ran
    assert full.losses[stop_at:] == second.losses
    rows = list(csv.DictReader((tmp_path / "split" / "train_log.csv").open()))
    full_rows = list(csv.DictReader((tmp_path / "full" / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3, 1e-3, 1e-3])


def test_a_resume_that_differs_is_detected(tmp_path: Path) -> None:
    """The comparison above can fail: a resumed run with another data order does not match."""
    cfg = toy_config(epochs=2, batch_size=4)
    _run(cfg, tmp_path / "full", max_steps=None)
    _run(cfg, tmp_path / "split", max_steps=1)
    _run(toy_config(epochs=2, batch_size=4, seed=1), tmp_path / "split", max_steps=None)
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    with pytest.raises(AssertionError):
        _assert_same(a, b)


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    cfg = toy_config(epochs=1)
    _run(cfg, tmp_path, max_steps=1)
    other = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_keypoints=5))
    with pytest.raises(CheckpointError, match=r"architecture .*model.num_keypoints: checkpoint 3, config 5"):
        _run(other, tmp_path, max_steps=None)


def test_checkpoint_is_atomic_and_overwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = toy_config(epochs=2)
    _run(cfg, tmp_path, max_steps=1)
    path = tmp_path / "checkpoint_last.ckpt"
    assert path.stat().st_mode & stat.S_IWUSR  # save_checkpoint alone creates 0400 files
    _run(cfg, tmp_path, max_steps=2)  # replaced in place
    assert _state(tmp_path)["step"] == 2
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ms, "save_checkpoint", boom)
    with pytest.raises(OSError, match="disk full"):
        _run(cfg, tmp_path, max_steps=3)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import mindspore as ms
ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
from _toy import ToyDataset, toy_config, toy_model
from enhancenet_mindspore.train import train
train(toy_config(epochs=12, batch_size=4), sys.argv[1], device="cpu", validate=False, progress=False,
      model_fn=toy_model, train_dataset=ToyDataset(10, delay=0.03), checkpoint_every=1)
"""


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path: Path) -> None:
    """A real SIGKILL at an arbitrary moment (checkpoints every step), then a fresh resume to the end."""
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=tmp_path,
                            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            log = out / "train_log.csv"
            if log.is_file() and len(log.read_text().splitlines()) > 5:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    stopped_at = _state(out)["step"]
    assert 0 < stopped_at < 24
    cfg = toy_config(epochs=12, batch_size=4)
    resumed = _run(cfg, out, max_steps=None)
    full = _run(cfg, tmp_path / "full", max_steps=None)
    assert resumed.step == full.step == 24
    _assert_same(_state(tmp_path / "full"), _state(out))
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 25))
