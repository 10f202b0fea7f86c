"""Stopping a run and resuming it gives bit-identical weights to a run that was never stopped."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from _toy import ToyDataset, toy_config, toy_model

from enhancenet_torch.checkpoint import CheckpointError, load_checkpoint
from enhancenet_torch.train import train


def _run(cfg, out: Path, max_steps: int | None, **kw):
    return train(cfg, out, device="cpu", max_steps=max_steps, validate=False, progress=False,
                 model_fn=toy_model, train_dataset=ToyDataset(10), tensorboard=False, **kw)


def _state(out: Path) -> dict:
    return load_checkpoint(out / "checkpoint_last.safetensors")


@pytest.mark.parametrize("stop_at", [3, 5])  # 2 steps per epoch: both stop in the middle of an epoch
def test_resume_gives_identical_weights(tmp_path: Path, stop_at: int) -> None:
    cfg = toy_config(epochs=4, batch_size=4)  # 10 samples -> 2 full batches per epoch, lr step after epoch 1
    full = _run(cfg, tmp_path / "full", max_steps=None)
    assert full.step == 8 and full.epoch == 4
    first = _run(cfg, tmp_path / "split", max_steps=stop_at)
    assert first.step == stop_at
    ckpt = _state(tmp_path / "split")
    assert ckpt["step"] == stop_at and ckpt["batch_in_epoch"] == stop_at % 2
    second = _run(cfg, tmp_path / "split", max_steps=None)
    assert second.step == 8
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for pid, pstate in a["optimizer"]["state"].items():
        for key, value in pstate.items():
            assert torch.equal(value, b["optimizer"]["state"][pid][key]), (pid, key)
    assert a["scheduler"] == b["scheduler"]
    assert full.losses[stop_at:] == second.losses
    # the CSV log of the split run holds each step once, with the same losses
    rows = list(csv.DictReader((tmp_path / "split" / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    full_rows = list(csv.DictReader((tmp_path / "full" / "train_log.csv").open()))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]


def test_a_stop_that_differs_is_detected(tmp_path: Path) -> None:
    """The comparison above can fail: a resumed run that reseeds its data order does not match."""
    cfg = toy_config(epochs=2, batch_size=4)
    _run(cfg, tmp_path / "full", max_steps=None)
    _run(cfg, tmp_path / "split", max_steps=1)
    other = toy_config(epochs=2, batch_size=4, seed=1)  # same architecture, other data order
    _run(other, tmp_path / "split", max_steps=None)
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    assert any(not torch.equal(t, b["model"][n]) for n, t in a["model"].items())


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    cfg = toy_config(epochs=1)
    _run(cfg, tmp_path, max_steps=1)
    import dataclasses

    other = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_keypoints=5))
    with pytest.raises(CheckpointError, match="architecture"):
        _run(other, tmp_path, max_steps=None)


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = toy_config(epochs=1)
    _run(cfg, tmp_path, max_steps=1)
    before = (tmp_path / "checkpoint_last.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    import enhancenet_core.files

    monkeypatch.setattr(enhancenet_core.files.os, "fsync", boom)  # the temporary file is written, then this
    with pytest.raises(OSError, match="disk full"):
        _run(cfg, tmp_path, max_steps=2)
    assert (tmp_path / "checkpoint_last.safetensors").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_resume_removes_the_temporary_files_a_kill_left(tmp_path: Path) -> None:
    """A kill during an atomic write leaves ``.<name>.XXXXXXXX.tmp``; the next start removes exactly those."""
    cfg = toy_config(epochs=2, batch_size=4)
    _run(cfg, tmp_path, max_steps=1)
    stale = [tmp_path / ".checkpoint_last.safetensors.k1ll3d_x.tmp", tmp_path / ".train_log.csv.a_b0c9zz.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 4096)  # a checkpoint cut short
    kept = [tmp_path / "notes.tmp", tmp_path / ".notes.tmp", tmp_path / ".x.ABCDEFGH.tmp", tmp_path / "mine.txt"]
    for path in kept:
        path.write_text("not ours")
    _run(cfg, tmp_path, max_steps=2)
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []


KILL_SCRIPT = """
import sys
import torch
torch.set_num_threads(int(sys.argv[2]))  # the parent's: the float summation order depends on it
sys.path.insert(0, {tests!r})
from _toy import ToyDataset, toy_config, toy_model
from enhancenet_torch.train import train
train(toy_config(epochs=30, batch_size=4), sys.argv[1], device="cpu", validate=False, progress=False,
      model_fn=toy_model, train_dataset=ToyDataset(10, delay=0.02), tensorboard=False, checkpoint_every=1)
"""


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path: Path) -> None:
    """A real SIGKILL at an arbitrary moment (checkpoints every step), then a fresh resume to the end."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    out = tmp_path / "killed"
    threads = str(torch.get_num_threads())
    proc = subprocess.Popen([sys.executable, str(script), str(out), threads], env={**os.environ, "OMP_NUM_THREADS": threads})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log = out / "train_log.csv"
            if log.is_file() and len(log.read_text().splitlines()) > 6:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    stopped_at = load_checkpoint(out / "checkpoint_last.safetensors")["step"]
    assert 0 < stopped_at < 60
    cfg = toy_config(epochs=30, batch_size=4)
    resumed = _run(cfg, out, max_steps=None)
    full = _run(cfg, tmp_path / "full", max_steps=None)
    assert resumed.step == full.step == 60
    a, b = _state(tmp_path / "full"), _state(out)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 61))
