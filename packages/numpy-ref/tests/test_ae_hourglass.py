"""numpy-ref AE hourglass: every named tensor is read, shapes, the channel split, the stack wiring, and that the
EnhanceNet head sees the detection maps and never the tags."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.namemap import parameter_specs
from enhancenet_numpy.models import ae_hourglass, base_forward, full_forward
from enhancenet_numpy.weights import init_weights

K = 3
BASE = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                       ae_output_channels=4 * K)
HEAD = EnhanceNetConfig(channels=8, upscale=2)
CFG = ModelConfig(base=BASE, num_keypoints=K, input_size=(64, 64), head=HEAD)


class RecordingParams(dict):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self:
            self.read.add(key)
        return super().get(key, default)


def _x(seed: int = 0, n: int = 2, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, size, size))


def test_reads_every_tensor_and_has_the_shapes() -> None:
    params = RecordingParams(init_weights(CFG, 0))
    out = ae_hourglass.full_forward(params, _x(), BASE, K, HEAD)
    assert params.read == set(parameter_specs(CFG)), "forward and the spec's names disagree"
    assert out.features.shape == (2, 16, 16, 16)
    assert out.detection.shape == out.tags.shape == (2, K, 16, 16)
    assert [s.shape for s in out.stacks] == [(2, 4 * K, 16, 16)] * 2
    assert out.hr is not None and out.hr.shape == (2, K, 32, 32)
    np.testing.assert_array_equal(out.detection, out.stacks[-1][:, :K])
    np.testing.assert_array_equal(out.tags, out.stacks[-1][:, K:2 * K])
    assert [d.shape for d in out.stack_detection(K)] == [t.shape for t in out.stack_tags(K)] == [(2, K, 16, 16)] * 2
    # the generic entry points give F^LR and the detection maps
    f, m = base_forward(params, _x(), CFG)
    np.testing.assert_array_equal(f, out.features)
    np.testing.assert_array_equal(m, out.detection)
    m_lr, hr = full_forward(params, _x(), CFG)
    np.testing.assert_array_equal(m_lr, out.detection)
    np.testing.assert_array_equal(hr, out.hr)


def test_head_reads_detection_not_tags() -> None:
    params = init_weights(CFG, 1)
    ref = ae_hourglass.full_forward(params, _x(), BASE, K, HEAD)
    last = "outs.1.conv.weight"
    tags_changed = dict(params)
    tags_changed[last] = params[last].copy()
    tags_changed[last][K:] += 1.0  # tag and unsupervised channels of the last stack
    out = ae_hourglass.full_forward(tags_changed, _x(), BASE, K, HEAD)
    np.testing.assert_array_equal(out.hr, ref.hr)
    assert not np.allclose(out.tags, ref.tags)
    det_changed = dict(params)
    det_changed[last] = params[last].copy()
    det_changed[last][:K] += 1.0
    assert not np.allclose(ae_hourglass.full_forward(det_changed, _x(), BASE, K, HEAD).hr, ref.hr)


def test_every_output_channel_of_an_earlier_stack_feeds_the_next() -> None:
    """merge_preds reads the whole output, the unsupervised channels included (pose-ae-train's oup_dim)."""
    params = init_weights(CFG, 2)
    ref = ae_hourglass.forward(params, _x(), BASE, K)
    changed = dict(params)
    changed["outs.0.conv.bias"] = params["outs.0.conv.bias"].copy()
    changed["outs.0.conv.bias"][2 * K:] += 1.0  # unsupervised channels of stack 0
    out = ae_hourglass.forward(changed, _x(), BASE, K)
    np.testing.assert_array_equal(out.stacks[0][:, :2 * K], ref.stacks[0][:, :2 * K])
    assert not np.allclose(out.stacks[1], ref.stacks[1])
    zero = dict(changed)
    zero["merge_preds.0.conv.conv.weight"] = np.zeros_like(params["merge_preds.0.conv.conv.weight"])
    ref_zero = dict(params)
    ref_zero["merge_preds.0.conv.conv.weight"] = zero["merge_preds.0.conv.conv.weight"]
    np.testing.assert_allclose(ae_hourglass.forward(zero, _x(), BASE, K).stacks[1],
                               ae_hourglass.forward(ref_zero, _x(), BASE, K).stacks[1])


def test_relu_and_no_relu_where_pose_ae_train_has_them() -> None:
    params = init_weights(CFG, 3)
    out = ae_hourglass.forward(params, _x(), BASE, K)
    assert out.features.min() >= 0  # after a Conv with ReLU
    assert out.stacks[0].min() < 0  # outs has no ReLU


def test_bad_input_is_named() -> None:
    params = init_weights(CFG, 0)
    with pytest.raises(ValueError, match="divisible by 64"):
        ae_hourglass.forward(params, _x(size=32), BASE, K)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        ae_hourglass.forward(params, _x()[:, :2], BASE, K)
    with pytest.raises(ValueError, match="ae_output_channels"):
        ae_hourglass.forward(params, _x(), BASE, 7)
