"""``enhancenet-convert`` with MindSpore ``.ckpt``: the back end ``enhancenet_mindspore.convert`` through the front
end (a subprocess of this interpreter) and in-process: bit-exact round trips, --verify, shuffle order, refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_mindspore import convert as ms_convert
from enhancenet_numpy.weights import init_weights, load_weights, save_weights
from enhancenet_runtime.convert import ConvertError, convert_weights, format_of, main

CFG = ModelConfig(
    base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=16),
    head=EnhanceNetConfig(channels=8, upscale=2, shuffle_order=ShuffleOrder.PAPER),
    num_keypoints=3,
    input_size=(64, 64),
)


def _canonical(path: Path, cfg: ModelConfig = CFG, seed: int = 3) -> dict[str, np.ndarray]:
    params = init_weights(cfg, seed, np.float32)
    save_weights(path, params, cfg)
    return params


def _assert_bit_exact(back: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
    assert list(back) == list(params)
    for name, value in params.items():
        assert back[name].dtype == value.dtype and np.array_equal(back[name], value), name


@pytest.mark.slow
def test_front_end_canonical_ckpt_canonical_bit_exact_and_verify(tmp_path: Path, capsys) -> None:
    assert format_of("w.ckpt") == "mindspore"
    params = _canonical(tmp_path / "a.safetensors")
    res = convert_weights(tmp_path / "a.safetensors", tmp_path / "m.ckpt")  # config from the header
    assert res.steps == ("mindspore: a.safetensors -> m.ckpt",)
    # the .ckpt records its configuration: no --config needed on the way back; --verify runs both ends
    assert main([str(tmp_path / "m.ckpt"), str(tmp_path / "b.safetensors"), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "max |diff| / max(1, max |hr|): 0" in out and "max |diff| / max(1, max |lr|): 0" in out
    _assert_bit_exact(load_weights(tmp_path / "b.safetensors", CFG), params)
    # a native file written twice stays overwritable (save_checkpoint alone leaves mode 0400)
    convert_weights(tmp_path / "a.safetensors", tmp_path / "m.ckpt")


def test_ckpt_holds_mindspore_names_and_config(tmp_path: Path) -> None:
    _canonical(tmp_path / "a.safetensors")
    ms_convert.convert(tmp_path / "a.safetensors", tmp_path / "m.ckpt")
    tensors, other = ms_convert.read_ckpt(tmp_path / "m.ckpt")
    assert other["enhancenet_format"] == ms_convert.CKPT_FORMAT
    assert json.loads(other["model_config"])["base"]["name"] == "hourglass"
    assert "enhance.upsample.weight" in tensors
    assert any(k.endswith(".moving_variance") for k in tensors) and not any(k.endswith(".running_var") for k in tensors)
    assert all(k.startswith(("base.", "enhance.")) for k in tensors)


def test_paper_order_ckpt_read_as_framework_order_gives_same_heatmaps(tmp_path: Path) -> None:
    _canonical(tmp_path / "a.safetensors")
    ms_convert.convert(tmp_path / "a.safetensors", tmp_path / "paper.ckpt")
    fw_cfg = dataclasses.replace(CFG, head=dataclasses.replace(CFG.head, shuffle_order=ShuffleOrder.FRAMEWORK))
    ms_convert.convert(tmp_path / "paper.ckpt", tmp_path / "fw.ckpt", fw_cfg)
    paper_t, _ = ms_convert.read_ckpt(tmp_path / "paper.ckpt")
    fw_t, _ = ms_convert.read_ckpt(tmp_path / "fw.ckpt")
    assert not np.array_equal(paper_t["enhance.upsample.weight"], fw_t["enhance.upsample.weight"])  # permuted
    (tmp_path / "o1").mkdir()
    (tmp_path / "o2").mkdir()
    a = ms_convert.verify_outputs(tmp_path / "paper.ckpt", tmp_path / "o1", seed=1)
    b = ms_convert.verify_outputs(tmp_path / "fw.ckpt", tmp_path / "o2", seed=1)
    assert a["hr"].std() > 0
    np.testing.assert_array_equal(a["lr"], b["lr"])
    np.testing.assert_allclose(a["hr"], b["hr"], rtol=0, atol=1e-6 * max(1.0, float(np.abs(a["hr"]).max())))


def test_training_checkpoint_weights_are_read(tmp_path: Path) -> None:
    """A training checkpoint (optimizer.* entries, the config inside its JSON ``state``) converts to canonical."""
    params = _canonical(tmp_path / "a.safetensors")
    ms_convert.convert(tmp_path / "a.safetensors", tmp_path / "m.ckpt")
    tensors, other = ms_convert.read_ckpt(tmp_path / "m.ckpt")
    items = [{"name": k, "data": ms.Tensor(v)} for k, v in tensors.items()]
    items.append({"name": "optimizer.moment1.enhance.upsample.weight", "data": ms.Tensor(tensors["enhance.upsample.weight"])})
    state = json.dumps({"format": "enhancenet-mindspore-checkpoint", "config": {"model": json.loads(other["model_config"])}})
    ms.save_checkpoint(items, str(tmp_path / "train.ckpt"), append_dict={"state": state})
    ms_convert.convert(tmp_path / "train.ckpt", tmp_path / "b.safetensors")
    _assert_bit_exact(load_weights(tmp_path / "b.safetensors", CFG), params)


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    _canonical(tmp_path / "a.safetensors")
    ms_convert.convert(tmp_path / "a.safetensors", tmp_path / "m.ckpt")
    tensors, _ = ms_convert.read_ckpt(tmp_path / "m.ckpt")
    other_arch = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18, deconv_channels=16),
                             head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3, input_size=(32, 32))
    with pytest.raises(ValueError, match="holds a 'hourglass' model, the config builds 'simple_baseline'"):
        ms_convert.convert(tmp_path / "m.ckpt", tmp_path / "x.safetensors", other_arch)
    # a bare save_checkpoint file (no recorded configuration) with one tensor missing and one mis-shaped
    items = [{"name": k, "data": ms.Tensor(v)} for k, v in tensors.items() if k != "enhance.upsample.bias"]
    items = [i if i["name"] != "enhance.convs.0.bias" else {"name": i["name"], "data": ms.Tensor(np.zeros(5, np.float32))}
             for i in items]
    ms.save_checkpoint(items, str(tmp_path / "bare.ckpt"))
    with pytest.raises(ValueError, match="records no model configuration"):
        ms_convert.convert(tmp_path / "bare.ckpt", tmp_path / "x.safetensors")
    with pytest.raises(ValueError) as info:
        ms_convert.convert(tmp_path / "bare.ckpt", tmp_path / "x.safetensors", CFG)
    msg = str(info.value)
    assert "missing enhance.upsample.bias" in msg and "wrong shape enhance.convs.0.bias: expected (8,), found (5,)" in msg
    assert not (tmp_path / "x.safetensors").exists()  # nothing written on failure
    # through the front end: the back end's message is passed through, exit status 2
    with pytest.raises(ConvertError, match=r"missing enhance\.upsample\.bias"):
        convert_weights(tmp_path / "bare.ckpt", tmp_path / "x.safetensors", CFG)
    assert main([str(tmp_path / "nope.ckpt"), str(tmp_path / "x.safetensors")]) == 2
