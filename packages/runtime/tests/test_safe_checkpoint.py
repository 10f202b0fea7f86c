"""Training checkpoints without pickle (:mod:`enhancenet_runtime.engine.safe_checkpoint`), the pickle refusal
(:mod:`enhancenet_core.safetensors_io`) and the atomic writer's temporary files (:mod:`enhancenet_core.files`)."""

from __future__ import annotations

import json
import math
import os
import random
import stat
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.files import atomic_write_with, remove_stale_temp_files
from enhancenet_core.safetensors_io import PickleRefusedError, pickle_kind, read_safetensors, save_safetensors
from enhancenet_runtime.engine.checkpointing import CheckpointError
from enhancenet_runtime.engine.safe_checkpoint import (
    CHECKPOINT_KEY,
    decode,
    encode,
    is_checkpoint_file,
    read_checkpoint_file,
    save_checkpoint_file,
)
from enhancenet_runtime.testing_pickle import assert_refused, write_payload


def _state() -> dict:
    rng = random.Random(7)
    gen = np.random.RandomState(3)
    gen.standard_normal(5)  # a cached Gaussian in the state
    return {
        "format": "x", "step": 3, "huge": 2**70, "lr": 0.1 + 0.2, "best": float("nan"), "worst": float("-inf"),
        "python": rng.getstate(), "numpy": gen.get_state(),
        "optimizer": {"state": {0: {"step": np.float32(3.0), "m": np.arange(6, dtype=np.float32).reshape(2, 3)}},
                      "param_groups": [{"betas": (0.9, 0.999), "params": [0, 1], "fused": None}]},
        "milestones": Counter({2: 1, 5: 1}), "$odd": "a key that looks like a tag", "none": None,
        "history": [{"epoch": 0, "AP": 0.5}], "flag": True, "u8": np.zeros(4, np.uint8), "1": "one", 1: "int one",
    }  # fmt: skip


def test_round_trip_keeps_every_type_and_value(tmp_path: Path) -> None:
    state = _state()
    path = save_checkpoint_file(tmp_path / "c.safetensors", state)
    back = read_checkpoint_file(path)
    assert is_checkpoint_file(path)
    assert back["python"] == state["python"] and isinstance(back["python"][1], tuple)
    random.Random().setstate(back["python"])  # accepted as a state
    a, b = np.random.RandomState(), np.random.RandomState()
    a.set_state(state["numpy"])
    b.set_state(back["numpy"])
    assert np.array_equal(a.standard_normal(9), b.standard_normal(9))  # the cached Gaussian too
    assert back["huge"] == 2**70 and back["lr"] == 0.1 + 0.2 and math.isnan(back["best"]) and back["worst"] == -math.inf
    opt = back["optimizer"]
    assert list(opt["state"]) == [0] and isinstance(opt["state"][0]["step"], np.float32)
    assert np.array_equal(opt["state"][0]["m"], state["optimizer"]["state"][0]["m"])
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999) and isinstance(opt["param_groups"][0]["betas"], tuple)
    assert isinstance(back["milestones"], Counter) and back["milestones"][3] == 0 and back["milestones"][5] == 1
    assert back["$odd"] == state["$odd"] and back["1"] == "one" and back[1] == "int one"
    assert back["u8"].dtype == np.uint8 and back["history"] == state["history"] and back["none"] is None
    assert list(back) == list(state)
    # the file is plain safetensors: tensors by path, the structure as JSON in the header
    tensors, meta = read_safetensors(path)
    assert "optimizer/state/0/m" in tensors
    structure = dict(json.loads(meta[CHECKPOINT_KEY])["$dict"])  # the int key 1 needs the tagged form
    assert structure["step"] == 3 and structure["history"] == [{"epoch": 0, "AP": 0.5}]


def test_framework_tensors_go_through_the_hooks() -> None:
    class Fake:
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

    tensors, structure = encode({"w": Fake(np.ones(3))}, lambda v: (v.a, "fake") if isinstance(v, Fake) else None)
    assert structure == {"w": {"$tensor": "w", "kind": "fake"}}
    back = decode(structure, tensors, lambda a, kind: ("rebuilt", kind, a.sum()))
    assert back["w"] == ("rebuilt", "fake", 3.0)
    with pytest.raises(ValueError, match="kind 'fake'"):
        decode(structure, tensors)


