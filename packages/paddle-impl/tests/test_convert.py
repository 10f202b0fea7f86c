"""The Paddle converter back end (``python -m enhancenet_paddle.convert``) run in process: canonical <->
.pdparams round trips, ``verify`` outputs against a direct forward pass, and refusals with exit status 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import paddle
import pytest

from enhancenet_core.canonical import model_config_json
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_paddle import convert as paddle_convert
from enhancenet_paddle import weights as W
from enhancenet_paddle.models import build_model
from enhancenet_runtime.engine.convert_backend import seeded_input

CFG = ModelConfig(base=BaseModelConfig(depth=18, num_deconv_layers=1, deconv_channels=16),
                  head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3, input_size=(32, 32))


def _random_model(seed: int = 0) -> paddle.nn.Layer:
    model = build_model(CFG)
    rng = np.random.default_rng(seed)
    for t in model.state_dict().values():
        t.set_value(rng.uniform(0.5, 1.5, tuple(t.shape)).astype("float32"))
    return model


def test_canonical_pdparams_canonical_is_bit_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _random_model()
    W.save_canonical(model, tmp_path / "a.safetensors", CFG)
    assert paddle_convert.main(["convert", str(tmp_path / "a.safetensors"), str(tmp_path / "b.pdparams")]) == 0
    assert paddle_convert.main(["convert", str(tmp_path / "b.pdparams"), str(tmp_path / "c.safetensors")]) == 2
    assert "--trust-pickle" in capsys.readouterr().err and not (tmp_path / "c.safetensors").exists()
    assert paddle_convert.main(["convert", str(tmp_path / "b.pdparams"), str(tmp_path / "c.safetensors"),
                                "--trust-pickle"]) == 0
    a = W.read_safetensors(tmp_path / "a.safetensors")[0]
    c = W.read_safetensors(tmp_path / "c.safetensors")[0]
    assert list(a) == list(c) and all(np.array_equal(a[k], c[k]) for k in a)


def test_verify_matches_a_direct_forward_pass(tmp_path: Path) -> None:
    model = _random_model(1)
    W.save_pdparams(model, tmp_path / "m.pdparams", CFG)
    out = tmp_path / "out"
    out.mkdir()
    assert paddle_convert.main(["verify", str(tmp_path / "m.pdparams"), "--out", str(out), "--seed", "3",
                                "--trust-pickle"]) == 0
    model.eval()
    with paddle.no_grad():
        want = model(paddle.to_tensor(seeded_input(CFG, 3)))
    for key in ("lr", "hr"):
        got = np.load(out / f"{key}.npy")
        assert got.shape == tuple(want[key].shape)
        np.testing.assert_allclose(got, want[key].numpy(), rtol=0, atol=1e-6)
    assert np.load(out / "hr.npy").shape[-1] == 2 * np.load(out / "lr.npy").shape[-1]  # r = 2


def test_refusals_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    W.save_canonical(_random_model(), tmp_path / "a.safetensors", CFG)
    assert paddle_convert.main(["convert", str(tmp_path / "a.safetensors"), str(tmp_path / "b.pth")]) == 2
    assert "expected one of .safetensors, .pdparams" in capsys.readouterr().err
    other = dataclasses.replace(CFG, num_keypoints=5)
    code = paddle_convert.main(["convert", str(tmp_path / "a.safetensors"), str(tmp_path / "b.pdparams"),
                                "--model-config", json.dumps(json.loads(model_config_json(other)))])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("enhancenet_paddle.convert: error:") and "enhance.upsample.weight" in err
    assert not (tmp_path / "b.pdparams").exists() and not (tmp_path / "b.pth").exists()
    bare = build_model(CFG)
    paddle.save(bare.state_dict(), str(tmp_path / "plain.pdparams"))  # records no configuration
    assert paddle_convert.main(["convert", str(tmp_path / "plain.pdparams"), str(tmp_path / "x.safetensors")]) == 2
    assert "refused: a pickle file" in capsys.readouterr().err
    assert paddle_convert.main(["convert", str(tmp_path / "plain.pdparams"), str(tmp_path / "x.safetensors"),
                                "--trust-pickle"]) == 2
    assert "records no model configuration; pass --model-config" in capsys.readouterr().err
