"""DLCM bone-map targets: against a slow per-pixel loop, by hand, joint-map identity, weights, flip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from enhancenet_core.codecs import GaussianHeatmapCodec
from enhancenet_core.compositional import (
    MPII_HIERARCHY,
    BoneMapCodec,
    dlcm_codecs,
    draw_bones,
    flip_levels,
    swap_partners,
)
from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig, TargetConfig
from enhancenet_core.conventions import CoordinateConvention, Decoder, FlipShiftRule
from enhancenet_core.flip import flip_shift

LEGACY, UNBIASED = CoordinateConvention.LEGACY, CoordinateConvention.UNBIASED


def _codec(convention, sigma=2.0, input_size=(64, 64), heatmap_size=(16, 16), rule=FlipShiftRule.NONE):
    return BoneMapCodec(input_size, heatmap_size, sigma, convention, Decoder.ARGMAX, rule)


# ----------------------------------------------------------------------------------------- slow reference
def _euclid(px, py, ax, ay, bx, by):
    """Distance from a point to a closed segment, case by case."""
    vx, vy = bx - ax, by - ay
    wx, wy = px - ax, py - ay
    length2 = vx * vx + vy * vy
    dot = wx * vx + wy * vy
    if length2 == 0 or dot <= 0:
        return math.hypot(wx, wy)
    if dot >= length2:
        return math.hypot(px - bx, py - by)
    return abs(wx * vy - wy * vx) / math.sqrt(length2)


def _touches_box(ax, ay, bx, by, x0, x1, y0, y1):
    """Liang-Barsky: whether the segment meets the closed box [x0, x1] x [y0, y1]."""
    t0, t1 = 0.0, 1.0
    for p, q in ((-(bx - ax), ax - x0), (bx - ax, x1 - ax), (-(by - ay), ay - y0), (by - ay, y1 - ay)):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return False
    return True


def _slow_bone(a, b, width, height, sigma):
    out = np.zeros((height, width))
    rad = 3 * sigma
    for y in range(height):
        for x in range(width):
            if _touches_box(a[0], a[1], b[0], b[1], x - rad, x + rad, y - rad, y + rad):
                d = _euclid(x, y, a[0], a[1], b[0], b[1])
                out[y, x] = math.exp(-d * d / (2 * sigma * sigma))
    return out


def _ends(joints, codec):
    s = np.array(codec.joint_codec.stride)
    mu = np.asarray(joints, dtype=np.float64) / s
    return np.trunc(mu + 0.5) if codec.convention is LEGACY else mu


@pytest.mark.parametrize("convention", [LEGACY, UNBIASED])
@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_encode_matches_slow_loop(convention, sigma):
    rng = np.random.default_rng(int(sigma * 10) + (convention is LEGACY))
    codec = _codec(convention, sigma, input_size=(48, 64), heatmap_size=(12, 16))
    joints = rng.uniform(-12, 70, size=(2, 16, 2))
    joints[0, 3] = joints[0, 4]  # a degenerate bone (l upper leg)
    joints[1, 8, 1] = joints[1, 9, 1]  # a horizontal bone (head)
    vis = np.ones((2, 16))
    vis[1, 0] = 0
    targets = codec.encode(joints, vis)
    ends = _ends(joints, codec)
    w1 = targets.weights[0]
    for n in range(2):
        slow2 = []
        for p, (i, j) in enumerate(MPII_HIERARCHY.levels[1].children):
            drawn = w1[n, i] > 0.5 and w1[n, j] > 0.5
            ref = _slow_bone(ends[n, i], ends[n, j], 12, 16, sigma) if drawn else np.zeros((16, 12))
            slow2.append(ref)
            np.testing.assert_allclose(targets.maps[1][n, p], ref, rtol=1e-6, atol=1e-7, err_msg=f"{n=} {p=}")
            assert targets.weights[1][n, p] == float(drawn and ref.max() > 0)
        for p, ch in enumerate(MPII_HIERARCHY.levels[2].children):
            ref = np.maximum(slow2[ch[0]], slow2[ch[1]])
            np.testing.assert_allclose(targets.maps[2][n, p], ref, rtol=1e-6, atol=1e-7)


def test_axis_aligned_bone_by_hand():
    maps = draw_bones(np.array([[2.0, 5.0]]), np.array([[8.0, 5.0]]), np.array([True]), 12, 10, 1.0)[0]
    assert maps[5, 5] == pytest.approx(1.0)
    assert maps[6, 5] == pytest.approx(math.exp(-0.5), rel=1e-6)  # one row below the middle
    assert maps[5, 0] == pytest.approx(math.exp(-2.0), rel=1e-6)  # two pixels before the end a
    assert maps[7, 10] == pytest.approx(math.exp(-4.0), rel=1e-6)  # (2, 2) from the end b
    assert maps[9, 5] == 0.0  # 4 rows away > 3σ
    assert maps[8, 11] == pytest.approx(math.exp(-(9 + 9) / 2), rel=1e-5)  # Chebyshev 3 from b: inside
    assert np.all(draw_bones(np.zeros((1, 2)), np.ones((1, 2)), np.array([False]), 4, 4, 1.0) == 0)


def test_degenerate_bone_is_the_legacy_joint_gaussian():
    codec = GaussianHeatmapCodec((64, 64), (16, 16), 2.0, LEGACY, Decoder.ARGMAX, FlipShiftRule.NONE)
    joint = np.array([[[22.0, 37.0]]])
    target, _ = codec.encode(joint, np.ones((1, 1)))
    centre = np.trunc(joint[0] / 4 + 0.5)
    bone = draw_bones(centre, centre, np.array([True]), 16, 16, 2.0)
    np.testing.assert_allclose(bone[0], target[0, 0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("convention", [LEGACY, UNBIASED])
def test_level_one_is_the_gaussian_codec(convention):
    codec = _codec(convention)
    rng = np.random.default_rng(3)
    joints, vis = rng.uniform(0, 63, (3, 16, 2)), (rng.uniform(size=(3, 16)) > 0.2).astype(float)
    jw = rng.uniform(0.5, 2, 16)
    t = codec.encode(joints, vis, jw)
    lv1, w1 = codec.joint_codec.encode(joints, vis, jw)
    np.testing.assert_array_equal(t.maps[0], lv1)
    np.testing.assert_array_equal(t.weights[0], w1)
    assert [m.shape for m in t.maps] == [(3, 16, 16, 16), (3, 12, 16, 16), (3, 6, 16, 16)]
    assert all(m.dtype == np.float32 for m in t.maps + t.weights)
    assert set(np.unique(t.weights[1])) <= {0.0, 1.0}  # composites ignore joints_weight


def test_missing_joints_empty_their_parts():
    codec = _codec(UNBIASED)
    joints = np.tile(np.linspace(8, 56, 16)[:, None], (1, 2))[None]
    vis = np.ones((1, 16))
    vis[0, 9] = 0  # head top: the head bone (upper neck - head top) is empty, head-neck keeps the neck
    t = codec.encode(joints, vis)
    assert t.weights[1][0, 7] == 0 and not t.maps[1][0, 7].any()
    assert t.weights[1][0, 6] == 1 and t.weights[2][0, 3] == 1
    np.testing.assert_array_equal(t.maps[2][0, 3], t.maps[1][0, 6])
    vis[0, 7] = 0  # thorax too: neck empty, so head-neck is empty
    t = codec.encode(joints, vis)
    assert t.weights[2][0, 3] == 0 and not t.maps[2][0, 3].any()
    assert t.weights[1].sum() == 10


def test_for_stacks_picks_each_level():
    t = _codec(UNBIASED).encode(np.full((1, 16, 2), 30.0), np.ones((1, 16)))
    maps, weights = t.for_stacks((1, 2, 3, 2, 1))
    assert [m.shape[1] for m in maps] == [16, 12, 6, 12, 16] and maps[3] is t.maps[1]
    assert [w.shape[1] for w in weights] == [16, 12, 6, 12, 16]


def test_flip_of_targets_is_targets_of_flipped_joints():
    codec = _codec(UNBIASED, 1.5)
    rng = np.random.default_rng(7)
    joints = rng.uniform(0, 63, (2, 16, 2))
    vis = np.ones((2, 16))
    vis[0, 4] = 0
    mirrored = joints.copy()
    mirrored[..., 0] = 63 - joints[..., 0]
    perm = MPII_HIERARCHY.levels[0].permutation()
    flipped = codec.encode(mirrored[:, perm], vis[:, perm])
    expected = flip_levels(codec.encode(joints, vis).maps, (1, 2, 3), MPII_HIERARCHY)
    for lv in range(3):
        np.testing.assert_allclose(flipped.maps[lv], expected[lv], atol=1e-6)


def test_flip_swaps_partners_at_every_level_and_is_an_involution():
    rng = np.random.default_rng(0)
    maps = [rng.standard_normal((2, p, 4, 5)) for p in (16, 12, 6, 12, 16)]
    levels = (1, 2, 3, 2, 1)
    once = flip_levels(maps, levels, MPII_HIERARCHY)
    twice = flip_levels(once, levels, MPII_HIERARCHY)
    for a, b in zip(maps, twice, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(once[2][:, 0], maps[2][:, 1, :, ::-1])  # r leg <- l leg
    np.testing.assert_array_equal(once[2][:, 3], maps[2][:, 3, :, ::-1])  # head-neck stays
    np.testing.assert_array_equal(once[1][:, 8], maps[1][:, 11, :, ::-1])  # r lower arm <- l lower arm
    np.testing.assert_array_equal(once[0][:, 12], maps[0][:, 13, :, ::-1])  # r shoulder <- l shoulder
    np.testing.assert_array_equal(swap_partners(maps[1], 2, MPII_HIERARCHY)[:, 4], maps[1][:, 5])
    with pytest.raises(ValueError):
        swap_partners(maps[1], 1, MPII_HIERARCHY)
    with pytest.raises(ValueError):
        flip_levels(maps, levels[:4], MPII_HIERARCHY)


def test_codec_flip_back_adds_the_legacy_shift():
    codec = _codec(LEGACY, rule=FlipShiftRule.HRNET)
    assert codec.joint_codec.flip_shift_pixels == 1
    maps = [np.random.default_rng(1).standard_normal((1, p, 16, 16)) for p in (16, 12, 6, 12, 16)]
    back = codec.flip_back(maps)
    ref = [flip_shift(m, 1) for m in flip_levels(maps, (1, 2, 3, 2, 1), MPII_HIERARCHY)]
    for a, b in zip(back, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dlcm_codecs_from_config():
    model = ModelConfig(num_keypoints=16, input_size=(256, 256), head=EnhanceNetConfig(upscale=4))
    codecs = dlcm_codecs(Config(model=model, target=TargetConfig(sigma=2.0, convention=LEGACY)))
    assert codecs.lr.heatmap_size == (64, 64) and codecs.lr.sigma == 2.0
    assert codecs.hr.heatmap_size == (256, 256) and codecs.hr.sigma == 8.0
    assert codecs.lr.levels == (1, 2, 3, 2, 1)


def test_bad_inputs():
    codec = _codec(UNBIASED)
    with pytest.raises(ValueError, match=r"\(N, 16, 2\)"):
        codec.encode(np.zeros((1, 17, 2)), np.ones((1, 17)))
    with pytest.raises(ValueError, match="sigma"):
        _codec(UNBIASED, sigma=0.0)
    with pytest.raises(ValueError, match="sigma"):
        draw_bones(np.zeros((1, 2)), np.ones((1, 2)), np.array([True]), 4, 4, -1.0)
