"""Keypoint error types (Ronchi & Perona / coco-analyze) on hand-built cases of every type."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.metrics.errors import (
    ERROR_TYPES,
    UNLABELLED,
    KeypointErrorType,
    analyze_keypoint_errors,
    classify_keypoint_errors,
    compare_error_frequencies,
)
from enhancenet_core.metrics.oks import COCO_FLIP_INDEX, COCO_SIGMAS

AREA = 10000.0
NOSE, L_WRIST, R_WRIST, L_KNEE, L_ANKLE, R_ANKLE = 0, 9, 10, 13, 15, 16


def offset_for_ks(k: int, ks: float, area: float = AREA) -> float:
    """Distance at which keypoint k has similarity ks."""
    return float(np.sqrt(-np.log(ks) * 2 * area * (2 * COCO_SIGMAS[k]) ** 2))


def two_people():
    a = np.zeros((17, 3))
    a[:, 0] = 100 + 40 * np.arange(17)
    a[:, 1] = 100 + 25 * (np.arange(17) % 3)
    a[:, 2] = 2
    a[R_ANKLE] = 0  # not labelled
    b = a.copy()
    b[:, 1] += 300
    b[R_ANKLE] = (b[R_ANKLE - 1, 0] + 40, 400, 2)
    return a, b


def hand_built_prediction(a, b):
    pred = a.copy()
    pred[:, 2] = 1.0
    pred[NOSE, 0] += offset_for_ks(NOSE, 0.7)  # jitter
    pred[L_WRIST, :2] = a[R_WRIST, :2]  # inversion: on its own right wrist
    pred[L_KNEE, :2] = b[L_KNEE, :2]  # swap: on the other person's left knee
    pred[L_ANKLE, :2] = (5000.0, 5000.0)  # miss
    return pred


def expected_codes():
    exp = np.full(17, ERROR_TYPES.index(KeypointErrorType.GOOD))
    exp[NOSE] = ERROR_TYPES.index(KeypointErrorType.JITTER)
    exp[L_WRIST] = ERROR_TYPES.index(KeypointErrorType.INVERSION)
    exp[L_KNEE] = ERROR_TYPES.index(KeypointErrorType.SWAP)
    exp[L_ANKLE] = ERROR_TYPES.index(KeypointErrorType.MISS)
    exp[R_ANKLE] = UNLABELLED
    return exp


def test_classify_each_type():
    a, b = two_people()
    pred = hand_built_prediction(a, b)
    codes = classify_keypoint_errors(
        pred[None],
        np.stack([a, b])[None],
        np.array([[AREA, AREA]]),
        np.array([[True, True]]),
        COCO_FLIP_INDEX,
        COCO_SIGMAS,
    )
    np.testing.assert_array_equal(codes[0], expected_codes())


def test_jitter_and_good_boundaries():
    a, _ = two_people()
    pred = a.copy()
    pred[NOSE, 0] += offset_for_ks(NOSE, 0.86)
    pred[1, 0] += offset_for_ks(1, 0.84)
    pred[3, 0] += offset_for_ks(3, 0.51)
    pred[5, 0] += offset_for_ks(5, 0.49)
    codes = classify_keypoint_errors(
        pred[None], a[None, None], np.array([[AREA]]), np.array([[True]]), COCO_FLIP_INDEX, COCO_SIGMAS
    )[0]
    names = [ERROR_TYPES[c].value for c in codes[[NOSE, 1, 3, 5]]]
    assert names == ["good", "jitter", "jitter", "miss"]


def test_closer_to_another_person_is_a_swap_even_when_close_to_own():
    a, b = two_people()
    b[NOSE, :2] = a[NOSE, :2] + (offset_for_ks(NOSE, 0.97), 0)
    pred = a.copy()
    pred[NOSE, 0] = a[NOSE, 0] + offset_for_ks(NOSE, 0.97) - 1e-3  # nearly on b's nose
    codes = classify_keypoint_errors(
        pred[None],
        np.stack([a, b])[None],
        np.array([[AREA, AREA]]),
        np.array([[True, True]]),
        COCO_FLIP_INDEX,
        COCO_SIGMAS,
    )[0]
    assert ERROR_TYPES[codes[NOSE]] is KeypointErrorType.SWAP


def coco_dict(a, b):
    def ann(i, kp):
        return {
            "id": i,
            "image_id": 1,
            "category_id": 1,
            "keypoints": kp.ravel().tolist(),
            "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
            "area": AREA,
            "bbox": [float(kp[:, 0].min()), float(kp[:, 1].min()), 700.0, 100.0],
            "iscrowd": 0,
        }

    return {
        "images": [{"id": 1, "width": 1000, "height": 1000}],
        "annotations": [ann(1, a), ann(2, b)],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}],
    }


def test_analyze_file_level_counts_and_comparison():
    a, b = two_people()
    gt = coco_dict(a, b)
    pred = hand_built_prediction(a, b)
    res = [{"image_id": 1, "category_id": 1, "keypoints": pred.ravel().tolist(), "score": 0.9}]
    rep = analyze_keypoint_errors(gt, res)
    assert rep.gt_ids.tolist() == [1]
    assert rep.num_labelled == 16
    assert rep.counts == {"good": 12, "jitter": 1, "inversion": 1, "swap": 1, "miss": 1}
    assert rep.frequencies["good"] == pytest.approx(12 / 16)
    assert rep.per_keypoint_counts.shape == (17, 5)
    np.testing.assert_array_equal(rep.codes[0], expected_codes())

    perfect = [{"image_id": 1, "category_id": 1, "keypoints": a.ravel().tolist(), "score": 0.9}]
    after = analyze_keypoint_errors(gt, perfect)
    assert after.counts["good"] == 16
    change = compare_error_frequencies(rep, after)
    assert change["jitter"] == pytest.approx(-1 / 16)
    assert change["good"] == pytest.approx(4 / 16)


def test_unmatched_predictions_are_not_analysed():
    a, b = two_people()
    far = a.copy()
    far[:, :2] += 3000
    res = [{"image_id": 1, "category_id": 1, "keypoints": far.ravel().tolist(), "score": 0.5}]
    rep = analyze_keypoint_errors(coco_dict(a, b), res)
    assert rep.num_labelled == 0 and rep.codes.shape == (0, 17)
    assert all(v == 0.0 for v in rep.frequencies.values())


def test_bad_flip_index():
    a, _ = two_people()
    with pytest.raises(ValueError, match="flip_index"):
        classify_keypoint_errors(
            a[None], a[None, None], np.array([[AREA]]), np.array([[True]]), [0] * 17, COCO_SIGMAS
        )
