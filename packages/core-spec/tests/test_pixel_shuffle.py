"""Tests of the periodic shuffle of Eq. 5 (enhancenet_core.pixel_shuffle)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enhancenet_core.complexity import subpixel_channels
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.pixel_shuffle import (
    channel_permutation,
    convert_subpixel_weights,
    pixel_shuffle,
    pixel_unshuffle,
)

PAPER, FRAMEWORK = ShuffleOrder.PAPER, ShuffleOrder.FRAMEWORK
SHAPES = [(1, 1, 2, 2), (2, 2, 3, 4), (3, 3, 2, 3), (17, 2, 2, 1), (2, 4, 1, 2)]  # (K, r, H, W)


@pytest.mark.parametrize(("k", "r", "h", "w"), SHAPES)
def test_paper_order_is_eq5_index_by_index(k: int, r: int, h: int, w: int) -> None:
    # Eq. 5 with the paper's H x W x C layout: x runs over rows (H axis), y over columns (W axis).
    t_hwc = np.random.default_rng(0).normal(size=(h, w, k * r * r))
    expected = np.zeros((r * h, r * w, k))
    for x in range(r * h):
        for y in range(r * w):
            for kk in range(k):
                expected[x, y, kk] = t_hwc[x // r, y // r, k * r * (y % r) + k * (x % r) + kk]
    out = pixel_shuffle(t_hwc.transpose(2, 0, 1)[None], r, PAPER)  # NCHW
    assert out.shape == (1, k, r * h, r * w)
    np.testing.assert_array_equal(out[0].transpose(1, 2, 0), expected)


@pytest.mark.parametrize(("k", "r", "h", "w"), SHAPES)
def test_framework_order_index_by_index(k: int, r: int, h: int, w: int) -> None:
    t = np.random.default_rng(1).normal(size=(2, k * r * r, h, w))
    expected = np.zeros((2, k, r * h, r * w))
    for n in range(2):
        for c in range(k):
            for hh in range(h):
                for i in range(r):
                    for ww in range(w):
                        for j in range(r):
                            expected[n, c, hh * r + i, ww * r + j] = t[n, c * r * r + i * r + j, hh, ww]
    np.testing.assert_array_equal(pixel_shuffle(t, r, FRAMEWORK), expected)


def test_framework_order_matches_torch() -> None:
    torch = pytest.importorskip("torch", reason="torch is only a cross-check of the FRAMEWORK order")
    t = np.random.default_rng(2).normal(size=(2, 3 * 16, 5, 4)).astype(np.float32)
    ref = torch.nn.functional.pixel_shuffle(torch.from_numpy(t), 4).numpy()
    np.testing.assert_array_equal(pixel_shuffle(t, 4, FRAMEWORK), ref)
    np.testing.assert_array_equal(pixel_unshuffle(ref, 4, FRAMEWORK), t)


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 5), r=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5),
    order=st.sampled_from([PAPER, FRAMEWORK]), seed=st.integers(0, 2**16),
)
def test_shuffle_unshuffle_identity(k: int, r: int, h: int, w: int, order: ShuffleOrder, seed: int) -> None:
    t = np.random.default_rng(seed).normal(size=(2, k * r * r, h, w))
    np.testing.assert_array_equal(pixel_unshuffle(pixel_shuffle(t, r, order), r, order), t)
    y = np.random.default_rng(seed + 1).normal(size=(2, k, r * h, r * w))
    np.testing.assert_array_equal(pixel_shuffle(pixel_unshuffle(y, r, order), r, order), y)


def _conv2d_same(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Tiny reference conv: x (N, C, H, W), weight (O, C, kh, kw), zero 'same' padding, stride 1."""
    o, _, kh, kw = weight.shape
    n, _, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((n, o, h, w))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nchw,oc->nohw", xp[:, :, a:a + h, b:b + w], weight[:, :, a, b])
    if bias is not None:
        out += bias[None, :, None, None]
    return out


@pytest.mark.parametrize(("k", "r"), [(1, 2), (3, 2), (17, 4), (2, 3)])
def test_weight_conversion_gives_identical_heatmaps(k: int, r: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 4, 3))
    w_paper = rng.normal(size=(k * r * r, 5, 3, 3))
    b_paper = rng.normal(size=(k * r * r,))
    ref = pixel_shuffle(_conv2d_same(x, w_paper, b_paper), r, PAPER)
    w_fw, b_fw = convert_subpixel_weights(w_paper, b_paper, k, r, PAPER, FRAMEWORK)
    got = pixel_shuffle(_conv2d_same(x, w_fw, b_fw), r, FRAMEWORK)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert not np.array_equal(w_fw, w_paper)  # the orders really differ (r > 1 in every case here)
    w_back, b_back = convert_subpixel_weights(w_fw, b_fw, k, r, FRAMEWORK, PAPER)
    np.testing.assert_array_equal(w_back, w_paper)
    np.testing.assert_array_equal(b_back, b_paper)
    assert convert_subpixel_weights(w_paper, None, k, r, PAPER, FRAMEWORK)[1] is None


def test_permutation_properties() -> None:
    p = channel_permutation(17, 4, PAPER, FRAMEWORK)
    assert sorted(p.tolist()) == list(range(17 * 16))
    np.testing.assert_array_equal(channel_permutation(17, 4, PAPER, PAPER), np.arange(17 * 16))
    q = channel_permutation(17, 4, FRAMEWORK, PAPER)
    np.testing.assert_array_equal(p[q], np.arange(17 * 16))
    # K = 1: PAPER channel r*j + i vs FRAMEWORK channel r*i + j -> a transpose, not the identity for r > 1.
    np.testing.assert_array_equal(channel_permutation(1, 2, PAPER, FRAMEWORK), [0, 2, 1, 3])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="K\\*r\\*r"):
        pixel_shuffle(np.zeros((1, 5, 2, 2)), 2, PAPER)
    with pytest.raises(ValueError, match="r"):
        pixel_shuffle(np.zeros((1, 4, 2, 2)), 0, PAPER)
    with pytest.raises(ValueError):
        pixel_unshuffle(np.zeros((1, 1, 3, 4)), 2, FRAMEWORK)
    with pytest.raises(ValueError, match="bias"):
        convert_subpixel_weights(np.zeros((4, 1, 3, 3)), np.zeros(3), 1, 2, PAPER, FRAMEWORK)
    with pytest.raises(ValueError, match="weight"):
        convert_subpixel_weights(np.zeros((5, 1, 3, 3)), None, 1, 2, PAPER, FRAMEWORK)


def test_subpixel_channels_is_k_r_squared() -> None:
    assert subpixel_channels(17, 4) == 272 and subpixel_channels(16, 2) == 64 and subpixel_channels(3, 1) == 3
    x = np.zeros((1, subpixel_channels(5, 3), 2, 2))
    assert pixel_shuffle(x, 3, FRAMEWORK).shape == (1, 5, 6, 6)