def test_unstorable_values_are_refused_when_saving(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"'a/b'.*set"):
        save_checkpoint_file(tmp_path / "c.safetensors", {"a": {"b": {1, 2}}})
    assert not list(tmp_path.iterdir())


def test_corrupt_and_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    weights = save_safetensors(tmp_path / "w.safetensors", {"a": np.zeros(2, np.float32)}, {"format": "x"})
    with pytest.raises(CheckpointError, match=r"w\.safetensors: a safetensors file without a training checkpoint"):
        read_checkpoint_file(weights)
    assert not is_checkpoint_file(weights)
    bad = save_safetensors(tmp_path / "b.safetensors", {}, {CHECKPOINT_KEY: '{"x": {"$tensor": "gone"}}'})
    with pytest.raises(CheckpointError, match=r"b\.safetensors: corrupt .*'gone'"):
        read_checkpoint_file(bad)
    junk = tmp_path / "j.safetensors"
    junk.write_bytes(b"\x05\x00")
    with pytest.raises(CheckpointError, match=r"j\.safetensors"):
        read_checkpoint_file(junk)


@pytest.mark.parametrize("kind", ["plain", "zip"])
def test_a_pickle_is_refused_unread(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "PWNED"
    for name in ("c.safetensors", "c.pt", "c.pdparams", "c.pdckpt", "c.bin"):
        path = write_payload(tmp_path / name, marker, kind)
        with pytest.raises(PickleRefusedError) as info:
            read_checkpoint_file(path)
        assert_refused(str(info.value), path, marker)
        assert not is_checkpoint_file(path)


def test_pickle_detection_does_not_mistake_safetensors(tmp_path: Path) -> None:
    """A safetensors header length whose first bytes read like a pickle signature (0x80, 0x01..0x05)."""
    for n in range(100):
        path = save_safetensors(tmp_path / "w.safetensors", {}, {"pad": "x" * n})
        if open(path, "rb").read(2)[0] == 0x80:
            break
    else:  # pragma: no cover - the loop finds one
        pytest.fail("no header length with a 0x80 low byte")
    assert struct.unpack("<Q", path.read_bytes()[:8])[0] % 256 == 0x80
    assert pickle_kind(path) is None and read_safetensors(path)[1]["pad"]
    npz = tmp_path / "a.npz"  # a zip without a pickle in it is not taken for one
    np.savez(npz, w=np.zeros(2))
    assert pickle_kind(npz) is None


def test_atomic_write_with_gives_the_usual_mode_and_cleans_up(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = atomic_write_with(tmp_path / "m.onnx", lambda tmp: tmp.write_bytes(b"x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask

    def readonly(tmp: Path) -> None:  # like mindspore.save_checkpoint: recreates the file, mode 0400
        tmp.unlink()
        tmp.write_bytes(b"y")
        tmp.chmod(0o400)

    atomic_write_with(path, readonly)
    assert path.read_bytes() == b"y" and stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask

    def fails(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(path, fails)
    assert path.read_bytes() == b"y" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_remove_stale_temp_files_removes_only_ours(tmp_path: Path) -> None:
    ours = [tmp_path / ".checkpoint_last.safetensors.ab_c9xyz.tmp", tmp_path / ".config.json.00000000.tmp"]
    theirs = [tmp_path / ".notes.tmp", tmp_path / "a.tmp", tmp_path / ".x.ABCDEFGH.tmp", tmp_path / ".x.abc.tmp"]
    for p in ours + theirs:
        p.write_text("x")
    (tmp_path / ".dir.abcdefgh.tmp").mkdir()
    assert remove_stale_temp_files(tmp_path, names=("config.json",)) == [ours[1]]
    assert remove_stale_temp_files(tmp_path) == [ours[0]]
    assert all(p.exists() for p in theirs) and (tmp_path / ".dir.abcdefgh.tmp").is_dir()
    assert remove_stale_temp_files(tmp_path / "missing") == []
