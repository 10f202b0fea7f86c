"""The fast paths of our COCO evaluator (issue 15): the OKS grid equals the per-pair OKS bit for bit, the
column-wise checks accept and refuse what the per-entry checks do, and ties in the matching follow
pycocotools' scan."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from enhancenet_core.metrics.coco import STAT_NAMES, evaluate_with_pycocotools, load_keypoint_results
from enhancenet_core.metrics.coco_eval import evaluate_coco
from enhancenet_core.metrics.coco_results import _check_entries, check_keypoint_results
from enhancenet_core.metrics.oks import COCO_SIGMAS, oks_grid, oks_pairs

K = 17


def _gt(seed: int = 0, n_images: int = 5, per_image: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    images, anns, aid = [], [], 1
    for i in range(n_images):
        images.append({"id": 10 + i, "width": 640, "height": 480})
        for _ in range(per_image):
            w, h = rng.uniform(30, 250), rng.uniform(40, 300)
            x0, y0 = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kp = np.zeros((K, 3))
            kp[:, 0], kp[:, 1] = rng.uniform(x0, x0 + w, K), rng.uniform(y0, y0 + h, K)
            kp[:, 2] = rng.choice([0, 1, 2], K, p=[0.3, 0.2, 0.5])
            kp[kp[:, 2] == 0, :2] = 0
            anns.append({"id": aid, "image_id": 10 + i, "category_id": 1, "keypoints": kp.ravel().tolist(),
                         "num_keypoints": int(np.count_nonzero(kp[:, 2])), "area": float(w * h * 0.6),
                         "bbox": [float(x0), float(y0), float(w), float(h)], "iscrowd": 0})
            aid += 1
    cats = [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(K)]}]
    return {"images": images, "annotations": anns, "categories": cats}


def _results(gt: dict, seed: int, dup: int = 2) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for a in gt["annotations"]:
        for _ in range(dup):
            kp = np.asarray(a["keypoints"], dtype=float).reshape(K, 3).copy()
            kp[:, :2] += rng.normal(0, 6.0, (K, 2))
            kp[:, 2] = rng.random(K)
            out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                        "score": float(rng.random())})
    return out


def test_oks_grid_equals_oks_pairs_bit_for_bit():
    rng = np.random.default_rng(0)
    n, d, g = 7, 3, 4
    dt = rng.uniform(0, 300, (n, d, K, 3))
    gt = rng.uniform(0, 300, (n, g, K, 3))
    gt[..., 2] = rng.choice([0.0, 1.0, 2.0], (n, g, K))
    gt[0, 1, :, 2] = 0  # no labelled keypoint: the doubled box
    gt[3, 0, :, 2] = 0
    areas = rng.uniform(500, 20000, (n, g))
    boxes = np.concatenate([rng.uniform(0, 200, (n, g, 2)), rng.uniform(10, 100, (n, g, 2))], axis=-1)
    grid = oks_grid(dt, gt, areas, boxes, COCO_SIGMAS)
    assert grid.shape == (n, d, g)
    for b in range(n):
        di, gi = np.meshgrid(np.arange(d), np.arange(g), indexing="ij")
        di, gi = di.ravel(), gi.ravel()
        ref = oks_pairs(dt[b][di], gt[b][gi], areas[b][gi], boxes[b][gi], COCO_SIGMAS).reshape(d, g)
        assert np.array_equal(grid[b], ref)


def test_ties_crowds_and_ignored_follow_pycocotools():
    """Duplicated people (equal OKS: the later one wins), crowds (matched again) and ground truths outside
    the area range or without keypoints (second choice) in one image."""
    gt = _gt(1, n_images=3, per_image=5)
    anns = gt["annotations"]
    twin = copy.deepcopy(anns[0])
    twin["id"] = 100
    anns.insert(2, twin)
    anns[3]["iscrowd"] = 1
    anns[4]["num_keypoints"] = 0
    anns[6]["area"] = 500.0  # below the medium range
    res = _results(gt, 2, dup=3)
    ours, ref = evaluate_coco(gt, res), evaluate_with_pycocotools(gt, res)
    assert max(abs(ours[n] - ref[n]) for n in STAT_NAMES) <= 1e-12, (ours, ref)


def test_numpy_typed_inputs_take_the_per_entry_checks_and_give_the_same_numbers():
    gt = _gt(2)
    res = _results(gt, 3)
    plain = evaluate_coco(gt, res)
    gt_np = copy.deepcopy(gt)
    for a in gt_np["annotations"]:
        a["id"] = np.int64(a["id"])
    res_np = copy.deepcopy(res)
    for r in res_np:
        r["score"] = np.float32(r["score"]).item() if r["image_id"] == 10 else np.float64(r["score"])
        r["image_id"] = np.int64(r["image_id"])
    assert evaluate_coco(gt_np, res_np) == plain
    cols = check_keypoint_results(res_np, gt, K)
    assert np.array_equal(cols.score, _check_entries(res_np, {i["id"] for i in gt["images"]}, {1}, "results"))


@pytest.mark.parametrize(
    "box, needle",
    [
        ([True, True, True, True], "'bbox' must be 4 numbers"),
        ([1.0, 2.0, float("nan"), 3.0], "non-finite"),
        ((1.0, 2.0, 3.0), "'bbox' must be 4 numbers"),
    ],
)
def test_a_bad_box_among_good_ones_is_refused_naming_it(box, needle):
    gt = _gt(3)
    res = _results(gt, 4)
    for r in res:
        r["bbox"] = [1.0, 2.0, 30.0, 40.0]
    res[5]["bbox"] = box
    with pytest.raises(ValueError, match="entry #5") as info:
        check_keypoint_results(res, gt, K)
    assert needle in str(info.value)


def test_load_keypoint_results_copies_with_float_scores_and_keypoint_lists():
    gt = _gt(4)
    res = _results(gt, 5)
    res[0]["score"] = 1
    out = load_keypoint_results(res, gt, K)
    assert out[0]["score"] == 1.0 and isinstance(out[0]["score"], float)
    assert out[1]["keypoints"] == res[1]["keypoints"] and out[1] is not res[1]
