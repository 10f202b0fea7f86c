"""The architecture text every framework's training checkpoint records, and the check on load."""

from __future__ import annotations

import dataclasses

import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, ShuffleOrder, Upsampler
from enhancenet_runtime.engine.checkpointing import CheckpointError, check_architecture, describe_architecture


def test_default_config_text_names_every_shape_field() -> None:
    cfg = ModelConfig(base=BaseModelConfig(depth=50),
                      head=EnhanceNetConfig(num_layers=3, channels=128, upscale=4, upsampler=Upsampler.SUBPIXEL,
                                            inputs=HeadInput.BOTH),
                      num_keypoints=17)
    assert describe_architecture(cfg) == "simple_baseline(depth=50,K=17)+enhancenet(L=3,C=128,r=4,subpixel,both)"


@pytest.mark.parametrize(
    ("name", "field", "value", "prefix"),
    [
        (BaseModelName.SIMPLE_BASELINE, "depth", 18, "simple_baseline(depth=18,"),
        (BaseModelName.CPN, "depth", 101, "cpn(depth=101,"),
        (BaseModelName.HRNET, "width", 48, "hrnet(width=48,"),
        (BaseModelName.HOURGLASS, "stages", 2, "hourglass(stages=2,"),
    ],
)
def test_size_field_per_base_model(name: BaseModelName, field: str, value: int, prefix: str) -> None:
    base = dataclasses.replace(BaseModelConfig(name=name), **{field: value})
    text = describe_architecture(ModelConfig(base=base, head=EnhanceNetConfig(enabled=False), num_keypoints=16))
    assert text == prefix + "K=16)"  # no head: nothing after the base model


def test_shape_fields_change_the_text_and_the_rest_does_not() -> None:
    cfg = ModelConfig()
    text = describe_architecture(cfg)
    changed = [
        dataclasses.replace(cfg, num_keypoints=16),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, channels=64)),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, upscale=2)),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, num_layers=2)),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, upsampler=Upsampler.DECONV)),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, inputs=HeadInput.FEATURES)),
        dataclasses.replace(cfg, base=dataclasses.replace(cfg.base, depth=101)),
    ]
    texts = [describe_architecture(c) for c in changed]
    assert text not in texts and len(set(texts)) == len(texts)
    other_order = ShuffleOrder.PAPER if cfg.head.shuffle_order is ShuffleOrder.FRAMEWORK else ShuffleOrder.FRAMEWORK
    same = [
        dataclasses.replace(cfg, input_size=(288, 384)),
        dataclasses.replace(cfg, head=dataclasses.replace(cfg.head, shuffle_order=other_order)),
    ]
    assert all(describe_architecture(c) == text for c in same)


def test_check_architecture_names_file_and_both_architectures(tmp_path) -> None:
    want = describe_architecture(ModelConfig())
    check_architecture(want, want, tmp_path / "ok.pt")  # equal: no error
    have = describe_architecture(ModelConfig(num_keypoints=16))
    with pytest.raises(CheckpointError) as info:
        check_architecture(have, want, tmp_path / "last.pt")
    message = str(info.value)
    assert str(tmp_path / "last.pt") in message and repr(have) in message and repr(want) in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(CheckpointError, match="None"):
        check_architecture(None, want, "old.pt")  # a checkpoint that records no architecture
