"""EnhanceNet head: the shared suite (:mod:`enhancenet_runtime.suites.head`: every configuration against
enhancenet-numpy with identical canonical weights, float32 <= 1e-5 x max |M^HR| of the float64 reference, as
MindSpore 2.8's CPU convolutions accept float16/32 only; canonical names; bad configurations) with MindSpore's
binding (conftest.py), and what is MindSpore's own: GRAPH_MODE for two configurations, and folding the paper
order into the weights and back.
"""

from __future__ import annotations

import dataclasses

import mindspore as ms
import numpy as np
import pytest
from _helpers import assert_close_to_scale

from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder, Upsampler
from enhancenet_mindspore.models import EnhanceNet
from enhancenet_mindspore.weights import load_tensors
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights
from enhancenet_runtime.suites.head import HeadSuite

C_F, K, H, W = 6, 3, 5, 4

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


class TestHead(HeadSuite):
    """Every head configuration against numpy-ref (float32); canonical names; bad configurations."""


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
