"""The canonical name map: names and shapes of HRNet's pose_resnet / pose_hrnet, bearpaw's hourglass, the head."""

from __future__ import annotations

import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler
from enhancenet_core.namemap import TensorKind, parameter_count, parameter_specs

NO_HEAD = EnhanceNetConfig(enabled=False)


def specs(base: BaseModelConfig, head: EnhanceNetConfig = NO_HEAD, k: int = 17):
    return parameter_specs(ModelConfig(base=base, head=head, num_keypoints=k))


def shapes(s):
    return {n: v.shape for n, v in s.items()}


def test_simple_baseline_names_and_shapes():
    s = shapes(specs(BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50)))
    assert s["conv1.weight"] == (64, 3, 7, 7) and "conv1.bias" not in s
    assert s["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert s["layer1.0.downsample.1.running_var"] == (256,)
    assert "layer1.1.downsample.0.weight" not in s
    assert s["layer3.5.conv3.weight"] == (1024, 256, 1, 1) and "layer3.6.conv1.weight" not in s
    assert s["layer4.0.conv2.weight"] == (512, 512, 3, 3)
    assert s["deconv_layers.0.weight"] == (2048, 256, 4, 4) and "deconv_layers.0.bias" not in s
    for i in (1, 4, 7):
        assert s[f"deconv_layers.{i}.running_mean"] == (256,)
    assert s["deconv_layers.6.weight"] == (256, 256, 4, 4)
    assert s["final_layer.weight"] == (17, 256, 1, 1) and s["final_layer.bias"] == (17,)
    assert not any(n.endswith("num_batches_tracked") for n in s)
    r18 = shapes(specs(BaseModelConfig(depth=18)))
    assert r18["layer1.1.conv2.weight"] == (64, 64, 3, 3) and "layer1.0.downsample.0.weight" not in r18
    assert r18["layer2.0.downsample.0.weight"] == (128, 64, 1, 1) and "layer1.0.conv3.weight" not in r18
    assert r18["deconv_layers.0.weight"] == (512, 256, 4, 4)


def test_hrnet_names_and_shapes():
    s = shapes(specs(BaseModelConfig(name=BaseModelName.HRNET, width=32)))
    assert s["conv2.weight"] == (64, 64, 3, 3) and s["layer1.3.bn3.weight"] == (256,)
    assert s["transition1.0.0.weight"] == (32, 256, 3, 3)
    assert s["transition1.1.0.0.weight"] == (64, 256, 3, 3)
    assert "transition2.0.0.weight" not in s and s["transition2.2.0.0.weight"] == (128, 64, 3, 3)
    assert s["transition3.3.0.0.weight"] == (256, 128, 3, 3)
    assert s["stage2.0.branches.1.3.conv2.weight"] == (64, 64, 3, 3) and "stage2.1.branches.0.0.conv1.weight" not in s
    assert s["stage3.3.fuse_layers.0.2.0.weight"] == (32, 128, 1, 1)  # j > i: 1x1 then nearest upsampling
    assert s["stage3.0.fuse_layers.2.0.0.0.weight"] == (32, 32, 3, 3)  # j < i: 3x3/2 chain, width kept ...
    assert s["stage3.0.fuse_layers.2.0.1.0.weight"] == (128, 32, 3, 3)  # ... until the last conv
    assert "stage3.0.fuse_layers.0.0.0.weight" not in s  # j == i: identity
    # the last module of stage4 fuses into branch 0 only
    assert s["stage4.2.fuse_layers.0.3.0.weight"] == (32, 256, 1, 1)
    assert not any(n.startswith("stage4.2.fuse_layers.1.") for n in s)
    assert any(n.startswith("stage4.1.fuse_layers.3.") for n in s)
    assert "stage4.3.branches.0.0.conv1.weight" not in s
    assert s["final_layer.weight"] == (17, 32, 1, 1)


def test_hourglass_names_and_shapes():
    s = shapes(specs(BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), k=16))
    assert s["conv1.bias"] == (64,) and s["layer1.0.bn1.weight"] == (64,)
    assert s["layer1.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert s["layer2.0.conv1.weight"] == (128, 128, 1, 1) and s["layer2.0.downsample.0.weight"] == (256, 128, 1, 1)
    assert "layer3.0.downsample.0.weight" not in s and s["layer3.0.conv3.weight"] == (256, 128, 1, 1)
    assert s["hg.1.hg.0.3.0.conv2.weight"] == (128, 128, 3, 3)  # the innermost level has a 4th residual
    assert "hg.1.hg.1.3.0.conv2.weight" not in s and "hg.1.hg.4.0.0.conv1.weight" not in s
    assert s["res.1.0.bn1.running_var"] == (256,)
    assert s["fc.0.0.weight"] == (256, 256, 1, 1) and s["fc.0.1.weight"] == (256,)
    assert s["score.1.weight"] == (16, 256, 1, 1)
    assert s["fc_.0.weight"] == (256, 256, 1, 1) and s["score_.0.weight"] == (256, 16, 1, 1)
    assert "fc_.1.weight" not in s and "score_.1.weight" not in s
    names = list(s)  # PyTorch registration order: every hg before any res, fc, score, fc_, score_
    assert names.index("hg.1.hg.3.2.0.conv3.bias") < names.index("res.0.0.bn1.weight") < names.index("fc.0.0.weight")
    assert names.index("score.1.bias") < names.index("fc_.0.weight") < names.index("score_.0.weight")
    eight = specs(BaseModelConfig(name=BaseModelName.HOURGLASS, stages=8, hourglass_blocks=2))
    assert "hg.7.hg.3.2.1.conv3.weight" in eight and "score_.6.weight" in eight and "score_.7.weight" not in eight


@pytest.mark.parametrize(
    ("base", "millions"),
    [  # HRNet's README model zoo (#Params, COCO 256x192)
        (BaseModelConfig(depth=50), 34.0),
        (BaseModelConfig(depth=101), 53.0),
        (BaseModelConfig(name=BaseModelName.HRNET, width=32), 28.5),
        (BaseModelConfig(name=BaseModelName.HRNET, width=48), 63.6),
    ],
)
def test_published_parameter_counts(base, millions):
    assert round(parameter_count(specs(base)) / 1e6, 1) == millions


def test_head_names_shapes_and_order():
    head = EnhanceNetConfig(channels=128, upscale=4)
    s = specs(BaseModelConfig(depth=50), head)
    names = list(s)
    assert names[-6:] == [
        "enhance.convs.0.weight", "enhance.convs.0.bias", "enhance.convs.1.weight",
        "enhance.convs.1.bias", "enhance.upsample.weight", "enhance.upsample.bias",
    ]
    assert s["enhance.convs.0.weight"].shape == (128, 256 + 17, 1, 1)
    assert s["enhance.convs.1.weight"].shape == (128, 128, 3, 3)
    assert s["enhance.upsample.weight"].shape == (17 * 16, 128, 3, 3)
    assert s["enhance.upsample.weight"].kind == TensorKind.CONV_WEIGHT
    deconv = parameter_specs(ModelConfig(head=EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12)), feature_channels=32)
    assert deconv["enhance.upsample.weight"].shape == (128, 17, 12, 12)
    assert deconv["enhance.upsample.weight"].kind == TensorKind.DECONV_WEIGHT
    assert deconv["enhance.upsample.bias"].shape == (17,)
    assert all(n.startswith("enhance.") for n in deconv)
    bil = parameter_specs(ModelConfig(head=EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, num_layers=4)), feature_channels=32)
    assert bil["enhance.convs.2.weight"].shape == (128, 128, 3, 3) and bil["enhance.upsample.weight"].shape == (17, 128, 3, 3)
    f_only = parameter_specs(ModelConfig(head=EnhanceNetConfig(inputs=HeadInput.FEATURES)), feature_channels=48)
    m_only = parameter_specs(ModelConfig(head=EnhanceNetConfig(inputs=HeadInput.HEATMAPS)), feature_channels=48)
    assert f_only["enhance.convs.0.weight"].shape[1] == 48 and m_only["enhance.convs.0.weight"].shape[1] == 17
    hr = specs(BaseModelConfig(name=BaseModelName.HRNET, width=48), EnhanceNetConfig())
    assert hr["enhance.convs.0.weight"].shape == (128, 48 + 17, 1, 1)


def test_unsupported_models_and_bad_fields_are_named():
    with pytest.raises(ValueError, match="'cpn'"):
        parameter_specs(ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN)))
    # the head alone attaches to any base model, CPN included
    assert "enhance.upsample.weight" in parameter_specs(ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN)), feature_channels=256)
    with pytest.raises(ValueError, match=r"model\.base\.depth"):
        specs(BaseModelConfig(depth=42))
    with pytest.raises(ValueError, match=r"model\.head\.channels"):
        parameter_specs(ModelConfig(head=EnhanceNetConfig(channels=0)), feature_channels=8)
