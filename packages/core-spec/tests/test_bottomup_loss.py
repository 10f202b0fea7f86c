"""AE tag loss (push/pull) and masked detection loss, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from enhancenet_core.bottomup import ae_total_loss, detection_loss, tag_loss


def _tags_and_joints(values: dict[tuple[int, int], list[float]], tdim: int = 1):
    """Tag maps (1, K=2, 4, 4, T) with the given tags at joint pixels; persons x joints from the dict keys."""
    tags = np.zeros((1, 2, 4, 4, tdim))
    people = 1 + max(p for p, _ in values)
    pixels = np.zeros((1, people, 2, 2), np.int64)
    mask = np.zeros((1, people, 2), bool)
    for (p, k), v in values.items():
        x, y = p, 3 - p  # distinct pixels per person
        tags[0, k, y, x] = v
        pixels[0, p, k] = (x, y)
        mask[0, p, k] = True
    return tags, pixels, mask


def test_two_people_by_hand():
    tags, pix, mask = _tags_and_joints({(0, 0): [1.0], (0, 1): [3.0], (1, 0): [0.0], (1, 1): [0.0]})
    push, pull = tag_loss(tags, pix, mask)
    # person 0: mean 2, squared differences 1 and 1 -> 1; person 1: 0 -> pull = (1 + 0) / 2
    assert pull[0] == pytest.approx(0.5)
    # one pair, means 2 and 0 -> 0.5 * exp(-4)
    assert push[0] == pytest.approx(0.5 * math.exp(-4))


def test_pull_divides_by_tag_dimension_and_push_sums_over_it():
    tags, pix, mask = _tags_and_joints(
        {(0, 0): [1.0, 0.0], (0, 1): [3.0, 0.0], (1, 0): [0.0, 1.0], (1, 1): [0.0, 1.0]}, tdim=2
    )
    push, pull = tag_loss(tags, pix, mask)
    assert pull[0] == pytest.approx((2 / 2 / 2 + 0) / 2)  # person 0: (1 + 1) / T / n = 0.5
    assert push[0] == pytest.approx(0.5 * math.exp(-(4 + 1)))


def test_one_person_has_no_push_and_empty_people_are_skipped():
    tags, pix, mask = _tags_and_joints({(0, 0): [1.0], (0, 1): [2.0], (1, 0): [9.0]})
    mask[0, 1, 0] = False  # person 1 has no tagged joint
    push, pull = tag_loss(tags, pix, mask)
    assert push[0] == 0.0
    assert pull[0] == pytest.approx(0.25)


def test_no_person_gives_zeros():
    push, pull = tag_loss(np.zeros((2, 2, 4, 4)), np.zeros((2, 0, 2, 2), np.int64), np.zeros((2, 0, 2), bool))
    assert push.tolist() == [0.0, 0.0] and pull.tolist() == [0.0, 0.0]


def test_tag_loss_bad_input():
    tags, pix, mask = _tags_and_joints({(0, 0): [1.0]})
    with pytest.raises(ValueError, match="mask must have shape"):
        tag_loss(tags, pix, mask[:, :, :1])
    tags[0, 0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="tags contain NaN"):
        tag_loss(tags, pix, mask)


def test_detection_loss_keeps_masked_pixels_in_the_mean():
    pred = np.zeros((1, 1, 2, 2))
    gt = np.array([[[[1.0, 2.0], [0.0, 0.0]]]])
    mask = np.array([[[1.0, 0.0], [1.0, 1.0]]])
    assert detection_loss(pred, gt, mask).tolist() == [0.25]  # (1 + 0 + 0 + 0) / 4
    stacks = np.stack([pred, pred + 1], axis=1)  # (B, S, K, H, W)
    assert detection_loss(stacks, gt, mask).tolist() == [[0.25, pytest.approx((0 + 1 + 1) / 4)]]
    with pytest.raises(ValueError, match="mask must have shape"):
        detection_loss(pred, gt, mask[0])


def test_total_loss_weights():
    assert ae_total_loss([1.0], [2.0], [3.0]) == pytest.approx(1e-3 + 2e-3 + 3.0)
    assert ae_total_loss([0.0], [0.0], [1.0], detection_hr=[2.0], eta=0.5) == pytest.approx(2.0)
