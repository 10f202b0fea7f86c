"""Canonical safetensors and native .ckpt I/O: bit-exact round trips, shuffle-order conversion, clear errors."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from _helpers import model_with_reference_weights
from mindspore import nn, ops

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig, TrainConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.train import build_optimizer
from enhancenet_mindspore.weights import (
    load_canonical,
    load_ckpt,
    model_tensors,
    read_safetensors,
    save_canonical,
    save_ckpt,
)
from enhancenet_numpy.weights import init_weights, load_weights, reorder_subpixel, save_weights

CFG = ModelConfig(base=BaseModelConfig(depth=18, deconv_channels=32, num_deconv_layers=2),
                  head=EnhanceNetConfig(channels=16, upscale=2), input_size=(32, 32), heatmap_stride=8)


def test_numpy_file_loads_bit_exact_and_round_trips(tmp_path: Path) -> None:
    params = init_weights(CFG, 3, np.float32)
    save_weights(tmp_path / "ref.safetensors", params, CFG)
    model = build_model(CFG)
    meta = load_canonical(model, tmp_path / "ref.safetensors", CFG)
    assert meta["format"] == "enhancenet-canonical"
    got = model_tensors(model)
    assert list(got) == list(params)
    for k, v in params.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    save_canonical(model, tmp_path / "ms.safetensors", CFG, metadata={"note": "x"})
    back = load_weights(tmp_path / "ms.safetensors", CFG)  # numpy-ref's reader accepts our file
    for k, v in params.items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)
    tensors, meta2 = read_safetensors(tmp_path / "ms.safetensors")
    assert meta2["note"] == "x" and meta2["shuffle_order"] == "framework" and set(tensors) == set(params)


def test_overwrite_is_atomic_and_allowed(tmp_path: Path) -> None:
    model = build_model(CFG)
    path = tmp_path / "w.safetensors"
    save_canonical(model, path, CFG)
    save_canonical(model, path, CFG)  # overwrite
    assert os.access(path, os.W_OK)
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary file left
    with pytest.raises(ValueError, match="reserved"):
        save_canonical(model, path, CFG, metadata={"format": "x"})


def test_shuffle_order_converted_at_load(tmp_path: Path) -> None:
    paper_cfg = dataclasses.replace(CFG, head=dataclasses.replace(CFG.head, shuffle_order=ShuffleOrder.PAPER))
    params = init_weights(paper_cfg, 0, np.float32)
    save_weights(tmp_path / "paper.safetensors", params, paper_cfg)
    model = build_model(CFG)  # framework order
    load_canonical(model, tmp_path / "paper.safetensors", CFG)
    want, _ = reorder_subpixel(params, paper_cfg, ShuffleOrder.FRAMEWORK)
    np.testing.assert_array_equal(model_tensors(model)["enhance.upsample.weight"], want["enhance.upsample.weight"])


def test_load_errors_name_each_tensor(tmp_path: Path) -> None:
    model = build_model(CFG)
    before = model_tensors(model)
    params = init_weights(CFG, 0, np.float32)
    from safetensors.numpy import save_file

    from enhancenet_mindspore.weights import model_config_json

    meta = {"format": "enhancenet-canonical", "format_version": "1", "shuffle_order": "framework",
            "model_config": model_config_json(CFG)}
    broken = dict(params)
    del broken["bn1.running_var"]
    broken["final_layer.weight"] = np.zeros((17, 32, 3, 3), np.float32)
    broken["extra.weight"] = np.zeros(2, np.float32)
    save_file(broken, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(ValueError) as info:
        load_canonical(model, tmp_path / "bad.safetensors", CFG)
    text = str(info.value)
    assert "missing bn1.running_var: expected shape (64,)" in text
    assert "wrong shape final_layer.weight: expected (17, 32, 1, 1), found (17, 32, 3, 3)" in text
    assert "unexpected extra.weight" in text
    after = model_tensors(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing loaded

    other = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=16),
                        head=CFG.head)
    save_weights(tmp_path / "hg.safetensors", init_weights(other, 0, np.float32), other)
    with pytest.raises(ValueError, match="holds a 'hourglass' model, the config builds 'simple_baseline'"):
        load_canonical(model, tmp_path / "hg.safetensors", CFG)
    with pytest.raises(FileNotFoundError):
        load_canonical(model, tmp_path / "none.safetensors", CFG)


def test_ckpt_round_trip_and_overwrite(tmp_path: Path) -> None:
    model, _ = model_with_reference_weights(CFG, seed=5)
    path = tmp_path / "m.ckpt"
    save_ckpt(model, path, append_dict={"epoch": 3})
    save_ckpt(model, path, append_dict={"epoch": 4})  # save_checkpoint alone leaves a 0400 file behind
    assert os.stat(path).st_mode & 0o200
    fresh = build_model(CFG)
    extras = load_ckpt(fresh, path)
    assert int(np.asarray(extras["epoch"])) == 4
    a, b = model_tensors(model), model_tensors(fresh)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    other = build_model(dataclasses.replace(CFG, num_keypoints=5))
    with pytest.raises(ValueError, match=r"wrong shape base\.final_layer\.weight"):
        load_ckpt(other, path)


def test_equal_outputs_after_reload(tmp_path: Path) -> None:
    model, _ = model_with_reference_weights(CFG, seed=1)
    save_canonical(model, tmp_path / "a.safetensors", CFG)
    again = build_model(CFG)
    load_canonical(again, tmp_path / "a.safetensors", CFG)
    again.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
    np.testing.assert_array_equal(model(x)["hr"].asnumpy(), again(x)["hr"].asnumpy())


# ------------------------------------------------------------------ loading after the optimizer has run (PYNATIVE)
class _SumStep(nn.Cell):
    """One optimizer step on loss = sum(M^LR²) + sum(M^HR²) of a PoseModel."""

    def __init__(self, model: nn.Cell, optimizer: nn.Optimizer) -> None:
        super().__init__()
        self.model = model
        self.optimizer = optimizer
        self.grad_fn = ms.value_and_grad(self.loss, None, optimizer.parameters)

    def loss(self, images: ms.Tensor) -> ms.Tensor:
        out = self.model(images)
        return (out["lr"] ** 2).sum() + (out["hr"] ** 2).sum()

    def construct(self, images: ms.Tensor) -> ms.Tensor:
        loss, grads = self.grad_fn(images)
        return ops.depend(loss, self.optimizer(grads))


@pytest.mark.parametrize("optimizer", ["build_optimizer", "nn.Adam"])
@pytest.mark.parametrize("fmt", ["safetensors", "ckpt"])
def test_loaded_weights_reach_an_optimizer_that_has_run(tmp_path: Path, optimizer: str, fmt: str) -> None:
    """Step, load the initial weights from a file, step again: the second step starts from the loaded values.

    With ``Parameter.set_data`` the kernel optimizer ``nn.Adam`` kept updating the old storage: after the second
    step the parameters still held exactly the loaded values (the update was lost).
    """
    model = build_model(CFG)
    path = tmp_path / f"w.{fmt}"
    (save_canonical(model, path, CFG) if fmt == "safetensors" else save_ckpt(model, path))
    trainable = model.trainable_params()
    loaded = [p.asnumpy().copy() for p in trainable]  # by position: wrapping cells rename the Parameters
    if optimizer == "nn.Adam":
        opt: nn.Optimizer = nn.Adam(trainable, learning_rate=ms.Parameter(ms.Tensor(0.5, ms.float32), name="lr"))
    else:
        opt = build_optimizer(trainable, dataclasses.replace(TrainConfig(), optimizer="adam", lr=0.5))
    step = _SumStep(model, opt)
    step.set_train(True)
    images = ms.Tensor(np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32))
    step(images)
    assert max(np.abs(p.asnumpy() - w).max() for p, w in zip(trainable, loaded, strict=True)) > 0.4  # moved
    (load_canonical(model, path) if fmt == "safetensors" else load_ckpt(model, path))
    for p, w in zip(trainable, loaded, strict=True):
        np.testing.assert_array_equal(p.asnumpy(), w, err_msg=p.name)
    ops.assign(opt.learning_rate, ms.Tensor(1e-3, ms.float32))
    step(images)
    moved = [p.name for p, w in zip(trainable, loaded, strict=True) if not np.array_equal(p.asnumpy(), w)]
    assert len(moved) > len(trainable) // 2, "the second step did not update the loaded parameters"
    for p, w in zip(trainable, loaded, strict=True):  # Adam moves each weight by about lr from the loaded values
        assert np.abs(p.asnumpy() - w).max() < 0.01, p.name
