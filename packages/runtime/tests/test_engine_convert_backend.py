"""The shared converter back end with a toy framework (a dict of NumPy arrays as the "model", ``.npz`` as its
native file): parser, suffix dispatch, configuration lookup, the seeded verification input and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from enhancenet_core.canonical import model_config_json, read_canonical_metadata
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_runtime.engine.convert_backend import FrameworkIO, run_backend, seeded_input

CFG = ModelConfig(base=BaseModelConfig(depth=18), head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3,
                  input_size=(8, 6))
built: list[ModelConfig] = []


def _build(cfg: ModelConfig) -> dict[str, Any]:
    built.append(cfg)
    return {"w": np.zeros(4, np.float32)}


def _load_npz(model: dict[str, Any], path: Path, cfg: ModelConfig) -> None:
    with np.load(path) as f:
        model["w"] = f["w"]


def _save_npz(model: dict[str, Any], path: Path, cfg: ModelConfig) -> None:
    np.savez(path, w=model["w"], model_config=np.array(model_config_json(cfg)))


def _npz_config(path: Path) -> str | None:
    with np.load(path) as f:
        return str(f["model_config"]) if "model_config" in f else None


def _save_canonical(model: dict[str, Any], path: Path, cfg: ModelConfig) -> None:  # header-only stand-in
    header = {"__metadata__": {"model_config": model_config_json(cfg)}}
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)


def _forward(model: dict[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    return {"lr": x[:, :1] + model["w"].sum(), "hr": np.repeat(x[:, :1], 2, axis=-1)}


IO = FrameworkIO(prog="toy.convert", native_suffixes=(".npz",), build_model=_build,
                 load_canonical=lambda m, p, c: None, save_canonical=_save_canonical,
                 load_native=_load_npz, save_native=_save_npz, native_model_config=_npz_config, forward=_forward)


def test_seeded_input_is_standard_normal_of_the_input_size() -> None:
    x = seeded_input(CFG, 7)
    assert x.shape == (1, 3, 6, 8) and x.dtype == np.float32  # (W, H) = (8, 6)
    np.testing.assert_array_equal(x, seeded_input(CFG, 7))
    assert not np.array_equal(x, seeded_input(CFG, 8))


def test_convert_and_verify_through_the_native_file(tmp_path: Path) -> None:
    model = {"w": np.arange(4, dtype=np.float32)}
    _save_npz(model, tmp_path / "a.npz", CFG)
    built.clear()
    assert run_backend(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.safetensors")], IO) == 0
    assert read_canonical_metadata(tmp_path / "b.safetensors")["model_config"] == model_config_json(CFG)
    assert built and built[-1].base.pretrained is None
    assert run_backend(["verify", str(tmp_path / "a.npz"), "--out", str(tmp_path), "--seed", "2"], IO) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "lr.npy"), seeded_input(CFG, 2)[:, :1] + 6.0)
    assert np.load(tmp_path / "hr.npy").shape == (1, 1, 6, 16)


def test_refusals_exit_2_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_npz({"w": np.zeros(4, np.float32)}, tmp_path / "a.npz", CFG)
    assert run_backend(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.bin")], IO) == 2
    assert "toy.convert: error:" in (err := capsys.readouterr().err) and "expected one of .safetensors, .npz" in err
    assert run_backend(["convert", str(tmp_path / "nope.npz"), str(tmp_path / "b.npz")], IO) == 2
    assert "nope.npz not found" in capsys.readouterr().err
    np.savez(tmp_path / "bare.npz", w=np.zeros(4, np.float32))
    assert run_backend(["convert", str(tmp_path / "bare.npz"), str(tmp_path / "b.npz")], IO) == 2
    assert "records no model configuration; pass --model-config" in capsys.readouterr().err
    assert run_backend(["convert", str(tmp_path / "bare.npz"), str(tmp_path / "b.npz"), "--model-config", "{"], IO) == 2
    assert "--model-config: not a valid model configuration" in capsys.readouterr().err
    assert not (tmp_path / "b.npz").exists() and not (tmp_path / "b.bin").exists()
    given = model_config_json(CFG)
    assert run_backend(["convert", str(tmp_path / "bare.npz"), str(tmp_path / "b.npz"), "--model-config", given], IO) == 0
