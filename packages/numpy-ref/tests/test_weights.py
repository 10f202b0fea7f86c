"""Canonical safetensors I/O: round trip, deterministic bytes, every load error, deterministic init."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from safetensors.numpy import load_file

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.namemap import parameter_specs
from enhancenet_numpy.weights import (
    FORMAT_VERSION,
    init_weights,
    load_weights,
    read_metadata,
    safetensors_bytes,
    save_safetensors,
    save_weights,
)

HEAD_CFG = ModelConfig(head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3)
FC = 4


@pytest.fixture
def head_params():
    return init_weights(HEAD_CFG, 3, feature_channels=FC)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    cfg = ModelConfig(base=BaseModelConfig(depth=18), head=EnhanceNetConfig(channels=8))
    params = init_weights(cfg, 5, dtype)
    path = tmp_path / "w.safetensors"
    save_weights(path, params, cfg, metadata={"seed": "5", "note": {"a": 1}})
    loaded = load_weights(path, cfg)
    assert list(loaded) == list(parameter_specs(cfg))
    for name, value in params.items():
        assert loaded[name].dtype == dtype
        np.testing.assert_array_equal(loaded[name], value)
    meta = read_metadata(path)
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["shuffle_order"] == "framework"
    assert json.loads(meta["model_config"])["base"]["depth"] == 18
    assert meta["seed"] == "5" and json.loads(meta["note"]) == {"a": 1}
    # the reference library reads our writer's files
    assert set(load_file(str(path))) == set(params)


def test_bytes_are_deterministic(tmp_path, head_params):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    meta = {f"k{i}": str(i) for i in range(20)}
    save_weights(a, head_params, HEAD_CFG, meta, feature_channels=FC)
    save_weights(b, dict(reversed(list(head_params.items()))), HEAD_CFG, dict(reversed(list(meta.items()))), feature_channels=FC)
    assert a.read_bytes() == b.read_bytes()


def test_every_problem_is_reported_at_once_and_nothing_is_loaded(tmp_path, head_params):
    bad = dict(head_params)
    del bad["enhance.convs.0.bias"]
    bad["enhance.convs.1.weight"] = np.zeros((8, 8, 5, 5))
    bad["enhance.extra.weight"] = np.zeros((2, 2))
    path = tmp_path / "bad.safetensors"
    save_safetensors(path, bad, {"format": "enhancenet-canonical", "format_version": FORMAT_VERSION, "shuffle_order": "framework"})
    with pytest.raises(ValueError) as err:
        load_weights(path, HEAD_CFG, feature_channels=FC)
    msg = str(err.value)
    assert "3 tensor(s)" in msg
    assert "missing enhance.convs.0.bias: expected shape (8,)" in msg
    assert "wrong shape enhance.convs.1.weight: expected (8, 8, 3, 3), found (8, 8, 5, 5)" in msg
    assert "unexpected enhance.extra.weight: expected nothing, found shape (2, 2)" in msg


def test_save_refuses_bad_params_and_keeps_the_old_file(tmp_path, head_params):
    path = tmp_path / "w.safetensors"
    save_weights(path, head_params, HEAD_CFG, feature_channels=FC)
    before = path.read_bytes()
    bad = dict(head_params)
    bad["enhance.upsample.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=re.escape("enhance.upsample.bias: expected (12,), found (5,)")):
        save_weights(path, bad, HEAD_CFG, feature_channels=FC)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary file left


def test_shuffle_order_is_converted_at_load(tmp_path, head_params):
    """A framework-order file read for a paper-order config comes back permuted exactly as reorder_subpixel
    permutes it, and the head computes the same M^HR from either."""
    from enhancenet_numpy.head import head_forward
    from enhancenet_numpy.weights import reorder_subpixel

    path = tmp_path / "w.safetensors"
    save_weights(path, head_params, HEAD_CFG, feature_channels=FC)
    paper = ModelConfig(head=EnhanceNetConfig(channels=8, upscale=2, shuffle_order=ShuffleOrder.PAPER), num_keypoints=3)
    loaded = load_weights(path, paper, feature_channels=FC)
    want, _ = reorder_subpixel(head_params, HEAD_CFG, ShuffleOrder.PAPER)
    assert not np.array_equal(loaded["enhance.upsample.weight"], head_params["enhance.upsample.weight"])
    for name in want:
        np.testing.assert_array_equal(loaded[name], want[name], err_msg=name)
    rng = np.random.default_rng(0)
    f_lr, m_lr = rng.standard_normal((1, FC, 5, 4)), rng.standard_normal((1, 3, 5, 4))
    np.testing.assert_allclose(head_forward(loaded, f_lr, m_lr, paper.head), head_forward(head_params, f_lr, m_lr, HEAD_CFG.head),
                               rtol=0, atol=1e-12)
    bad = tmp_path / "bad.safetensors"
    save_safetensors(bad, head_params, {"format": "enhancenet-canonical", "format_version": FORMAT_VERSION,
                                        "shuffle_order": "sideways"})
    with pytest.raises(ValueError, match="shuffle_order 'sideways' is not one of"):
        load_weights(bad, paper, feature_channels=FC)


def test_missing_file_foreign_file_and_reserved_metadata(tmp_path, head_params):
    with pytest.raises(FileNotFoundError, match=re.escape("nope.safetensors")):
        load_weights(tmp_path / "nope.safetensors", HEAD_CFG, feature_channels=FC)
    foreign = tmp_path / "foreign.safetensors"
    save_safetensors(foreign, head_params, {"format_version": "0"})
    with pytest.raises(ValueError, match="'format'"):
        load_weights(foreign, HEAD_CFG, feature_channels=FC)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_weights(garbage, HEAD_CFG, feature_channels=FC)
    with pytest.raises(ValueError, match="reserved"):
        save_weights(tmp_path / "x.safetensors", head_params, HEAD_CFG, {"format_version": "9"}, feature_channels=FC)


def test_init_is_deterministic_and_per_tensor():
    cfg = ModelConfig(base=BaseModelConfig(depth=18), head=EnhanceNetConfig(channels=8))
    a, b, c = init_weights(cfg, 0), init_weights(cfg, 0), init_weights(cfg, 1)
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(a["conv1.weight"], c["conv1.weight"])
    # a tensor's values depend on (seed, name, shape) only: the head alone gets the same head weights
    head_alone = init_weights(cfg, 0, feature_channels=256)
    for n, v in head_alone.items():
        np.testing.assert_array_equal(v, a[n])
    assert (a["bn1.running_var"] >= 0.5).all() and (a["bn1.weight"] >= 0.5).all() and (a["bn1.weight"] < 1.5).all()
    w = a["layer1.0.conv1.weight"]
    bound = np.sqrt(6 / (64 * 9))
    assert np.abs(w).max() < bound and np.abs(w).max() > 0.9 * bound
    assert init_weights(cfg, 0, np.float32)["conv1.weight"].dtype == np.float32


def test_safetensors_bytes_rejects_non_string_metadata():
    with pytest.raises(ValueError, match="str to str"):
        safetensors_bytes({"a": np.zeros(1)}, {"x": 1})  # type: ignore[dict-item]
