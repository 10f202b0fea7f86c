"""PCK against a plain loop, and the ground-truth matching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reproduce.pck import ground_truth_for, pck_curve


def _loop_pck(pred, gt, vis, size, t):
    hits = total = 0
    for n in range(pred.shape[0]):
        for k in range(pred.shape[1]):
            if vis[n, k]:
                total += 1
                d = ((pred[n, k, 0] - gt[n, k, 0]) ** 2 + (pred[n, k, 1] - gt[n, k, 1]) ** 2) ** 0.5
                hits += d <= t * size[n]
    return hits / total


def test_pck_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 100, (20, 17, 2))
    pred = gt + rng.normal(0, 4, gt.shape)
    vis = rng.uniform(size=(20, 17)) > 0.2
    size = rng.uniform(40, 120, 20)
    thr = [0.0, 0.02, 0.05, 0.1, 0.2]
    table = pck_curve(np.concatenate([pred, np.ones((20, 17, 1))], axis=2), gt, vis, size, thr)
    for i, t in enumerate(thr):
        assert table.mean()[i] == pytest.approx(_loop_pck(pred, gt, vis, size, t))
    head = [0, 1, 2, 3, 4]
    sub = (slice(None), head)
    assert table.at(0.05, head) == pytest.approx(_loop_pck(pred[sub], gt[sub], vis[sub], size, 0.05))
    assert np.all(np.diff(table.mean()) >= 0)


def test_pck_boundary_and_errors() -> None:
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[5.0, 0.0], [5.01, 0.0]]])
    table = pck_curve(pred, gt, np.ones((1, 2)), np.array([100.0]), [0.05])
    assert table.mean()[0] == 0.5  # exactly at the threshold counts, just beyond does not
    with pytest.raises(ValueError, match="box_size"):
        pck_curve(pred, gt, np.ones((1, 2)), np.array([0.0]), [0.05])
    with pytest.raises(ValueError, match="not among"):
        table.at(0.1)


def test_ground_truth_matched_by_image_and_centre(tmp_path: Path) -> None:
    kp = lambda x: [x, 10, 2] + [0, 0, 0] * 16  # noqa: E731
    anns = [
        {"id": 1, "image_id": 7, "bbox": [0, 0, 20, 40], "keypoints": kp(5), "num_keypoints": 1, "iscrowd": 0},
        {"id": 2, "image_id": 7, "bbox": [50, 0, 30, 10], "keypoints": kp(60), "num_keypoints": 1, "iscrowd": 0},
        {"id": 3, "image_id": 8, "bbox": [0, 0, 20, 40], "keypoints": kp(9), "num_keypoints": 1, "iscrowd": 0},
    ]
    f = tmp_path / "a.json"
    f.write_text(json.dumps({"annotations": anns, "images": [], "categories": []}))
    gt, vis, size = ground_truth_for(f, np.array([7, 8, 7]), np.array([[64.5, 4.5], [9.5, 19.5], [9.5, 19.5]]))
    assert gt[:, 0, 0].tolist() == [60, 9, 5]
    assert size.tolist() == [30, 40, 40]
    assert vis[:, 0].all() and not vis[:, 1].any()


def test_median_error_in_units_per_instance() -> None:
    from reproduce.pck import median_error

    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, :, 0] = [1.0, 2.0, 30.0]  # instance 0: unit 2 -> 0.5, 1, 15
    pred[1, :, 1] = [4.0, 8.0, 0.0]  # instance 1: unit 4 -> 1, 2, (unlabelled)
    vis = np.array([[1, 1, 1], [1, 1, 0]])
    assert median_error(pred, gt, vis, np.array([2.0, 4.0])) == 1.0  # median of 0.5, 1, 15, 1, 2
    assert np.isnan(median_error(pred, gt, np.zeros((2, 3)), np.array([2.0, 4.0])))
    with pytest.raises(ValueError, match="unit"):
        median_error(pred, gt, vis, np.array([2.0, 0.0]))
