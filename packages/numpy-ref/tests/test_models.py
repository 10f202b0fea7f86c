"""Base models: every canonical tensor is read, shapes, published parameter counts, complexity accounting."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.complexity import head_complexity
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, HeadInput, Upsampler
from enhancenet_core.namemap import TensorKind, parameter_count, parameter_specs
from enhancenet_numpy.models import base_forward, full_forward, hourglass
from enhancenet_numpy.weights import init_weights


class RecordingParams(dict):
    """A params dict that remembers every name a forward reads."""

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


SMALL = [
    (BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), (32, 64)),
    (BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), (32, 64)),
    (BaseModelConfig(name=BaseModelName.HRNET, width=32), (32, 64)),
    (BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), (64, 64)),
]


@pytest.mark.parametrize(("base", "size"), SMALL, ids=lambda v: getattr(v, "name", v) if not isinstance(v, tuple) else str(v))
def test_forward_reads_every_canonical_tensor_and_has_stride_4(base, size):
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=8, upscale=2), input_size=size)
    params = RecordingParams(init_weights(cfg, 0, np.float32))
    x = np.random.default_rng(0).standard_normal((1, 3, size[1], size[0])).astype(np.float32)
    m_lr, m_hr = full_forward(params, x, cfg)
    assert params.read == set(parameter_specs(cfg)), "forward and name map disagree"
    assert m_lr.shape == (1, 17, size[1] // 4, size[0] // 4)
    assert m_hr is not None and m_hr.shape == (1, 17, size[1] // 2, size[0] // 2)
    assert m_lr.dtype == np.float32 and np.isfinite(m_hr).all()


def test_hourglass_returns_every_stack_and_last_is_m_lr():
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), head=EnhanceNetConfig(enabled=False))
    p = init_weights(cfg, 1)
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64))
    f, m, scores = hourglass.forward(p, x, cfg.base)
    assert len(scores) == 2 and scores[-1] is m and f.shape == (1, 256, 16, 16)
    assert not np.allclose(scores[0], scores[1])
    m_lr, m_hr = full_forward(p, x, cfg)
    assert m_hr is None
    np.testing.assert_array_equal(m_lr, m)


@pytest.mark.parametrize(
    ("base", "published_millions"),
    [
        # HRNet's README (deep-high-resolution-net.pytorch) model zoo, COCO 256x192: #Params.
        (BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), 34.0),
        (BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=101), 53.0),
        (BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=152), 68.6),
        (BaseModelConfig(name=BaseModelName.HRNET, width=32), 28.5),
        (BaseModelConfig(name=BaseModelName.HRNET, width=48), 63.6),
    ],
)
def test_parameter_counts_match_published(base, published_millions):
    specs = parameter_specs(ModelConfig(base=base, head=EnhanceNetConfig(enabled=False)))
    assert round(parameter_count(specs) / 1e6, 1) == published_millions


@pytest.mark.parametrize(
    "head",
    [
        EnhanceNetConfig(),
        EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=3),
        EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12),
        EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV),
        EnhanceNetConfig(upscale=5, channels=256),
        EnhanceNetConfig(inputs=HeadInput.HEATMAPS, num_layers=4),
    ],
)
def test_head_parameter_count_matches_complexity_accounting(head):
    cfg = ModelConfig(head=head)
    specs = parameter_specs(cfg, feature_channels=256)
    weights = {n: s for n, s in specs.items() if s.kind != TensorKind.CONV_BIAS}
    hc = head_complexity(cfg, 256)
    assert parameter_count(weights) == sum(row.params for row in hc.rows)
    assert parameter_count(specs) - parameter_count(weights) == sum(row.bias for row in hc.rows)
    # the full model's specs are the base's followed by exactly these head tensors
    full = parameter_specs(cfg)
    assert list(full)[-len(specs):] == list(specs)


def test_table_5c_parameter_counts():
    """Table 5c: sub-pixel 0.50M, deconv 3x3 0.20M, deconv 12x12 0.50M... of the last layer (C=128, K=17)."""
    def last(head):
        s = parameter_specs(ModelConfig(head=head), feature_channels=256)["enhance.upsample.weight"]
        return int(np.prod(s.shape))
    assert last(EnhanceNetConfig()) == 128 * 17 * 16 * 9
    assert last(EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12)) == 128 * 17 * 144
    assert last(EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV)) == 128 * 17 * 9


def test_bad_input_is_rejected_with_the_reason():
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32), head=EnhanceNetConfig(enabled=False))
    p = init_weights(cfg, 0)
    with pytest.raises(ValueError, match="divisible by 32"):
        base_forward(p, np.zeros((1, 3, 64, 48)), cfg)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        base_forward(p, np.zeros((1, 1, 64, 64)), cfg)
