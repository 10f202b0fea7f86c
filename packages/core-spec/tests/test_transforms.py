"""Tests of the crop geometry (enhancenet_core.transforms) against HRNet's construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhancenet_core.config import COCO_FLIP_PAIRS
from enhancenet_core.transforms import (
    affine_transform,
    box_to_center_scale,
    fliplr_joints,
    get_affine_transform,
    get_affine_transforms,
    transform_preds,
)


def hrnet_get_affine_transform(center, scale, rot, output_size, shift=(0.0, 0.0), inv=0):
    """HRNet's three-point construction with float32 points and cv2.getAffineTransform (reference)."""
    shift = np.array(shift, np.float32)
    scale_tmp = np.asarray(scale) * 200.0
    src_w = scale_tmp[0]
    dst_w, dst_h = output_size
    rot_rad = np.pi * rot / 180
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    p = [0, src_w * -0.5]
    src_dir = [p[0] * cs - p[1] * sn, p[0] * sn + p[1] * cs]
    dst_dir = np.array([0, dst_w * -0.5], np.float32)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center + scale_tmp * shift
    src[1] = center + src_dir + scale_tmp * shift
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]], np.float32)

    src[2] = third(src[0], src[1])
    dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def test_affine_matches_hrnet_up_to_float32_points() -> None:
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        c = rng.uniform(0, 640, 2).astype(np.float32)
        s = rng.uniform(0.2, 3, 2).astype(np.float32)
        rot = float(rng.uniform(-45, 45))
        sh = rng.uniform(-0.2, 0.2, 2).astype(np.float32)
        for inv in (False, True):
            ref = hrnet_get_affine_transform(c, s, rot, (192, 256), sh, int(inv))
            got = get_affine_transform(c, s, rot, (192, 256), sh, inv)
            worst = max(worst, float(np.abs(ref - got).max() / np.abs(got).max()))
    assert worst < 1e-5  # documented: float32 points vs exact float64 closed form


def test_batched_and_inverse() -> None:
    rng = np.random.default_rng(1)
    c, s, rot = rng.uniform(0, 500, (4, 2)), rng.uniform(0.5, 2, (4, 2)), rng.uniform(-30, 30, 4)
    fwd = get_affine_transforms(c, s, rot, (48, 64))
    bwd = get_affine_transforms(c, s, rot, (48, 64), inv=True)
    for i in range(4):
        np.testing.assert_allclose(fwd[i], get_affine_transform(c[i], s[i], rot[i], (48, 64)))
    pts = rng.uniform(0, 600, (4, 17, 2))
    np.testing.assert_allclose(affine_transform(affine_transform(pts, fwd), bwd), pts, atol=1e-9)
    # centre goes to the patch centre, zoom from scale[0]
    np.testing.assert_allclose(affine_transform(c[:, None], fwd)[:, 0], np.tile([24.0, 32.0], (4, 1)), atol=1e-9)


def test_box_to_center_scale_by_hand() -> None:
    # 100 x 100 box, aspect 0.75: w < 0.75 h is false and w > 0.75 h -> h = w / 0.75 = 133.33
    c, s = box_to_center_scale([10, 20, 100, 100], 0.75)
    np.testing.assert_allclose(c, [60, 70])
    np.testing.assert_allclose(s, np.array([100, 100 / 0.75]) / 200 * 1.25)
    # tall box: w = h * a
    c, s = box_to_center_scale(np.array([[0, 0, 30, 200]]), 0.75)
    np.testing.assert_allclose(s, [[150 / 200 * 1.25, 200 / 200 * 1.25]])
    # HRNet's dummy-box marker center[0] == -1 -> no 1.25
    _, s = box_to_center_scale([-2, 0, 2, 4], 0.5)
    np.testing.assert_allclose(s, [2 / 200, 4 / 200])
    with pytest.raises(ValueError, match="box_xywh"):
        box_to_center_scale([1, 2, 3], 0.75)
    with pytest.raises(ValueError, match="aspect_ratio"):
        box_to_center_scale([1, 2, 3, 4], 0.0)


def test_transform_preds_is_hrnet() -> None:
    coords = np.random.default_rng(2).uniform(0, 48, (2, 5, 2))
    c, s = np.array([[300.0, 200.0], [50.0, 60.0]]), np.array([[1.2, 1.6], [0.3, 0.4]])
    ref = np.stack([
        affine_transform(coords[i], hrnet_get_affine_transform(c[i], s[i], 0, (48, 64), inv=1)) for i in range(2)
    ])
    np.testing.assert_allclose(transform_preds(coords, c, s, (48, 64)), ref, atol=1e-3)


def test_fliplr_joints_is_hrnet_and_pure() -> None:
    rng = np.random.default_rng(3)
    joints = np.concatenate([rng.uniform(0, 100, (17, 2)), np.zeros((17, 1))], 1)
    vis = np.repeat((rng.uniform(size=(17, 1)) > 0.3).astype(float), 3, 1)
    j0, v0 = joints.copy(), vis.copy()
    ref_j, ref_v = joints.copy(), vis.copy()
    ref_j[:, 0] = 120 - ref_j[:, 0] - 1
    for a, b in COCO_FLIP_PAIRS:
        ref_j[[a, b]] = ref_j[[b, a]]
        ref_v[[a, b]] = ref_v[[b, a]]
    got_j, got_v = fliplr_joints(joints, vis, 120, COCO_FLIP_PAIRS)
    np.testing.assert_array_equal(got_j, ref_j * ref_v)
    np.testing.assert_array_equal(got_v, ref_v)
    np.testing.assert_array_equal(joints, j0)
    np.testing.assert_array_equal(vis, v0)
