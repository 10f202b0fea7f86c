"""Canonical weight I/O: round trip, interchange with enhancenet-numpy, load errors, HRNet / ImageNet files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder
from enhancenet_core.safetensors_io import PickleRefusedError, save_safetensors
from enhancenet_numpy import weights as np_weights
from enhancenet_torch.models import build_model, canonical_state_dict
from enhancenet_torch.weights import (
    FORMAT_NAME,
    load_canonical,
    load_hrnet_checkpoint,
    load_pretrained_backbone,
    model_config_json,
    save_canonical,
)

R18 = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), num_keypoints=5)


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in canonical_state_dict(model).values():
            t.copy_(torch.rand(t.shape, generator=g) + 0.5)
    return model


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = canonical_state_dict(a), canonical_state_dict(b)
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_round_trip(tmp_path: Path) -> None:
    model = _randomize(build_model(R18))
    path = tmp_path / "w.safetensors"
    save_canonical(model, path, R18, metadata={"note": "test"})
    fresh = build_model(R18)
    metadata = load_canonical(fresh, path, R18)
    _assert_same(model, fresh)
    assert metadata["format"] == FORMAT_NAME and metadata["note"] == "test"
    assert json.loads(metadata["model_config"])["base"]["name"] == "simple_baseline"
    assert metadata["model_config"] == model_config_json(R18)
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary file left behind


def test_numpy_writes_torch_reads_and_back(tmp_path: Path) -> None:
    params = np_weights.init_weights(R18, seed=3, dtype=np.float32)
    np_path = tmp_path / "numpy.safetensors"
    np_weights.save_weights(np_path, params, R18)
    model = build_model(R18)
    load_canonical(model, np_path, R18)
    for k, v in canonical_state_dict(model).items():
        assert np.array_equal(v.numpy(), params[k]), k
    torch_path = tmp_path / "torch.safetensors"
    save_canonical(model, torch_path, R18)
    back = np_weights.load_weights(torch_path, R18)  # numpy-ref's own checks accept the torch file
    assert list(back) == list(params)
    for k in params:
        assert np.array_equal(back[k], params[k]), k


def test_other_architecture_fails_before_loading(tmp_path: Path) -> None:
    hr_cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32), num_keypoints=5)
    path = tmp_path / "hrnet.safetensors"
    save_canonical(build_model(hr_cfg), path, hr_cfg)
    model = _randomize(build_model(R18))
    before = {k: v.clone() for k, v in canonical_state_dict(model).items()}
    with pytest.raises(ValueError, match="holds a 'hrnet' model") as info:
        load_canonical(model, path, R18)
    msg = str(info.value)
    assert "missing layer4.0.conv1.weight: expected shape (512, 256, 3, 3), found nothing" in msg
    assert "wrong shape layer1.0.conv1.weight: expected (64, 64, 3, 3), found (64, 64, 1, 1)" in msg
    assert "unexpected stage2.0.branches.0.0.conv1.weight" in msg
    assert "wrong shape layer1.0.bn1.weight" not in msg  # same name and shape in both: not a problem
    after = canonical_state_dict(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_missing_and_misshaped_tensors_are_named(tmp_path: Path) -> None:
    model = build_model(R18)
    tensors = {k: v.clone() for k, v in canonical_state_dict(model).items()}
    del tensors["final_layer.bias"]
    tensors["enhance.convs.0.weight"] = torch.zeros(128, 3, 1, 1)
    header = {"format": FORMAT_NAME, "format_version": "1", "model_config": model_config_json(R18),
              "shuffle_order": "framework"}
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(ValueError) as info:
        load_canonical(build_model(R18), path, R18)
    msg = str(info.value)
    assert "2 tensor(s)" in msg
    assert "missing final_layer.bias: expected shape (5,), found nothing" in msg
    assert "wrong shape enhance.convs.0.weight: expected (128, 261, 1, 1), found (128, 3, 1, 1)" in msg


def test_not_a_canonical_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(ValueError, match="metadata 'format'"):
        load_canonical(build_model(R18), path)
    with pytest.raises(FileNotFoundError, match=r"missing\.safetensors"):
        load_canonical(build_model(R18), tmp_path / "missing.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_canonical(build_model(R18), tmp_path / "garbage.safetensors")


def test_failed_save_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="reserved"):
        save_canonical(build_model(R18), path, R18, metadata={"format": "x"})
    assert path.read_bytes() == b"old"
    with pytest.raises(FileNotFoundError):
        save_canonical(build_model(R18), tmp_path / "no" / "w.safetensors", R18)


def test_shuffle_order_is_converted_at_load(tmp_path: Path) -> None:
    paper = replace(R18, head=EnhanceNetConfig(shuffle_order=ShuffleOrder.PAPER, upscale=3, channels=16))
    framework = replace(paper, head=replace(paper.head, shuffle_order=ShuffleOrder.FRAMEWORK))
    a = _randomize(build_model(paper)).eval()
    path = tmp_path / "paper.safetensors"
    save_canonical(a, path, paper)
    b = build_model(framework).eval()
    load_canonical(b, path, framework)
    assert not torch.equal(a.enhance.upsample.weight, b.enhance.upsample.weight)  # really permuted
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.allclose(a(x)["hr"], b(x)["hr"], rtol=1e-5, atol=1e-5)
    # and back: a framework-order file into a paper-order model
    path2 = tmp_path / "framework.safetensors"
    save_canonical(b, path2, framework)
    c = build_model(paper).eval()
    load_canonical(c, path2, paper)
    assert torch.equal(c.enhance.upsample.weight, a.enhance.upsample.weight)


def test_hrnet_checkpoint(tmp_path: Path) -> None:
    """An HRNet-code-base .pth (DataParallel 'module.' prefix, num_batches_tracked) loads into the base, but only
    with the explicit ``trust_pickle`` opt-in (without it: refused unread)."""
    source = _randomize(build_model(R18))
    state = {f"module.{k}": v for k, v in source.base.state_dict().items()}
    path = tmp_path / "pose_resnet_18.pth"
    torch.save(state, path)
    model = build_model(R18)
    head_before = {k: v.clone() for k, v in model.enhance.state_dict().items()}
    with pytest.raises(PickleRefusedError, match=r"pose_resnet_18\.pth: refused: a pickle file"):
        load_hrnet_checkpoint(model, path)
    load_hrnet_checkpoint(model, path, trust_pickle=True)
    assert all(torch.equal(source.base.state_dict()[k], v) for k, v in canonical_state_dict(model.base).items())
    assert all(torch.equal(head_before[k], v) for k, v in model.enhance.state_dict().items())
    del state["module.final_layer.weight"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"missing final_layer\.weight: expected shape \(5, 256, 1, 1\)"):
        load_hrnet_checkpoint(build_model(R18), path, trust_pickle=True)


def test_pretrained_resnet_backbone(tmp_path: Path) -> None:
    imagenet = _randomize(build_model(R18)).base
    state = {k: v for k, v in imagenet.state_dict().items() if k.startswith(("conv1", "bn1", "layer"))}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)  # ignored
    path = tmp_path / "resnet18_imagenet.safetensors"  # a .pth converts once with enhancenet-convert --trust-pickle
    save_safetensors(path, {k: v.numpy() for k, v in state.items()})
    model = build_model(replace(R18, base=replace(R18.base, pretrained=str(path))))
    assert torch.equal(model.base.layer4[1].bn2.running_var, imagenet.layer4[1].bn2.running_var)
    assert not torch.equal(model.base.final_layer.weight, imagenet.final_layer.weight)
    cpn = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=5)
    with pytest.raises(ValueError, match=r"missing layer1\.0\.conv3\.weight"):  # an R18 file for an R50 trunk
        load_pretrained_backbone(build_model(cpn), path, cpn)
    with pytest.raises(FileNotFoundError):
        build_model(replace(R18, base=replace(R18.base, pretrained=str(tmp_path / "none.safetensors"))))
    hg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1))
    with pytest.raises(ValueError, match="hourglass"):
        load_pretrained_backbone(build_model(hg), path, hg)


_AE_TINY = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                           ae_output_channels=10)  # fmt: skip


_SQUARE = {"ae_hourglass": 5, "hourglass": 5, "dlcm": 16}  # name -> K (DLCM: MPII's 16 joints); 64x64 input


@pytest.mark.parametrize("base", [
    BaseModelConfig(name=BaseModelName.CPN, depth=50), _AE_TINY,
    BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2, hourglass_channels=16),
    BaseModelConfig(name=BaseModelName.DLCM, hourglass_channels=32),
], ids=["cpn", "ae", "hourglass", "dlcm"])  # fmt: skip
def test_pretrained_scope_base_loads_a_whole_base_model(tmp_path: Path, base: BaseModelConfig) -> None:
    """A CPN, hourglass, DLCM or AE-hourglass file of our own (as reproduce's pretrainings write) initialises the
    whole base model with ``pretrained_scope: base`` (CPN: trunk, GlobalNet, RefineNet; the others: every stack);
    the head keeps its initialisation."""
    from enhancenet_core.conventions import PretrainedScope

    square = base.name.value in _SQUARE
    base_cfg = ModelConfig(base=base, num_keypoints=_SQUARE.get(base.name.value, 5),
                           head=replace(R18.head, enabled=False), **({"input_size": (64, 64)} if square else {}))
    trained = _randomize(build_model(base_cfg), seed=3)
    path = tmp_path / "cpn.safetensors"
    save_canonical(trained, path, base_cfg)
    cfg = replace(base_cfg, head=R18.head,
                  base=replace(base_cfg.base, pretrained=str(path), pretrained_scope=PretrainedScope.BASE))
    model = build_model(cfg)
    got, want = canonical_state_dict(model.base), canonical_state_dict(trained.base)
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    if not square:
        assert any(k.startswith("resnet.") for k in want) and any(not k.startswith("resnet.") for k in want)
