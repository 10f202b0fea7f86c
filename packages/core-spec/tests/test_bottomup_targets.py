"""Multi-peak targets (pose-ae-train's GenerateHeatmap semantics), masks and the multi-peak codec."""

from __future__ import annotations

import math

import numpy as np
import pytest

from enhancenet_core.bottomup import crowd_loss_mask, multi_peak_codecs, render_multi_peak, upsample_mask
from enhancenet_core.bottomup.targets import ae_gaussian_table, joint_mask, map_pixels


def _one(x: float, y: float, v: float = 1.0, k: int = 1) -> np.ndarray:
    kp = np.zeros((1, k, 3))
    kp[0, 0] = (x, y, v)
    return kp


def _loop_reference(kp: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """GenerateHeatmap as a per-joint loop, written from the semantics in the module docstring."""
    k = kp.shape[1]
    out = np.zeros((k, size, size), np.float32)
    c = 3 * sigma + 1
    for person in kp:
        for j, (x, y, v) in enumerate(person):
            xi, yi = int(x), int(y)
            if v <= 0 or xi < 0 or yi < 0 or xi >= size or yi >= size:
                continue
            for row in range(max(0, yi - int(c)), min(size, yi + int(c) + 1)):
                for col in range(max(0, xi - int(c)), min(size, xi + int(c) + 1)):
                    g = math.exp(-((col - xi) ** 2 + (row - yi) ** 2) / (2 * sigma**2))
                    out[j, row, col] = max(out[j, row, col], np.float32(g))
    return out


def test_table_is_peer_sized_and_centred():
    g = ae_gaussian_table(2.0)
    assert g.shape == (15, 15)  # 6σ + 3
    assert g[7, 7] == 1.0 and np.argmax(g) == 7 * 15 + 7
    assert g.dtype == np.float32


def test_single_peak_values_and_radius():
    m = render_multi_peak(_one(40.6, 30.2), (128, 128), 2.0)
    assert m.shape == (1, 128, 128)
    assert m[0, 30, 40] == 1.0  # truncated centre, not rounded (40.6 -> 40)
    assert m[0, 30, 41] == np.float32(math.exp(-1 / 8))
    assert m[0, 30, 47] == np.float32(math.exp(-49 / 8))  # radius 3σ + 1 = 7 still drawn
    assert m[0, 30, 48] == 0.0 and m[0, 30, 32] == 0.0


@pytest.mark.parametrize(("x", "drawn"), [(-0.7, True), (-1.2, False), (127.9, True), (128.0, False)])
def test_truncation_toward_zero_decides_what_is_drawn(x, drawn):
    m = render_multi_peak(_one(x, 10.0), (128, 128), 2.0)
    assert (m.max() > 0) == drawn
    if drawn:
        assert m[0, 10, int(x)] == 1.0


def test_invisible_joint_not_drawn():
    assert render_multi_peak(_one(50, 50, v=0.0), (128, 128), 2.0).max() == 0.0


def test_people_combined_by_max():
    kp = np.zeros((2, 1, 3))
    kp[0, 0] = (50, 50, 1)
    kp[1, 0] = (53, 50, 1)
    m = render_multi_peak(kp, (128, 128), 2.0)
    # pixel 51: 1 px from the first, 2 px from the second -> the larger value, not the sum
    assert m[0, 50, 51] == np.float32(math.exp(-1 / 8))
    assert m[0, 50, 52] == np.float32(math.exp(-1 / 8))
    assert m[0, 50, 50] == 1.0 and m[0, 50, 53] == 1.0


def test_matches_loop_reference_on_random_people():
    rng = np.random.default_rng(0)
    for size, sigma in ((128, 2.0), (64, 1.0)):
        kp = np.zeros((7, 3, 3))
        kp[..., :2] = rng.uniform(-4, size + 4, (7, 3, 2))
        kp[..., 2] = rng.random((7, 3)) < 0.8
        np.testing.assert_array_equal(
            render_multi_peak(kp, (size, size), sigma), _loop_reference(kp, size, sigma)
        )


def test_no_person_gives_zero_maps_and_batch_shape():
    assert render_multi_peak(np.zeros((2, 0, 17, 3)), (16, 8), 2.0).shape == (2, 17, 8, 16)
    assert render_multi_peak(np.zeros((2, 0, 17, 3)), (16, 8), 2.0).max() == 0.0


@pytest.mark.parametrize(
    ("kp", "match"),
    [
        (np.full((1, 1, 3), np.nan), "keypoints contain NaN"),
        (np.zeros((1, 1, 2)), "keypoints must have shape"),
    ],
)
def test_bad_keypoints(kp, match):
    with pytest.raises(ValueError, match=match):
        render_multi_peak(kp, (8, 8), 2.0)


def test_bad_sigma_and_size():
    with pytest.raises(ValueError, match="sigma"):
        render_multi_peak(_one(1, 1), (8, 8), 0.0)
    with pytest.raises(ValueError, match="heatmap_size"):
        render_multi_peak(_one(1, 1), (8, 0), 2.0)


def test_joint_mask_and_pixels():
    kp = np.array([[[[3.7, 2.2, 1], [-2.0, 1, 1], [1, 1, 0]]]])
    pix, drawn = map_pixels(kp, (8, 8))
    assert pix[0, 0, 0].tolist() == [3, 2]
    assert drawn.tolist() == [[[True, False, False]]]
    assert joint_mask(kp, (8, 8)).tolist() == drawn.tolist()


def test_masks():
    keep = np.array([[0.2, 0.5, 0.51, 1.0]])
    assert crowd_loss_mask(keep).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    up = upsample_mask(np.array([[1.0, 0.0]]), 2)
    assert up.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]
    with pytest.raises(ValueError, match="r must be"):
        upsample_mask(keep, 0)


def test_codecs_lr_hr_positions_and_sigma():
    lr, hr = multi_peak_codecs((512, 512), (128, 128), 2.0, 4)
    assert hr.heatmap_size == (512, 512) and hr.sigma == 8.0 and hr.tag_size == (128, 128)
    kp = np.zeros((1, 1, 17, 3))
    kp[0, 0, 0] = (203.0, 101.0, 1)  # input pixels
    t_lr, t_hr = lr.encode(kp), hr.encode(kp)
    assert np.unravel_index(t_lr.heatmaps[0, 0].argmax(), (128, 128)) == (25, 50)  # int(101/4), int(203/4)
    assert np.unravel_index(t_hr.heatmaps[0, 0].argmax(), (512, 512)) == (101, 203)
    assert t_hr.heatmaps[0, 0, 101, 203 + 8] == np.float32(math.exp(-64 / 128))  # σ_HR = 8
    assert t_lr.joint_mask[0, 0].sum() == 1 and t_lr.pixels[0, 0, 0].tolist() == [50, 25]


def test_hr_targets_thirty_people_batched():
    # speed is measured in benchmarks/ (the spec README quotes it); here: every person of every image drawn
    rng = np.random.default_rng(1)
    kp = np.zeros((2, 30, 17, 3))
    kp[..., :2] = rng.integers(0, 512, (2, 30, 17, 2))
    kp[..., 2] = 1
    maps = render_multi_peak(kp, (512, 512), 8.0)
    assert maps.shape == (2, 17, 512, 512)
    b, _, k = np.meshgrid(np.arange(2), np.arange(30), np.arange(17), indexing="ij")
    assert np.all(maps[b, k, kp[..., 1].astype(int), kp[..., 0].astype(int)] == 1.0)
