"""Tests of the Gaussian targets (enhancenet_core.targets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enhancenet_core.codecs import generate_lr_hr_targets
from enhancenet_core.config import ModelConfig, TargetConfig
from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.coordinates import input_to_heatmap
from enhancenet_core.targets import combine_multi_peak, generate_targets
from enhancenet_core.transforms import affine_transform, box_to_center_scale, get_affine_transform

LEGACY = CoordinateConvention.LEGACY
UNBIASED = CoordinateConvention.UNBIASED


def hrnet_generate_target_reference(joints, joints_vis, image_size, heatmap_size, sigma):
    """HRNet's JointsDataset.generate_target ('gaussian'), one instance, written as its per-joint loop.

    joints: (K, 3) float32, joints_vis: (K, 3); sizes (W, H) as numpy arrays. Readable reference only.
    """
    num_joints = joints.shape[0]
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = joints_vis[:, 0]
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    for joint_id in range(num_joints):
        feat_stride = image_size / heatmap_size
        mu_x = int(joints[joint_id][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[joint_id][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[joint_id] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        v = target_weight[joint_id]
        if v > 0.5:
            target[joint_id][img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight


def _reference_batch(joints, vis, image_size, heatmap_size, sigma):
    outs = [
        hrnet_generate_target_reference(
            np.concatenate([joints[i], np.zeros((joints.shape[1], 1), np.float32)], 1).astype(np.float32),
            np.repeat(vis[i][:, None], 3, 1).astype(np.float32),
            np.array(image_size), np.array(heatmap_size), sigma,
        )
        for i in range(joints.shape[0])
    ]
    return np.stack([o[0] for o in outs]), np.stack([o[1][:, 0] for o in outs])


@pytest.mark.parametrize(
    ("image_size", "heatmap_size", "sigma"),
    [((192, 256), (48, 64), 2), ((192, 256), (192, 256), 8), ((256, 256), (64, 64), 2), ((192, 256), (96, 128), 4),
     ((192, 256), (48, 64), 2.5), ((192, 256), (48, 64), 1.7)],
)
def test_legacy_matches_hrnet_exactly(image_size, heatmap_size, sigma) -> None:
    rng = np.random.default_rng(0)
    n, k = 5, 17
    w, h = image_size
    # include joints well outside, at the edges, negative (int truncation) and exactly on boundaries
    joints = np.stack([rng.uniform(-0.3 * w, 1.3 * w, (n, k)), rng.uniform(-0.3 * h, 1.3 * h, (n, k))], -1)
    joints[0, :6] = [[-3.9, 5.0], [0.0, 0.0], [w - 1, h - 1], [w + 0.4, 10], [-30.0, 12.0], [20.0, -28.1]]
    joints = joints.astype(np.float32)
    vis = (rng.uniform(size=(n, k)) > 0.2).astype(np.float32)
    ref_t, ref_w = _reference_batch(joints, vis, image_size, heatmap_size, sigma)
    t, tw = generate_targets(joints, vis, image_size, heatmap_size, sigma, LEGACY)
    assert t.dtype == np.float32 and tw.dtype == np.float32
    np.testing.assert_array_equal(t, ref_t)
    np.testing.assert_array_equal(tw, ref_w)


def test_legacy_quirks_by_hand() -> None:
    s = 4  # stride 4, sigma 2 -> tmp_size 6
    # x = -3.9: int(-0.975 + 0.5) = int(-0.475) = 0 -> full peak on column 0.
    t, w = generate_targets(np.array([[[-3.9, 20.0]]]), np.ones((1, 1)), (192, 256), (48, 64), 2, LEGACY)
    assert w[0, 0] == 1 and t[0, 0, 5, 0] == 1.0
    # br == 0: x = -30 -> mu_x = int(-7.5 + 0.5) = -7 -> br = int(-7 + 6 + 1) = 0 -> weight kept
    # (off-by-one), map all zero.
    x = -30.0
    t, w = generate_targets(np.array([[[x, 20.0]]]), np.ones((1, 1)), (192, 256), (48, 64), 2, LEGACY)
    assert w[0, 0] == 1.0 and not t.any()
    # one heat-map pixel further: mu_x = -8, br = -1 < 0 -> weight 0.
    t, w = generate_targets(np.array([[[x - s, 20.0]]]), np.ones((1, 1)), (192, 256), (48, 64), 2, LEGACY)
    assert w[0, 0] == 0.0 and not t.any()
    # UNBIASED has no such off-by-one: weight 1 always comes with a non-zero map
    t, w = generate_targets(np.array([[[x, 20.0]]]), np.ones((1, 1)), (192, 256), (48, 64), 2, UNBIASED)
    assert (w[0, 0] == 1.0) == bool(t.any())


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-80, 280, allow_nan=False), y=st.floats(-80, 340, allow_nan=False),
    sigma=st.sampled_from([1.0, 2.0, 3.0, 8.0]), hm=st.sampled_from([(48, 64), (192, 256), (96, 128)]),
)
def test_unbiased_values_and_weight(x: float, y: float, sigma: float, hm: tuple[int, int]) -> None:
    t, w = generate_targets(np.array([[[x, y]]]), np.ones((1, 1)), (192, 256), hm, sigma, UNBIASED)
    mu_x, mu_y = x * (hm[0] - 1) / 191, y * (hm[1] - 1) / 255
    xs, ys = np.arange(hm[0]), np.arange(hm[1])
    full = np.exp(-((xs[None, :] - mu_x) ** 2 + (ys[:, None] - mu_y) ** 2) / (2 * sigma**2))
    r = np.ceil(3 * sigma)
    cx, cy = np.floor(mu_x + 0.5), np.floor(mu_y + 0.5)
    win = (np.abs(xs[None, :] - cx) <= r) & (np.abs(ys[:, None] - cy) <= r)
    expected = np.where(win, full, 0.0)
    if w[0, 0] == 0:
        assert not t.any() and not win.any()
    else:
        assert win.any()
        np.testing.assert_allclose(t[0, 0], expected, rtol=1e-6, atol=1e-7)


def test_invisible_and_joint_weights() -> None:
    joints = np.full((2, 3, 2), 50.0)
    vis = np.array([[1, 0, 1], [0, 1, 1]], np.float32)
    for conv in (LEGACY, UNBIASED):
        t, w = generate_targets(joints, vis, (192, 256), (48, 64), 2, conv, True, [1.0, 2.0, 0.5])
        np.testing.assert_array_equal(w, [[1, 0, 0.5], [0, 2, 0.5]])
        assert not t[0, 1].any() and not t[1, 0].any() and t[0, 0].max() > 0.5
    with pytest.raises(ValueError, match="joints_weight"):
        generate_targets(joints, vis, (192, 256), (48, 64), 2, LEGACY, True, None)


def test_lr_hr_targets_follow_eq6() -> None:
    cfg = ModelConfig()
    joints = np.array([[[100.3, 120.7], [20.0, 30.0]]])
    vis = np.ones((1, 2))
    for conv in (LEGACY, UNBIASED):
        lr, lrw, hr, hrw = generate_lr_hr_targets(joints, vis, cfg, TargetConfig(sigma=2.0, convention=conv))
        assert lr.shape == (1, 2, 64, 48) and hr.shape == (1, 2, 256, 192)
        np.testing.assert_array_equal(lrw, hrw)
        ref, _ = generate_targets(joints, vis, (192, 256), (192, 256), 8.0, conv)
        np.testing.assert_array_equal(hr, ref)
        # the HR Gaussian is r times wider: second moment of the row through the peak ~ (r sigma)^2 = 64
        row = hr[0, 0, int(np.argmax(hr[0, 0].max(1)))]
        xs = np.arange(row.size)
        m = (row * xs).sum() / row.sum()
        assert ((row * (xs - m) ** 2).sum() / row.sum()) == pytest.approx(64.0, rel=0.05)


def test_combine_multi_peak() -> None:
    a, _ = generate_targets(np.array([[[40.0, 40.0]], [[120.0, 200.0]]]), np.ones((2, 1)), (192, 256), (48, 64), 2, LEGACY)
    c = combine_multi_peak(a)
    np.testing.assert_array_equal(c, np.maximum(a[0], a[1]))
    assert c[0, 10, 10] == 1.0 and c[0, 50, 30] == 1.0
    with pytest.raises(ValueError):
        combine_multi_peak(a[0])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="joints"):
        generate_targets(np.zeros((3, 2)), np.ones((3,)), (192, 256), (48, 64), 2, LEGACY)
    with pytest.raises(ValueError, match="NaN"):
        generate_targets(np.full((1, 1, 2), np.nan), np.ones((1, 1)), (192, 256), (48, 64), 2, LEGACY)
    with pytest.raises(ValueError, match="joints_vis"):
        generate_targets(np.zeros((1, 2, 2)), np.ones((1, 3)), (192, 256), (48, 64), 2, LEGACY)
    with pytest.raises(ValueError, match="sigma"):
        generate_targets(np.zeros((1, 2, 2)), np.ones((1, 2)), (192, 256), (48, 64), 0, LEGACY)


def test_coco_sample_targets(coco_sample_dir: Path) -> None:
    """Real COCO keypoints -> crop -> LR and HR targets: each visible in-patch joint peaks where it should."""
    data = json.loads((coco_sample_dir / "test_coco.json").read_text())
    anns = [a for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert anns
    cfg = ModelConfig()
    w_in, h_in = cfg.input_size
    for conv in (LEGACY, UNBIASED):
        for ann in anns:
            kp = np.array(ann["keypoints"], np.float64).reshape(-1, 3)
            c, s = box_to_center_scale(ann["bbox"], w_in / h_in)
            mat = get_affine_transform(c, s, 0.0, cfg.input_size)
            patch = affine_transform(kp[:, :2], mat)
            vis = (kp[:, 2] > 0).astype(np.float32)
            patch = np.where(vis[:, None] > 0, patch, 0.0)
            lr, lrw, hr, hrw = generate_lr_hr_targets(patch[None], vis[None], cfg, TargetConfig(2.0, conv))
            for t, wts, size in ((lr, lrw, cfg.heatmap_size), (hr, hrw, cfg.hr_heatmap_size)):
                inside = (vis > 0) & np.all((patch >= 0) & (patch <= [w_in - 1, h_in - 1]), axis=1)
                assert np.all(wts[0][inside] == 1) and np.all(wts[0][vis == 0] == 0)
                expect = input_to_heatmap(patch, cfg.input_size, size, conv)
                flat = t[0].reshape(t.shape[1], -1).argmax(1)
                got = np.stack([flat % size[0], flat // size[0]], 1)
                err = np.abs(got - expect)[inside]
                assert np.all(err <= 0.5 + 1e-9), (conv, size, err.max())
