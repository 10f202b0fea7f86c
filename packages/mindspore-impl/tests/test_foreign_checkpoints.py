"""mmpose SimpleBaseline / HRNet-repository checkpoints (key lists of those code bases, enhancenet_runtime.testing_foreign)
saved as safetensors load into the MindSpore model and give the outputs of the hand-renamed canonical file; a ResNet v1d
file is refused in one line with nothing loaded; an mmpose file works as model.base.pretrained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from enhancenet_core.canonical import save_canonical_arrays
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, PretrainedScope
from enhancenet_core.foreign_names import ForeignCheckpointError
from enhancenet_core.safetensors_io import save_safetensors
from enhancenet_mindspore.foreign import load_foreign_checkpoint
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import load_canonical
from enhancenet_runtime import testing_foreign as tf


def LR(model, x):
    model.set_train(False)
    return model(ms.Tensor(x))["lr"].asnumpy()

CFG = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), num_keypoints=5,
                  head=EnhanceNetConfig(enabled=False), input_size=(48, 64))


def _by_hand(arrays):
    out = {}
    for k, v in arrays.items():
        if not k.endswith("num_batches_tracked"):
            out[k.removeprefix("backbone.").removeprefix("head.")] = v
    return out


def test_mmpose_file_matches_the_canonical_file_and_v1d_is_refused(tmp_path: Path) -> None:
    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=11)
    foreign, canon = tmp_path / "mmpose.safetensors", tmp_path / "canonical.safetensors"
    save_safetensors(foreign, arrays)
    save_canonical_arrays(canon, _by_hand(arrays), CFG)
    a, b = build_model(CFG), build_model(CFG)
    assert load_foreign_checkpoint(a, foreign, CFG) == "mmpose"
    load_canonical(b, canon, CFG)
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 48)).astype(np.float32)
    la, lb = LR(a, x), LR(b, x)
    assert np.array_equal(la, lb) and np.abs(la).max() > 0
    save_safetensors(foreign, tf.arrays(tf.mmpose_simple_baseline(18, k=5, v1d=True), seed=None))
    with pytest.raises(ForeignCheckpointError) as info:
        load_foreign_checkpoint(a, foreign, CFG)
    assert "\n" not in str(info.value) and "backbone.stem.0.conv.weight (32, 3, 3, 3)" in str(info.value)
    assert np.array_equal(LR(a, x), lb)  # nothing loaded


def test_mmpose_file_as_model_base_pretrained(tmp_path: Path) -> None:
    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=12)
    path = tmp_path / "mmpose.safetensors"
    save_safetensors(path, arrays)
    canon = tmp_path / "canonical.safetensors"
    save_canonical_arrays(canon, _by_hand(arrays), CFG)
    ref = build_model(CFG)
    load_canonical(ref, canon, CFG)
    model = build_model(replace(CFG, base=replace(CFG.base, pretrained=str(path), pretrained_scope=PretrainedScope.BASE)))
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 48)).astype(np.float32)
    assert np.array_equal(LR(model, x), LR(ref, x))
