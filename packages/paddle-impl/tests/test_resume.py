"""Stopping a run and resuming it gives bit-identical weights to a run that was never stopped."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from _train_toy import ToyDataset, toy_config, toy_model

from enhancenet_paddle.checkpoint import CheckpointError, load_checkpoint
from enhancenet_paddle.train import train


def _run(cfg, out: Path, max_steps: int | None, **kw):
    return train(cfg, out, device="cpu", max_steps=max_steps, validate=False, progress=False,
                 model_fn=toy_model, train_dataset=ToyDataset(10), **kw)


def _state(out: Path) -> dict:
    return load_checkpoint(out / "checkpoint_last.safetensors")


def _arrays(state: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in state.items() if not isinstance(v, dict)}


@pytest.mark.parametrize("stop_at", [3, 5])  # 2 steps per epoch: both stop in the middle of an epoch
def test_resume_gives_identical_weights(tmp_path: Path, stop_at: int) -> None:
    cfg = toy_config(epochs=4, batch_size=4)  # 10 samples -> 2 full batches per epoch, lr step after epoch 1
    full = _run(cfg, tmp_path / "full", max_steps=None)
    assert full.step == 8 and full.epoch == 4
    first = _run(cfg, tmp_path / "split", max_steps=stop_at)
    assert first.step == stop_at
    ckpt = _state(tmp_path / "split")
    assert ckpt["step"] == stop_at and ckpt["batch_in_epoch"] == stop_at % 2
    second = _run(cfg, tmp_path / "split", max_steps=None)  # a fresh call: new model, new parameter names
    assert second.step == 8
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    for name, tensor in a["model"].items():
        assert np.array_equal(tensor.numpy(), b["model"][name].numpy()), name
    opt_a, opt_b = _arrays(a["optimizer"]), _arrays(b["optimizer"])
    assert opt_a.keys() == opt_b.keys() and any("moment1" in k for k in opt_a)
    for key, value in opt_a.items():
        assert np.array_equal(value, opt_b[key]), key
    assert a["scheduler"] == b["scheduler"] and a["scheduler"]["last_epoch"] == 4
    assert full.losses[stop_at:] == second.losses
    rows = list(csv.DictReader((tmp_path / "split" / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    full_rows = list(csv.DictReader((tmp_path / "full" / "train_log.csv").open()))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]
    assert float(full_rows[-1]["lr"]) == pytest.approx(cfg.train.lr * cfg.train.lr_factor)


def test_a_stop_that_differs_is_detected(tmp_path: Path) -> None:
    """The comparison above can fail: a resumed run that reads another data order does not match."""
    cfg = toy_config(epochs=2, batch_size=4)
    _run(cfg, tmp_path / "full", max_steps=None)
    _run(cfg, tmp_path / "split", max_steps=1)
    _run(toy_config(epochs=2, batch_size=4, seed=1), tmp_path / "split", max_steps=None)
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    assert any(not np.array_equal(t.numpy(), b["model"][n].numpy()) for n, t in a["model"].items())


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    cfg = toy_config(epochs=1)
    _run(cfg, tmp_path, max_steps=1)
    other = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_keypoints=5))
    with pytest.raises(CheckpointError, match="architecture"):
        _run(other, tmp_path, max_steps=None)


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = toy_config(epochs=1)
    _run(cfg, tmp_path, max_steps=1)
    before = (tmp_path / "checkpoint_last.safetensors").read_bytes()
    import os

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)  # fails after the temporary file is written, before the replace
    with pytest.raises(OSError, match="disk full"):
        _run(cfg, tmp_path, max_steps=2)
    assert (tmp_path / "checkpoint_last.safetensors").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert load_checkpoint(tmp_path / "checkpoint_last.safetensors")["step"] == 1


def test_resume_removes_the_temporary_files_a_kill_left(tmp_path: Path) -> None:
    """A kill during an atomic write leaves ``.<name>.XXXXXXXX.tmp``; the next start removes exactly those."""
    cfg = toy_config(epochs=2, batch_size=4)
    _run(cfg, tmp_path, max_steps=1)
    stale = tmp_path / ".checkpoint_last.safetensors.k1ll3d_x.tmp"
    stale.write_bytes(b"\0" * 4096)  # a checkpoint cut short
    kept = [tmp_path / ".notes.tmp", tmp_path / "mine.tmp"]
    for path in kept:
        path.write_text("not ours")
    _run(cfg, tmp_path, max_steps=2)
    assert not stale.exists() and all(p.exists() for p in kept)


KILL_SCRIPT = """
import sys
import paddle
sys.path.insert(0, {tests!r})
paddle.set_device("cpu")
from _train_toy import ToyDataset, toy_config, toy_model
from enhancenet_paddle.train import train
train(toy_config(epochs=30, batch_size=4), sys.argv[1], device="cpu", validate=False, progress=False,
      model_fn=toy_model, train_dataset=ToyDataset(10, delay=float(sys.argv[2])), checkpoint_every=1)
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
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.Popen([sys.executable, str(script), str(out), "0.02"], env=env, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 180
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
    stopped_at = _state(out)["step"]
    assert 0 < stopped_at < 60
    # the resumed and the uninterrupted runs also run in fresh processes with the same environment: the
    # float summation order of CPU kernels depends on the math library's thread count, which earlier tests in
    # this process (paddle.inference, onnxruntime) may have changed
    for target in (out, tmp_path / "full"):
        subprocess.run([sys.executable, str(script), str(target), "0"], env=env, cwd=str(tmp_path), check=True,
                       timeout=300)
    a, b = _state(tmp_path / "full"), _state(out)
    assert a["step"] == b["step"] == 60
    for name, tensor in a["model"].items():
        assert np.array_equal(tensor.numpy(), b["model"][name].numpy()), name
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 61))
    full_rows = list(csv.DictReader((tmp_path / "full" / "train_log.csv").open()))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]
