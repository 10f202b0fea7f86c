"""``model.base.pretrained``: ImageNet backbone weights load into the backbone only, checked before anything is copied."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from safetensors.numpy import save_file

from enhancenet_core import canonical
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import (
    canonical_parameters,
    load_pretrained_backbone,
    load_tensors,
    model_tensors,
    read_safetensors,
    save_canonical,
    save_ckpt,
)
from enhancenet_numpy.weights import init_weights, save_weights

R18 = ModelConfig(base=BaseModelConfig(depth=18, deconv_channels=8, num_deconv_layers=2),
                  head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3, input_size=(32, 32),
                  heatmap_stride=8)


def _pretrained(cfg: ModelConfig, path: Path | str) -> ModelConfig:
    return dataclasses.replace(cfg, base=dataclasses.replace(cfg.base, pretrained=str(path)))


def _is_backbone(name: str, cfg: ModelConfig = R18) -> bool:
    return name.startswith(canonical.backbone_prefixes(cfg))


def _random_source(tmp_path: Path) -> tuple[ms.nn.Cell, Path]:
    """A MindSpore R18 model with every tensor (BN running statistics included) random, saved canonically."""
    source = build_model(R18)
    rng = np.random.default_rng(7)
    load_tensors(source, {k: rng.normal(1.0, 0.5, v.shape).astype(np.float32)
                          for k, v in model_tensors(source).items()}, "random")
    path = tmp_path / "imagenet_r18.safetensors"
    save_canonical(source, path, R18)
    return source, path


def test_backbone_loaded_rest_keeps_its_initialisation(tmp_path: Path) -> None:
    _, path = _random_source(tmp_path)
    stored, _ = read_safetensors(path)
    ms.set_seed(3)
    fresh = model_tensors(build_model(R18))
    ms.set_seed(3)
    got = model_tensors(build_model(_pretrained(R18, path)))
    backbone = [k for k in got if _is_backbone(k)]
    rest = [k for k in got if not _is_backbone(k)]
    assert len(backbone) == 100 and "layer4.1.bn2.running_var" in backbone  # ResNet-18: 20 convs + 20 BNs x 4
    assert "final_layer.weight" in rest and any(k.startswith("enhance.") for k in rest)
    for k in backbone:
        np.testing.assert_array_equal(got[k], stored[k], err_msg=k)
    for k in rest:  # the same initialisation as a model built without pretrained weights (same seed)
        np.testing.assert_array_equal(got[k], fresh[k], err_msg=k)
        assert not np.array_equal(got[k], stored[k]), k


def test_numpy_ref_file_and_native_ckpt(tmp_path: Path) -> None:
    """A canonical file written by numpy-ref, and a MindSpore .ckpt (MindSpore names), load the same way."""
    params = init_weights(R18, 5, np.float32)
    save_weights(tmp_path / "ref.safetensors", params, R18)
    model = build_model(R18)
    load_pretrained_backbone(model, tmp_path / "ref.safetensors", R18)
    got = model_tensors(model)
    for k in (k for k in got if _is_backbone(k)):
        np.testing.assert_array_equal(got[k], params[k], err_msg=k)
    assert not np.array_equal(got["final_layer.weight"], params["final_layer.weight"])

    source, _ = _random_source(tmp_path)
    save_ckpt(source, tmp_path / "imagenet_r18.ckpt")
    model = build_model(_pretrained(R18, tmp_path / "imagenet_r18.ckpt"))
    got, want = model_tensors(model), model_tensors(source)
    for k in (k for k in got if _is_backbone(k)):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert not np.array_equal(got["final_layer.weight"], want["final_layer.weight"])


def test_bad_file_raises_naming_tensor_and_file_and_loads_nothing(tmp_path: Path) -> None:
    _, path = _random_source(tmp_path)
    tensors, _ = read_safetensors(path)
    del tensors["layer4.1.bn2.running_var"]
    tensors["conv1.weight"] = tensors["conv1.weight"][:, :2]
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad))
    model = build_model(R18)
    before = model_tensors(model)
    with pytest.raises(ValueError, match=r"bad\.safetensors \(ImageNet simple_baseline backbone\): 2 tensor") as info:
        load_pretrained_backbone(model, bad, R18)
    assert "missing layer4.1.bn2.running_var: expected shape (512,)" in str(info.value)
    assert "wrong shape conv1.weight: expected (64, 3, 7, 7), found (64, 2, 7, 7)" in str(info.value)
    after = model_tensors(model)
    assert all(np.array_equal(after[k], v) for k, v in before.items())  # nothing loaded
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        build_model(_pretrained(R18, bad))

    pth = tmp_path / "resnet18.pth"
    pth.write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"resnet18\.pth: refused: a pickle file .*\.safetensors.*enhancenet-convert .*--trust-pickle"):
        build_model(_pretrained(R18, pth))
    with pytest.raises(FileNotFoundError, match=r"none\.safetensors"):
        build_model(_pretrained(R18, tmp_path / "none.safetensors"))
    hourglass = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=1, hourglass_channels=16),
                            num_keypoints=3, input_size=(64, 64), heatmap_stride=4)
    with pytest.raises(ValueError, match=r"model\.base\.pretrained: .* not for 'hourglass'"):
        build_model(_pretrained(hourglass, path))


def _random_backbone_file(model: ms.nn.Cell, target: ms.nn.Cell, cfg: ModelConfig, path: Path,
                          extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    arrays = {k: rng.normal(0.0, 1.0, p.shape).astype(np.float32)
              for k, p in canonical_parameters(target).items() if _is_backbone(k, cfg)}
    save_file({**arrays, **extra}, str(path))
    return arrays


def test_cpn_trunk_and_hrnet_backbone(tmp_path: Path) -> None:
    """CPN takes torchvision names into its ``resnet`` trunk; HRNet its stem, transitions and stages."""
    cpn = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=3, input_size=(32, 32))
    model = build_model(cpn)
    path = tmp_path / "r50.safetensors"
    fc = {"fc.weight": np.zeros((1000, 2048), np.float32), "fc.bias": np.zeros(1000, np.float32)}  # ignored
    arrays = _random_backbone_file(model, model.base.resnet, cpn, path, fc)
    assert len(arrays) == 265  # ResNet-50: 53 convs + 53 BNs x 4
    load_pretrained_backbone(model, path, cpn)
    got = model_tensors(model)
    for k, v in arrays.items():
        np.testing.assert_array_equal(got["resnet." + k], v, err_msg=k)
    _, r18 = _random_source(tmp_path)
    with pytest.raises(ValueError, match=r"missing layer1\.0\.conv3\.weight"):  # an R18 file for an R50 trunk
        load_pretrained_backbone(model, r18, cpn)

    hrnet = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32), num_keypoints=3,
                        input_size=(64, 64))
    model = build_model(hrnet)
    path = tmp_path / "hrnet_w32.safetensors"
    arrays = _random_backbone_file(model, model.base, hrnet, path,
                                   {"incre_modules.0.0.conv1.weight": np.zeros((32, 32, 1, 1), np.float32)})
    assert {k.split(".")[0] for k in arrays} == {"conv1", "bn1", "conv2", "bn2", "layer1", "transition1",
                                                  "stage2", "transition2", "stage3", "transition3", "stage4"}
    before = model_tensors(model)
    load_pretrained_backbone(model, path, hrnet)
    got = model_tensors(model)
    for k, v in got.items():
        np.testing.assert_array_equal(v, arrays[k] if k in arrays else before[k], err_msg=k)
