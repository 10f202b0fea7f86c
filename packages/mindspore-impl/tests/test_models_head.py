"""EnhanceNet head vs enhancenet-numpy in every configuration, with identical canonical weights.

float32 tolerance: max abs diff <= 1e-5 x max |M^HR| of the float64 reference (MindSpore 2.8's CPU convolutions
accept float16/32 only, so no float64 run exists). PYNATIVE_MODE for every configuration, GRAPH_MODE for two.
"""

from __future__ import annotations

import dataclasses

import mindspore as ms
import numpy as np
import pytest
from _helpers import assert_close_to_scale

from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.namemap import parameter_specs
from enhancenet_mindspore.models import EnhanceNet
from enhancenet_mindspore.weights import canonical_parameters, load_tensors
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights

C_F, K, H, W = 6, 3, 5, 4

CONFIGS = (
    [EnhanceNetConfig(inputs=i) for i in HeadInput]
    + [EnhanceNetConfig(num_layers=n, inputs=HeadInput.HEATMAPS) for n in (2, 3, 4)]
    + [EnhanceNetConfig(upscale=r, shuffle_order=o, channels=8) for r in range(1, 6) for o in ShuffleOrder]
    + [EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=k, upscale=r, channels=8)
       for k in (3, 12) for r in range(2, 6)]
    + [EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=3, upscale=1, channels=8)]
    + [EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=r, channels=8) for r in range(1, 6)]
)


def _ids(cfg: EnhanceNetConfig) -> str:
    return (f"{cfg.inputs.value}-L{cfg.num_layers}-r{cfg.upscale}-{cfg.upsampler.value}{cfg.upsampler_kernel}-"
            f"{cfg.shuffle_order.value}")


def _run(head_cfg: EnhanceNetConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    model_cfg = ModelConfig(head=dataclasses.replace(head_cfg, channels=min(head_cfg.channels, 16)), num_keypoints=K)
    params = init_weights(model_cfg, seed, feature_channels=C_F)
    head = EnhanceNet(model_cfg.head, C_F, K)
    load_tensors(head, params, "init_weights")
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((2, C_F, H, W))
    m = rng.standard_normal((2, K, H, W))
    got = head(ms.Tensor(f.astype(np.float32)), ms.Tensor(m.astype(np.float32))).asnumpy()
    want = head_forward(params, f, m, model_cfg.head)
    return got, want


@pytest.mark.parametrize("head_cfg", CONFIGS, ids=_ids)
def test_head_matches_numpy(head_cfg: EnhanceNetConfig) -> None:
    got, want = _run(head_cfg)
    r = head_cfg.upscale
    assert got.shape == (2, K, r * H, r * W)
    assert_close_to_scale(got, want, 1e-5, _ids(head_cfg))


@pytest.mark.parametrize("head_cfg", [EnhanceNetConfig(shuffle_order=ShuffleOrder.PAPER, channels=8),
                                      EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=3, channels=8)],
                         ids=_ids)
def test_head_graph_mode(head_cfg: EnhanceNetConfig, graph_mode: None) -> None:
    got, want = _run(head_cfg, seed=1)
    assert ms.get_context("mode") == ms.GRAPH_MODE
    assert_close_to_scale(got, want, 1e-5, "graph " + _ids(head_cfg))


def test_paper_and_framework_orders_differ_and_fold() -> None:
    """The same stored weights read in the two orders give different maps; folding keeps the maps."""
    cfg = EnhanceNetConfig(upscale=3, shuffle_order=ShuffleOrder.PAPER, channels=8)
    model_cfg = ModelConfig(head=cfg, num_keypoints=K)
    params = init_weights(model_cfg, 0, feature_channels=C_F)
    rng = np.random.default_rng(0)
    f, m = (ms.Tensor(rng.standard_normal(s).astype(np.float32)) for s in ((1, C_F, H, W), (1, K, H, W)))
    paper = EnhanceNet(cfg, C_F, K)
    framework = EnhanceNet(dataclasses.replace(cfg, shuffle_order=ShuffleOrder.FRAMEWORK), C_F, K)
    load_tensors(paper, params)
    load_tensors(framework, params)
    a, b = paper(f, m).asnumpy(), framework(f, m).asnumpy()
    assert np.abs(a - b).max() > 1e-3
    paper.to_framework_order()
    assert paper.shuffle_order is ShuffleOrder.FRAMEWORK
    np.testing.assert_allclose(paper(f, m).asnumpy(), a, atol=1e-6 * np.abs(a).max())  # conv blocking may differ
    paper.to_paper_order()
    np.testing.assert_array_equal(paper.upsample.weight.asnumpy(), params["enhance.upsample.weight"].astype(np.float32))


@pytest.mark.parametrize("head_cfg", CONFIGS[:6] + CONFIGS[-1:], ids=_ids)
def test_head_names_are_canonical(head_cfg: EnhanceNetConfig) -> None:
    model_cfg = ModelConfig(head=head_cfg, num_keypoints=K)
    head = EnhanceNet(head_cfg, C_F, K)
    got = {k: tuple(p.shape) for k, p in canonical_parameters(head).items()}
    want = {k: s.shape for k, s in parameter_specs(model_cfg, feature_channels=C_F).items()}
    assert got == want


def test_bad_head_config() -> None:
    with pytest.raises(ValueError, match=r"model\.head\.upscale"):
        EnhanceNet(EnhanceNetConfig(upscale=0), C_F, K)
    with pytest.raises(ValueError, match="deconv"):
        EnhanceNet(EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12, upscale=1), C_F, K)
    with pytest.raises(ValueError, match=r"model\.head\.num_layers: expected a value >= 2, got 1"):
        EnhanceNet(EnhanceNetConfig(num_layers=1), C_F, K)  # Eq. 2 needs w_1 before the upsampler
