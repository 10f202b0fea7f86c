"""The EnhanceNet head: the shared suite (:mod:`enhancenet_runtime.suites.head`: every configuration against
enhancenet-numpy, float64 <= 1e-10 x scale and float32 <= 1e-5 x scale; canonical names; bad configurations)
with PyTorch's binding (conftest.py), and what is PyTorch's own: the paper-order permutation folded into the
weights, the index permutation against Eq. 5, and the missing-input error.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhancenet_core.config import EnhanceNetConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_runtime.suites.head import C_F, HeadSuite, K, head_params
from enhancenet_torch.models.head import EnhanceNet, paper_to_framework_index


class TestHead(HeadSuite):
    """Every head configuration against numpy-ref; canonical names; bad configurations."""


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, C_F, 7, 6)), rng.standard_normal((2, K, 7, 6))


def _torch_head(head: EnhanceNetConfig, params: dict[str, np.ndarray]) -> EnhanceNet:
    module = EnhanceNet(head, C_F, K).to(torch.float64).eval()
    module.load_state_dict({k[len("enhance."):]: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    return module


def test_paper_order_equals_framework_order_after_conversion() -> None:
    """Same stored weights, paper order with the runtime permutation == folded into the weights."""
    head = EnhanceNetConfig(upscale=3, shuffle_order=ShuffleOrder.PAPER, channels=16)
    params = head_params(head)
    module = _torch_head(head, params)
    f, m = (torch.from_numpy(a) for a in _inputs(3))
    with torch.no_grad():
        before = module(f, m)
        module.to_framework_order()
        after = module(f, m)
    assert module.shuffle_order is ShuffleOrder.FRAMEWORK and module.paper_to_framework is None
    assert torch.allclose(before, after, rtol=0, atol=1e-12)
    # the permutation really moves channels (else the test above could not fail)
    assert not torch.equal(paper_to_framework_index(K, 3), torch.arange(K * 9))


def test_paper_index_matches_eq5_and_numpy() -> None:
    """A channel-c-holds-value-c tensor shuffled by torch after the permutation equals numpy's paper PS."""
    from enhancenet_numpy.ops import pixel_shuffle

    for r in (2, 3, 4):
        c = K * r * r
        x = np.arange(c, dtype=np.float64).reshape(1, c, 1, 1) * np.ones((1, 1, 2, 3))
        want = pixel_shuffle(x, r, ShuffleOrder.PAPER)
        idx = paper_to_framework_index(K, r)
        got = torch.nn.functional.pixel_shuffle(torch.from_numpy(x).index_select(1, idx), r).numpy()
        assert np.array_equal(got, want)
        # Eq. 5 with x the row, y the column (enhancenet_core.pixel_shuffle):
        # PS(T)_{x,y,k} = T_{x//r, y//r, K*r*(y%r) + K*(x%r) + k}
        xs, ys = np.meshgrid(np.arange(2 * r), np.arange(3 * r), indexing="ij")
        for k in range(K):
            assert np.array_equal(got[0, k], K * r * (ys % r) + K * (xs % r) + k)


def test_head_needs_its_inputs() -> None:
    module = EnhanceNet(EnhanceNetConfig(), C_F, K)
    with pytest.raises(ValueError, match="needs both"):
        module(torch.zeros(1, C_F, 4, 4), None)
