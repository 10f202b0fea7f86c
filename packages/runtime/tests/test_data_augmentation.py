"""HRNet augmentation over an explicit Generator: determinism, the stream, the rules, flip round trips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from enhancenet_core.config import COCO_FLIP_PAIRS, AugmentationConfig
from enhancenet_runtime.data.augmentation import (
    apply_flip,
    half_body_center_scale,
    no_augmentation,
    sample_augmentation,
)
from enhancenet_runtime.data.keypoints import COCO_LOWER_BODY_IDS, COCO_UPPER_BODY_IDS

ASPECT = 192 / 256


def _person(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    joints = rng.uniform(20, 200, size=(17, 2))
    vis = np.ones(17)
    vis[[3, 4]] = 0
    return joints, vis


def _draw(rng: np.random.Generator, aug: AugmentationConfig, joints=None, vis=None):
    if joints is None:
        joints, vis = _person(np.random.default_rng(7))
    return sample_augmentation(
        rng, joints, vis, np.array([110.0, 120.0]), np.array([1.0, 4 / 3]), 300, aug, ASPECT,
        COCO_UPPER_BODY_IDS, COCO_LOWER_BODY_IDS,
    )  # fmt: skip


def test_deterministic_for_a_given_rng() -> None:
    aug = AugmentationConfig()
    a = [_draw(np.random.default_rng(5), aug) for _ in range(2)]
    assert a[0].flip == a[1].flip and a[0].rotation == a[1].rotation and a[0].half_body == a[1].half_body
    np.testing.assert_array_equal(a[0].center, a[1].center)
    np.testing.assert_array_equal(a[0].scale, a[1].scale)
    # different seeds give different draws
    draws = {_draw(np.random.default_rng(s), aug).scale_multiplier for s in range(10)}
    assert len(draws) > 5


def test_stream_does_not_depend_on_the_branches() -> None:
    on = AugmentationConfig(half_body_prob=1.0, rotation_prob=1.0)
    off = AugmentationConfig(flip=False, half_body_prob=0.0, rotation_prob=0.0, scale_factor=0.0)
    for seed in range(20):
        rngs = [np.random.default_rng(seed) for _ in range(2)]
        _draw(rngs[0], on)
        _draw(rngs[1], off)
        assert rngs[0].random() == rngs[1].random()


def test_distribution_of_the_rules() -> None:
    aug = AugmentationConfig(half_body_prob=0.0)
    rng = np.random.default_rng(0)
    ps = [_draw(rng, aug) for _ in range(3000)]
    mult = np.array([p.scale_multiplier for p in ps])
    rot = np.array([p.rotation for p in ps])
    flip = np.array([p.flip for p in ps])
    assert mult.min() >= 0.65 and mult.max() <= 1.35
    assert np.mean(mult == 1.35) > 0.1  # clipped at 1 + sf: P(z > 1) ~ 0.16
    assert np.abs(rot).max() <= 90.0
    assert abs(np.mean(rot != 0) - 0.6) < 0.03  # rotation_prob
    assert abs(flip.mean() - 0.5) < 0.03
    # flipped centre: W - 1 - x
    np.testing.assert_allclose({True: 300 - 1 - 110.0, False: 110.0}[ps[0].flip], ps[0].center[0])
    np.testing.assert_allclose(ps[0].scale, np.array([1.0, 4 / 3]) * ps[0].scale_multiplier)


def test_half_body_only_with_enough_visible_joints() -> None:
    aug = AugmentationConfig(half_body_prob=1.0, flip=False, scale_factor=0.0, rotation_factor=0.0)
    joints, vis = _person(np.random.default_rng(3))
    ps = [_draw(np.random.default_rng(s), aug, joints, vis) for s in range(200)]
    assert all(p.half_body for p in ps)  # 15 visible > 8
    uppers = [np.allclose(p.center, joints[[i for i in COCO_UPPER_BODY_IDS if vis[i]]].mean(0)) for p in ps]
    # HRNet draws randn() < 0.5 for "upper": probability Phi(0.5) = 0.69
    assert 0.55 < np.mean(uppers) < 0.83
    few = vis.copy()
    few[:10] = 0  # 7 visible <= num_joints_half_body = 8
    assert not any(_draw(np.random.default_rng(s), aug, joints, few).half_body for s in range(50))


def test_half_body_box_by_hand() -> None:
    joints = np.zeros((17, 2))
    vis = np.zeros(17)
    joints[[11, 12, 13]] = [[10, 100], [50, 100], [30, 160]]  # lower body: box 40 x 60
    vis[[11, 12, 13]] = 1
    c, s = half_body_center_scale(joints, vis, COCO_UPPER_BODY_IDS, COCO_LOWER_BODY_IDS, ASPECT, prefer_upper=True)
    np.testing.assert_allclose(c, [30, 120])  # mean of the joints, not the box centre
    np.testing.assert_allclose(s, [45 / 200 * 1.5, 60 / 200 * 1.5])  # w = 0.75 * 60 = 45
    vis[[12, 13]] = 0
    assert half_body_center_scale(joints, vis, COCO_UPPER_BODY_IDS, COCO_LOWER_BODY_IDS, ASPECT, True) is None


def test_flip_twice_is_identity() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, size=(40, 60, 3), dtype=np.uint8)
    joints, vis = _person(rng)
    img1, j1, v1 = apply_flip(image, joints, vis, COCO_FLIP_PAIRS)
    img2, j2, v2 = apply_flip(img1, j1, v1, COCO_FLIP_PAIRS)
    np.testing.assert_array_equal(img2, image)
    np.testing.assert_array_equal(v2, vis)
    np.testing.assert_allclose(j2[vis > 0], joints[vis > 0], atol=1e-12)
    # once: x -> W - 1 - x and left/right swapped (left_shoulder 5 <-> right_shoulder 6)
    assert j1[6, 0] == pytest.approx(60 - 1 - joints[5, 0]) and j1[6, 1] == joints[5, 1]
    np.testing.assert_array_equal(img1[:, 0], image[:, -1])
    assert image.flags.writeable and not np.shares_memory(img1, image)


@pytest.mark.parametrize("shape", [(40, 60, 3), (40, 60, 1), (40, 60), (7, 5, 4)])
def test_flip_image_equals_numpy_mirror(shape: tuple[int, ...]) -> None:
    """OpenCV's mirror (uint8) is the same array as NumPy's ``[:, ::-1]``, also of non-contiguous input."""
    rng = np.random.default_rng(2)
    joints, vis = _person(rng)
    for image in (rng.integers(0, 256, size=shape, dtype=np.uint8), rng.random(shape).astype(np.float32)):
        for view in (image, image[::2]):
            out, _, _ = apply_flip(view, joints, vis, COCO_FLIP_PAIRS)
            assert out.flags.c_contiguous and out.dtype == view.dtype
            np.testing.assert_array_equal(out, view[:, ::-1])


def test_no_augmentation_and_disabled_config() -> None:
    p = no_augmentation([1.0, 2.0], [3.0, 4.0])
    assert p.rotation == 0 and not p.flip and not p.half_body
    off = replace(AugmentationConfig(), flip=False, scale_factor=0.0, rotation_factor=0.0, half_body_prob=0.0)
    q = _draw(np.random.default_rng(0), off)
    np.testing.assert_array_equal(q.center, [110.0, 120.0])
    np.testing.assert_array_equal(q.scale, [1.0, 4 / 3])
    assert q.rotation == 0 and not q.flip
    with pytest.raises(TypeError, match="Generator"):
        _draw(np.random.RandomState(0), off)  # type: ignore[arg-type]
