"""The grouping parser on constructed maps (expected people worked out by hand from pose-ae-train's rules)."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.bottomup import (
    GroupingParams,
    MultiPeakHeatmapCodec,
    PersonKeying,
    RefineMode,
    TagReading,
    group,
    group_batch,
)
from enhancenet_core.bottomup.candidates import nms, sample_tags, top_k
from enhancenet_core.bottomup.refine import adjust, refine

K = 17
X0 = [4 + 3 * k for k in range(K)]  # joint k of every person is at column 4 + 3k (each joint has its own map)


def _scene(size: int = 64, rows=(10, 40), tag_values=(0.0, 5.0), peak: float = 0.9, r: int = 1, off=(0, 0)):
    """People at the given LR rows; detection maps r times the tag maps, each peak at HR pixel
    (r·x + off[0], r·y + off[1]) with right neighbour 0.5 > left 0.3 and equal upper/lower 0.4; each person's
    tag fills the LR rows y - 1 .. y + 1 (a band, so every reading rule sees the same value)."""
    det = np.zeros((K, size * r, size * r), np.float32)
    tag = np.zeros((K, size, size), np.float32)
    for y, t in zip(rows, tag_values, strict=True):
        tag[:, y - 1 : y + 2, :] = t
        for k, x in enumerate(X0):
            hx, hy = r * x + off[0], r * y + off[1]
            det[k, hy, hx] = peak
            det[k, hy, hx + 1], det[k, hy, hx - 1] = 0.5, 0.3
            det[k, hy - 1, hx] = det[k, hy + 1, hx] = 0.4
    return det, tag


def test_two_people_found_with_quarter_offsets():
    det, tag = _scene()
    g = group(det, tag)
    assert g.people.shape == (2, K, 4)
    for p, y in enumerate((10, 40)):  # equal values: the lower flat index (row 10) comes first
        np.testing.assert_array_equal(g.people[p, :, 0], np.array(X0) + 0.5 + 0.25)  # right > left: +0.25
        np.testing.assert_array_equal(g.people[p, :, 1], np.full(K, y + 0.5 - 0.25))  # equal: -0.25
        np.testing.assert_allclose(g.people[p, :, 2], 0.9)
    assert g.people[1, :, 3].tolist() == [5.0] * K
    np.testing.assert_allclose(g.scores, [0.9, 0.9])


def test_no_adjust_gives_pixel_centres():
    det, tag = _scene()
    g = group(det, tag, GroupingParams(adjust=False))
    np.testing.assert_array_equal(g.people[0, :, 0], np.array(X0) + 0.0)  # raw (x, y) pixel indices
    np.testing.assert_array_equal(g.people[0, :, 1], np.full(K, 10.0))


def test_adjust_rule_at_edges():
    det = np.zeros((1, 4, 4), np.float32)
    det[0, 0, 3] = 1.0
    det[0, 0, 2] = 0.5
    people = np.array([[[3.0, 0.0, 1.0]]], np.float32)
    out = adjust(people, det)
    # right neighbour clamped to the pixel itself (1.0 > 0.5): +0.25; lower 0 > upper (itself, 1.0)? no: -0.25
    assert out[0, 0, :2].tolist() == [3.75, 0.25]


def _refine_scene():
    det, tag = _scene()
    k, x, y = 5, X0[5], 40
    det[k, y - 1 : y + 2, x - 1 : x + 2] = 0.0
    det[k, y, x] = 0.05  # below the detection threshold: only refine can find it
    det[k, y + 1, x] = 0.03  # lower neighbour > upper (0): +0.25 with the map's clamp
    tag[k, y, x] = 5.0
    tag[k, y + 1, x] = 5.0
    return det, tag, k, x, y


@pytest.mark.parametrize(("mode", "dy"), [(RefineMode.CORRECTED, 0.25), (RefineMode.PEER, -0.25)])
def test_refine_fills_missing_joint(mode, dy):
    det, tag, k, x, y = _refine_scene()
    g = group(det, tag, GroupingParams(refine=mode))
    b = g.people[1]
    assert b[k, 2] == 1.0  # the peer sets the flag to 1
    assert b[k, 0] == x + 0.5 - 0.25  # equal left/right neighbours
    # PEER clamps the lower row with K - 1 = 16: row 16 (0) is not > row 39 (0) -> -0.25
    assert b[k, 1] == y + 0.5 + dy
    assert g.scores[1] == pytest.approx(0.9 * 16 / 17)  # score before refine
    assert g.people[0, k, 2] == pytest.approx(0.9)  # person A had the joint


def test_refine_off_leaves_joint_missing():
    det, tag, k, _, _ = _refine_scene()
    g = group(det, tag, GroupingParams(refine=RefineMode.OFF))
    assert g.people[1, k].tolist() == [0.0, 0.0, 0.0, 0.0]


def _many_first_joints(n: int):
    det = np.zeros((K, 64, 64), np.float32)
    tag = np.zeros((K, 64, 64), np.float32)
    for i in range(n):
        for k in (0, 1):
            det[k, 3 + 5 * i, 7 + 3 * k] = 0.9 - 0.01 * i
            tag[k, 3 + 5 * i, 7 + 3 * k] = 3.0 * i
    return det, tag


def test_more_candidates_than_max_people():
    det, tag = _many_first_joints(10)
    base = dict(max_num_people=5, top_k=10, refine=RefineMode.OFF)
    g = group(det, tag, GroupingParams(**base))
    assert g.people.shape[0] == 10  # the first joint type opens a person per candidate
    assert np.all(g.people[:, 1, 2] == 0)  # ignore_too_much: joint 1 is skipped
    g2 = group(det, tag, GroupingParams(**base, ignore_too_much=False))
    # persons 0-4 (the ones considered) get joint 1 by matching; the other 5 candidates open new persons whose
    # keys (their tags) equal those of persons 5-9, so the peer's dict puts them there
    assert g2.people.shape[0] == 10
    assert np.all(g2.people[:, 1, 2] > 0)
    g3 = group(det, tag, GroupingParams(**base, ignore_too_much=False, keying=PersonKeying.PER_CANDIDATE))
    assert g3.people.shape[0] == 15
    assert np.all(g3.people[:5, 1, 2] > 0) and np.all(g3.people[5:10, 1, 2] == 0)


def test_equal_tag_values_merge_persons_like_the_peer():
    det, tag = _many_first_joints(2)
    tag[:] = 0.0  # every candidate has tag 0
    g = group(det, tag, GroupingParams(refine=RefineMode.OFF, keying=PersonKeying.TAG_VALUE))
    assert g.people.shape[0] == 1  # the second nose overwrote the first in the same person
    g2 = group(det, tag, GroupingParams(refine=RefineMode.OFF, keying=PersonKeying.PER_CANDIDATE))
    assert g2.people.shape[0] == 2


def test_no_person_is_an_empty_result():
    g = group(np.zeros((K, 32, 32)), np.zeros((K, 32, 32, 2)))
    assert g.people.shape == (0, K, 5) and g.scores.shape == (0,)
    assert [x.people.shape for x in group_batch(np.zeros((2, K, 8, 8)), np.zeros((2, K, 8, 8)))] == [
        (0, K, 4)
    ] * 2


@pytest.mark.parametrize(
    ("det", "tag", "match"),
    [
        (np.full((K, 8, 8), np.nan), np.zeros((K, 8, 8)), "^det contains NaN"),
        (np.zeros((K, 8, 8)), np.full((K, 8, 8), np.nan), "^tag contains NaN"),
        (np.zeros((K, 8, 8)), np.zeros((K - 1, 8, 8)), "^tag has 16 joints"),
        (np.zeros((K, 8, 8)), np.zeros((K, 3, 3)), "^tag map 3x3"),
        (np.zeros((K, 8, 8)), np.zeros((K, 8, 4)), "^tag map 8x4"),
        (np.zeros((8, 8)), np.zeros((K, 8, 8)), "^det must have shape"),
        (np.zeros((K, 8, 8)), np.zeros((K, 8, 8, 2, 1)), "^tag must have shape"),
    ],
)
def test_bad_maps_raise_one_line_value_error(det, tag, match):
    with pytest.raises(ValueError, match=match) as err:
        group(det, tag)
    assert "\n" not in str(err.value)


def test_bad_params():
    with pytest.raises(ValueError, match=r"GroupingParams\.nms_kernel must be odd"):
        GroupingParams(nms_kernel=4)
    with pytest.raises(ValueError, match=r"GroupingParams\.max_num_people"):
        GroupingParams(max_num_people=0)
    with pytest.raises(ValueError, match=r"GroupingParams\.joint_order"):
        GroupingParams(joint_order=(0, 0))


def test_nms_keeps_plateaus_and_top_k_orders_ties_by_index():
    det = np.zeros((1, 5, 5), np.float32)
    det[0, 1, 1] = det[0, 1, 2] = 1.0  # flat top: both survive
    det[0, 3, 3] = 0.5
    det[0, 3, 4] = 0.2  # not a maximum
    kept = nms(det)
    assert kept[0, 1, 1] == kept[0, 1, 2] == 1.0 and kept[0, 3, 4] == 0.0
    vals, idx = top_k(kept, 4)
    assert vals[0].tolist() == [1.0, 1.0, 0.5, 0.0] and idx[0].tolist() == [6, 7, 18, 0]


def test_hr_tag_reading_nearest_and_bilinear():
    tag = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)  # value = 4·row + col
    xs, ys = np.array([[5]]), np.array([[6]])  # HR pixel, r = 4
    assert sample_tags(tag, xs, ys, 4, TagReading.NEAREST)[0, 0, 0] == 4 * 1 + 1
    # centre (5.5, 6.5)/4 - 0.5 = (0.875, 1.125) in LR pixel indices
    assert sample_tags(tag, xs, ys, 4, TagReading.BILINEAR)[0, 0, 0] == pytest.approx(4 * 1.125 + 0.875)
    edge = sample_tags(tag, np.array([[0]]), np.array([[0]]), 4, TagReading.BILINEAR)[0, 0, 0]
    assert edge == 0.0  # clamped at the border


@pytest.mark.parametrize("reading", list(TagReading))
def test_grouping_on_hr_maps_reads_lr_tags(reading):
    r = 4
    det, tag = _scene(r=r, off=(2, 1))
    codec = MultiPeakHeatmapCodec((256, 256), (256, 256), 8.0, (64, 64), GroupingParams(tag_reading=reading))
    g = codec.decode(det, tag)
    assert g.people.shape[0] == 2
    assert g.people[1, :, 3].tolist() == [5.0] * K
    np.testing.assert_array_equal(g.people[1, :, 0], np.array(X0) * r + 2 + 0.5 + 0.25)  # HR pixels
    np.testing.assert_array_equal(g.people[1, :, 1], np.full(K, 40 * r + 1 + 0.5 - 0.25))
    inp = codec.decode_to_input(det, tag).people
    np.testing.assert_array_equal(inp[1, :, :2], g.people[1, :, :2])  # 256 input, 256 map: scale 1
    with pytest.raises(ValueError, match="tag must have shape"):
        codec.decode(det, tag[:, :16])


def test_hr_refine_reads_the_lr_pixel_of_each_hr_pixel():
    r = 4
    det, tag = _scene(r=r, off=(2, 1))
    k, x, y = 5, X0[5], 40
    hx, hy = r * x + 2, r * y + 1
    det[k, hy - 1 : hy + 2, hx - 1 : hx + 2] = 0.0
    det[k, hy + 3, hx + 1] = 0.05  # weak, below the threshold, inside person B's tag band
    g = group(det, tag)
    assert g.people[1, k].tolist()[:3] == [hx + 1 + 0.5 - 0.25, hy + 3 + 0.5 - 0.25, 1.0]


def _dense_refine_reference(people, det, tag, r):
    """refine on M^HR written densely: each LR pixel's rounded distance repeated r x r, argmax per joint."""
    out = people.copy()
    for p in range(len(people)):
        have = [k for k in range(K) if people[p, k, 2] > 0]
        tags = [tag[k, int(people[p, k, 1]) // r, int(people[p, k, 0]) // r] for k in have]
        mean = np.mean(tags, axis=0)
        for k in range(K):
            if people[p, k, 2] > 0:
                continue
            dist = np.round(np.sqrt(((tag[k] - mean) ** 2).sum(axis=2)))
            score = det[k] - np.repeat(np.repeat(dist, r, axis=0), r, axis=1)
            row, col = np.unravel_index(np.argmax(score), score.shape)
            if det[k, row, col] > 0:
                m = det[k]
                dx = 0.25 if m[row, min(col + 1, m.shape[1] - 1)] > m[row, max(col - 1, 0)] else -0.25
                dy = 0.25 if m[min(row + 1, m.shape[0] - 1), col] > m[max(row - 1, 0), col] else -0.25
                out[p, k, :3] = (col + 0.5 + dx, row + 0.5 + dy, 1.0)
    return out


def test_hr_nearest_refine_equals_the_dense_computation():
    rng = np.random.default_rng(3)
    r = 4
    det = (rng.random((K, 64, 64)) ** 4).astype(np.float32)
    det[:, :, :32] = np.round(det[:, :, :32] * 8) / 8  # equal values across blocks: the tie rule matters
    tag = rng.normal(0, 1.5, (K, 16, 16, 2)).astype(np.float32)
    people = np.zeros((6, K, 5), np.float32)
    for p in range(6):
        for k in rng.choice(K, 5, replace=False):
            people[p, k, :3] = (rng.integers(0, 64), rng.integers(0, 64), 0.5)
    got = refine(people, det, tag, RefineMode.CORRECTED, TagReading.NEAREST)
    np.testing.assert_array_equal(got, _dense_refine_reference(people, det, tag, r))


@pytest.mark.parametrize("k", [3, 30, 200])
def test_top_k_equals_a_stable_full_sort(k):
    rng = np.random.default_rng(k)
    det = np.round(rng.normal(0, 1, (K, 24, 24)) * 3).astype(np.float32) / 3  # many equal values, some <= 0
    vals, idx = top_k(nms(det), k)
    flat = nms(det).reshape(K, -1)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(vals, np.take_along_axis(flat, order, axis=1))
