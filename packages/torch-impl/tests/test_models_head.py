"""The EnhanceNet head in every configuration against enhancenet-numpy with the same canonical weights.

float64 torch vs float64 numpy: max abs diff <= 1e-10 x scale; float32 torch vs float64 numpy: <= 1e-5 x scale
(scale = max |M^HR| of the reference), the tolerance stated in DEVELOPERS.md.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.namemap import HEAD_PREFIX, head_parameter_specs
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights
from enhancenet_torch.models.head import EnhanceNet, paper_to_framework_index

C_F, K, H, W = 24, 5, 7, 6  # small F^LR / M^LR: odd sizes catch padding mistakes


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, C_F, H, W)), rng.standard_normal((2, K, H, W))


def _head_params(head: EnhanceNetConfig, seed: int = 1) -> dict[str, np.ndarray]:
    cfg = ModelConfig(head=head, num_keypoints=K)
    return init_weights(cfg, seed, np.float64, feature_channels=C_F)


def _torch_head(head: EnhanceNetConfig, params: dict[str, np.ndarray], dtype: torch.dtype) -> EnhanceNet:
    module = EnhanceNet(head, C_F, K).to(dtype).eval()
    state = {k[len(HEAD_PREFIX):]: torch.from_numpy(v).to(dtype) for k, v in params.items()}
    module.load_state_dict(state, strict=True)
    return module


def _check(head: EnhanceNetConfig) -> None:
    f, m = _inputs()
    params = _head_params(head)
    want = head_forward(params, f, m, head)
    assert want.shape == (2, K, head.upscale * H, head.upscale * W)
    scale = float(np.abs(want).max())
    assert scale > 0
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        module = _torch_head(head, params, dtype)
        with torch.no_grad():
            got = module(torch.from_numpy(f).to(dtype), torch.from_numpy(m).to(dtype)).double().numpy()
        assert got.shape == want.shape
        diff = float(np.abs(got - want).max())
        assert diff <= tol * scale, f"{dtype}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e} for {head}"


@pytest.mark.parametrize("inputs", list(HeadInput))
def test_head_inputs(inputs: HeadInput) -> None:
    _check(EnhanceNetConfig(inputs=inputs, channels=16))


@pytest.mark.parametrize("num_layers", [2, 3, 4])
def test_head_num_layers(num_layers: int) -> None:
    _check(EnhanceNetConfig(num_layers=num_layers, channels=16))


def test_head_refuses_one_layer() -> None:
    """L counts the upsampler and Eq. 2 needs w_1 before it (Sec. 3.1): L = 1 is refused, as the config does."""
    with pytest.raises(ValueError, match=r"model\.head\.num_layers: expected a value >= 2, got 1"):
        EnhanceNet(EnhanceNetConfig(num_layers=1, channels=16), C_F, K)


@pytest.mark.parametrize("order", list(ShuffleOrder))
@pytest.mark.parametrize("upscale", [1, 2, 3, 4, 5])
def test_head_subpixel(upscale: int, order: ShuffleOrder) -> None:
    _check(EnhanceNetConfig(upscale=upscale, shuffle_order=order, channels=16))


@pytest.mark.parametrize("kernel", [3, 12])
@pytest.mark.parametrize("upscale", [2, 4])
def test_head_deconv(kernel: int, upscale: int) -> None:
    _check(EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=kernel, upscale=upscale, channels=16))


@pytest.mark.parametrize("upscale", [2, 3, 4])
def test_head_bilinear_conv(upscale: int) -> None:
    _check(EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=upscale, channels=16))


def test_head_kernels_and_width() -> None:
    _check(EnhanceNetConfig(first_kernel=3, kernel=5, upsampler_kernel=5, channels=8))


def test_head_state_dict_is_canonical() -> None:
    for head in (EnhanceNetConfig(), EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12),
                 EnhanceNetConfig(num_layers=4, inputs=HeadInput.HEATMAPS, upsampler=Upsampler.BILINEAR_CONV)):
        module = EnhanceNet(head, 256, 17)
        specs = head_parameter_specs(head, 256, 17)
        got = {HEAD_PREFIX + k: tuple(v.shape) for k, v in module.state_dict().items()}
        assert got == {k: s.shape for k, s in specs.items()}
        assert list(got) == list(specs)


def test_paper_order_equals_framework_order_after_conversion() -> None:
    """Same stored weights, paper order with the runtime permutation == folded into the weights."""
    head = EnhanceNetConfig(upscale=3, shuffle_order=ShuffleOrder.PAPER, channels=16)
    params = _head_params(head)
    module = _torch_head(head, params, torch.float64)
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


def test_head_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="upscale"):
        EnhanceNet(EnhanceNetConfig(upscale=0), C_F, K)
    with pytest.raises(ValueError, match="kernel 12 and stride 1"):
        EnhanceNet(replace(EnhanceNetConfig(), upsampler=Upsampler.DECONV, upsampler_kernel=12, upscale=1), C_F, K)
    module = EnhanceNet(EnhanceNetConfig(), C_F, K)
    with pytest.raises(ValueError, match="needs both"):
        module(torch.zeros(1, C_F, 4, 4), None)
