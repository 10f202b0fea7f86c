"""Canonical safetensors and native .pdparams I/O: bit-exact round trips, interoperability with enhancenet-numpy,
shuffle-order conversion, and load errors that name every offending tensor (nothing loaded on failure)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import paddle
import pytest
from safetensors.numpy import save_file

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_core.safetensors_io import PickleRefusedError
from enhancenet_numpy.weights import init_weights, load_weights, reorder_subpixel, save_weights
from enhancenet_paddle import weights as W
from enhancenet_paddle.models import build_model

CFG = ModelConfig(base=BaseModelConfig(depth=18, num_deconv_layers=2, deconv_channels=32),
                  head=EnhanceNetConfig(channels=16, upscale=2), num_keypoints=4, input_size=(32, 32))


def _randomize(model: paddle.nn.Layer, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for t in model.state_dict().values():
        t.set_value(rng.uniform(0.5, 1.5, tuple(t.shape)).astype("float32"))


def _arrays(model: paddle.nn.Layer) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_canonical_round_trip_is_bit_exact(tmp_path: Path) -> None:
    a, b = build_model(CFG), build_model(CFG)
    _randomize(a)
    W.save_canonical(a, tmp_path / "m.safetensors", CFG, metadata={"note": "hello"})
    meta = W.load_canonical(b, tmp_path / "m.safetensors", CFG)
    for (ka, va), (kb, vb) in zip(_arrays(a).items(), _arrays(b).items(), strict=True):
        assert ka == kb and va.dtype == vb.dtype and va.tobytes() == vb.tobytes(), ka
    assert meta["note"] == "hello" and meta["shuffle_order"] == "framework"
    assert json.loads(meta["model_config"])["base"]["depth"] == 18
    # the same header keys as enhancenet-numpy's files
    save_weights(tmp_path / "np.safetensors", init_weights(CFG, 0, np.float32), CFG)
    np_meta = W.read_safetensors(tmp_path / "np.safetensors")[1]
    assert set(np_meta) == set(meta) - {"note"}


def test_numpy_reads_paddle_file_and_back(tmp_path: Path) -> None:
    """A Paddle-written file is a valid canonical file for enhancenet-numpy, with the same values."""
    model = build_model(CFG)
    _randomize(model, 3)
    W.save_canonical(model, tmp_path / "p.safetensors", CFG)
    params = load_weights(tmp_path / "p.safetensors", CFG)
    own = W.canonical_state_dict(model)
    assert list(params) == list(own)
    assert all(np.array_equal(params[k], own[k].numpy()) for k in params)
    # BN buffers really are the running statistics (the table maps _mean/_variance, not the affine params)
    assert np.array_equal(params["bn1.running_mean"], model.base.bn1._mean.numpy())
    assert np.array_equal(params["bn1.running_var"], model.base.bn1._variance.numpy())


def test_pdparams_round_trip_and_strictness(tmp_path: Path) -> None:
    a, b = build_model(CFG), build_model(CFG)
    _randomize(a, 1)
    W.save_pdparams(a, tmp_path / "m.pdparams", CFG)
    with pytest.raises(PickleRefusedError, match=r"m\.pdparams: refused: a pickle file"):  # pickle: opt-in only
        W.load_pdparams(b, tmp_path / "m.pdparams", CFG)
    W.load_pdparams(b, tmp_path / "m.pdparams", CFG, trust_pickle=True)
    assert all(va.tobytes() == vb.tobytes() for va, vb in zip(_arrays(a).values(), _arrays(b).values(), strict=True))
    # a missing and a mis-shaped tensor: both named, nothing loaded
    state = {k: v.numpy() for k, v in a.state_dict().items()}
    del state["base.final_layer.bias"]
    state["enhance.convs.0.weight"] = np.zeros((3, 3, 1, 1), np.float32)
    paddle.save(state, str(tmp_path / "bad.pdparams"))
    c = build_model(CFG)
    before = _arrays(c)
    with pytest.raises(ValueError) as err:
        W.load_pdparams(c, tmp_path / "bad.pdparams", trust_pickle=True)
    msg = str(err.value)
    assert "missing base.final_layer.bias: expected shape (4,), found nothing" in msg
    assert "wrong shape enhance.convs.0.weight: expected (16, 36, 1, 1), found (3, 3, 1, 1)" in msg
    assert all(np.array_equal(before[k], v) for k, v in _arrays(c).items())
    with pytest.raises(FileNotFoundError, match=r"nope\.pdparams"):
        W.load_pdparams(c, tmp_path / "nope.pdparams")


def test_load_errors_name_every_tensor_and_load_nothing(tmp_path: Path) -> None:
    model = build_model(CFG)
    W.save_canonical(model, tmp_path / "good.safetensors", CFG)
    tensors, meta = W.read_safetensors(tmp_path / "good.safetensors")
    del tensors["layer1.0.bn1.running_var"]
    tensors["final_layer.weight"] = np.zeros((4, 32, 3, 3), np.float32)
    tensors["extra.weight"] = np.zeros((2, 2), np.float32)
    save_file(dict(tensors), str(tmp_path / "bad.safetensors"), metadata=meta)
    target = build_model(CFG)
    before = _arrays(target)
    with pytest.raises(ValueError) as err:
        W.load_canonical(target, tmp_path / "bad.safetensors", CFG)
    msg = str(err.value)
    assert "3 tensor(s) do not fit" in msg
    assert "missing layer1.0.bn1.running_var: expected shape (64,), found nothing" in msg
    assert "wrong shape final_layer.weight: expected (4, 32, 1, 1), found (4, 32, 3, 3)" in msg
    assert "unexpected extra.weight: expected nothing, found shape (2, 2)" in msg
    assert all(np.array_equal(before[k], v) for k, v in _arrays(target).items())


def test_other_architecture_and_bad_files(tmp_path: Path) -> None:
    hg_cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=32),
                         head=CFG.head, num_keypoints=4)
    save_weights(tmp_path / "hg.safetensors", init_weights(hg_cfg, 0, np.float32), hg_cfg)
    model = build_model(CFG)
    with pytest.raises(ValueError, match="holds a 'hourglass' model, the config builds 'simple_baseline'"):
        W.load_canonical(model, tmp_path / "hg.safetensors", CFG)
    with pytest.raises(FileNotFoundError, match=r"missing\.safetensors"):
        W.load_canonical(model, tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        W.load_canonical(model, tmp_path / "junk.safetensors")
    save_file({"a": np.zeros(1, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="metadata 'format'"):
        W.load_canonical(model, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="does not match its config"):  # a model that is not the config's
        W.save_canonical(model, tmp_path / "x.safetensors", replace(CFG, num_keypoints=5))
    with pytest.raises(ValueError, match="reserved"):
        W.save_canonical(model, tmp_path / "x.safetensors", CFG, metadata={"format": "x"})


def test_paper_order_file_loads_into_framework_model(tmp_path: Path) -> None:
    """enhancenet-numpy writes the head in the paper order; the Paddle model (framework order) gives the same
    M^HR as numpy computes with the paper-order weights."""
    from enhancenet_numpy.models import full_forward

    paper_cfg = replace(CFG, head=replace(CFG.head, shuffle_order=ShuffleOrder.PAPER))
    params = init_weights(paper_cfg, 5, np.float64)
    save_weights(tmp_path / "paper.safetensors", params, paper_cfg)
    model = build_model(CFG)  # framework order
    model.to(dtype="float64")
    model.eval()
    W.load_canonical(model, tmp_path / "paper.safetensors", CFG)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32))
    _, want = full_forward(params, x, paper_cfg)
    with paddle.no_grad():
        got = model(paddle.to_tensor(x))["hr"].numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())
    # the stored tensors were permuted on load (else a framework-order model would compute something else)
    framework, _ = reorder_subpixel(params, paper_cfg, ShuffleOrder.FRAMEWORK)
    assert np.array_equal(W.canonical_state_dict(model)["enhance.upsample.weight"].numpy(),
                          framework["enhance.upsample.weight"])
    assert not np.array_equal(framework["enhance.upsample.weight"], params["enhance.upsample.weight"])


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.safetensors"
    model = build_model(CFG)
    W.save_canonical(model, path, CFG)
    old = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(W.os, "replace", boom)
    _randomize(model, 9)
    with pytest.raises(OSError, match="disk full"):
        W.save_canonical(model, path, CFG)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary file left
    with pytest.raises(FileNotFoundError, match="does not exist"):
        W.save_canonical(model, tmp_path / "no" / "m.safetensors", CFG)
