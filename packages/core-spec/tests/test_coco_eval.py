"""COCO keypoint evaluation: our NumPy evaluator against pycocotools, on the real sample and on
synthetic sets; input checking; atomic result writing."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.metrics.coco import (
    STAT_NAMES,
    evaluate_with_pycocotools,
    keypoint_results,
    load_keypoint_results,
    write_keypoint_results,
)
from enhancenet_core.metrics.coco_eval import CocoKeypointEvaluator, evaluate_coco
from enhancenet_core.metrics.oks import COCO_SIGMAS, CROWDPOSE_SIGMAS, oks_matrix

TOL = 1e-9


@pytest.fixture(scope="module")
def coco_gt(coco_sample_dir: Path) -> dict:
    with (coco_sample_dir / "test_coco.json").open() as f:
        return json.load(f)


def assert_same_stats(gt, results, sigmas=None) -> dict:
    ours = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(results), sigmas=sigmas)
    ref = evaluate_with_pycocotools(copy.deepcopy(gt), copy.deepcopy(results), sigmas=sigmas)
    assert list(ours) == list(STAT_NAMES)
    diffs = {n: abs(ours[n] - ref[n]) for n in STAT_NAMES}
    assert max(diffs.values()) <= TOL, (ours, ref)
    return ours


def perturb(gt: dict, seed: int, k: int = 17, extra_per_image: int = 3, drop: float = 0.2) -> list[dict]:
    """Noisy copies of the ground truth: dropped people, duplicates, false positives, tied scores."""
    rng = np.random.default_rng(seed)
    res = []
    for a in gt["annotations"]:
        if rng.random() < drop:
            continue
        for _ in range(1 + int(rng.random() < 0.3)):
            kp = np.asarray(a["keypoints"], dtype=float).reshape(k, 3).copy()
            scale = np.sqrt(max(a.get("area", 1000.0), 1.0))
            kp[:, :2] += rng.normal(0, 0.08 * scale * rng.uniform(0.2, 2.0), (k, 2))
            kp[:, 2] = rng.random(k)
            score = float(np.round(rng.random(), 1)) if rng.random() < 0.5 else float(rng.random())
            res.append(
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "keypoints": kp.ravel().tolist(),
                    "score": score,
                }
            )
    for img in gt["images"]:
        for _ in range(rng.integers(0, extra_per_image + 1)):
            kp = np.zeros((k, 3))
            kp[:, 0] = rng.uniform(0, img.get("width", 640), k)
            kp[:, 1] = rng.uniform(0, img.get("height", 480), k)
            kp[:, 2] = rng.random(k)
            cat = gt["categories"][rng.integers(len(gt["categories"]))]["id"]
            res.append(
                {
                    "image_id": img["id"],
                    "category_id": cat,
                    "keypoints": kp.ravel().tolist(),
                    "score": float(rng.random()),
                }
            )
    rng.shuffle(res)
    return res


def synthetic_coco(seed: int, n_images: int = 40, k: int = 17, cat_ids=(1,)) -> dict:
    """Multi-image COCO keypoint set: small/medium/large people, crowd and zero-keypoint annotations."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    aid = 1
    for i in range(n_images):
        img_id = 1000 + 7 * i
        images.append({"id": img_id, "width": 640, "height": 480, "file_name": f"{img_id}.jpg"})
        for _ in range(rng.integers(0, 6)):
            w, h = rng.uniform(8, 300, 2)
            x0, y0 = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            v = rng.choice([0, 1, 2], k, p=[0.25, 0.15, 0.6])
            if rng.random() < 0.1:
                v[:] = 0
            kp = np.zeros((k, 3))
            kp[:, 0] = x0 + rng.uniform(0, w, k)
            kp[:, 1] = y0 + rng.uniform(0, h, k)
            kp[:, 2] = v
            kp[v == 0, :2] = 0
            anns.append(
                {
                    "id": aid,
                    "image_id": img_id,
                    "category_id": int(rng.choice(cat_ids)),
                    "keypoints": kp.ravel().tolist(),
                    "num_keypoints": int(np.count_nonzero(v > 0)),
                    "area": float(w * h * rng.uniform(0.4, 0.9)),
                    "bbox": [float(x0), float(y0), float(w), float(h)],
                    "iscrowd": int(rng.random() < 0.05),
                }
            )
            aid += 1
    cats = [
        {"id": c, "name": f"cat{c}", "supercategory": "person", "keypoints": [f"k{j}" for j in range(k)]}
        for c in cat_ids
    ]
    return {"images": images, "annotations": anns, "categories": cats}


# ---------------------------------------------------------------------------- real sample


def test_ground_truth_as_predictions_scores_one(coco_gt):
    res = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in coco_gt["annotations"]
        if a["num_keypoints"] > 0
    ]
    ours = evaluate_coco(coco_gt, res)
    ref = evaluate_with_pycocotools(coco_gt, res)
    for name in STAT_NAMES:
        assert ours[name] == pytest.approx(1.0, abs=1e-12), name
        assert ref[name] == pytest.approx(1.0, abs=1e-12), name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_perturbed_sample_matches_pycocotools(coco_gt, seed):
    stats = assert_same_stats(coco_gt, perturb(coco_gt, seed))
    assert 0.0 < stats["AP"] < 1.0


def test_results_with_bbox_use_box_area_like_pycocotools(coco_gt):
    res = perturb(coco_gt, 7)
    rng = np.random.default_rng(7)
    for r in res:
        r["bbox"] = [0.0, 0.0, float(rng.uniform(10, 400)), float(rng.uniform(10, 400))]
    assert_same_stats(coco_gt, res)


def test_detector_file_is_not_a_keypoint_result(coco_sample_dir, coco_gt):
    with pytest.raises(ValueError, match="has no 'keypoints'"):
        evaluate_coco(coco_gt, coco_sample_dir / "test_coco_det_AP_H_56.json")


# ---------------------------------------------------------------------------- synthetic sets


@pytest.mark.parametrize("seed", [10, 11])
def test_synthetic_multi_image_matches_pycocotools(seed):
    gt = synthetic_coco(seed)
    res = perturb(gt, seed + 100, extra_per_image=30)  # some images exceed maxDets = 20
    assert_same_stats(gt, res)


def test_two_categories_match_pycocotools():
    gt = synthetic_coco(5, n_images=25, cat_ids=(1, 3))
    res = perturb(gt, 55)
    ours = CocoKeypointEvaluator(copy.deepcopy(gt)).evaluate(res)
    assert ours.precision.shape == (10, 101, 2, 3)
    assert ours.recall.shape == (10, 2, 3)
    assert_same_stats(gt, res)


def test_crowdpose_sigmas_match_pycocotools():
    gt = synthetic_coco(21, n_images=20, k=14)
    res = perturb(gt, 22, k=14)
    assert_same_stats(gt, res, sigmas=CROWDPOSE_SIGMAS)
    assert_same_stats(gt, res, sigmas="crowdpose")


def test_missing_area_falls_back_to_box_area_with_warning(caplog):
    gt = synthetic_coco(31, n_images=10)
    for a in gt["annotations"][::2]:
        del a["area"]
    res = perturb(gt, 32)
    with caplog.at_level(logging.WARNING, logger="enhancenet_core.metrics.coco"):
        stats = assert_same_stats(gt, res)
    assert "no 'area'" in caplog.text
    with_area = copy.deepcopy(gt)
    for a in with_area["annotations"]:
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
    assert evaluate_coco(with_area, res) == stats


def test_perfect_and_missed_people_give_expected_recall():
    gt = synthetic_coco(41, n_images=12)
    regular = [a for a in gt["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    half = regular[: len(regular) // 2]
    res = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0} for a in half
    ]
    stats = evaluate_coco(gt, res)
    # every prediction is exact: precision 1 up to the recall reached, recall = found / all people
    assert stats["AR"] == pytest.approx(len(half) / len(regular), abs=1e-12)


# ---------------------------------------------------------------------------- OKS


def test_oks_matrix_matches_pycocotools_compute_oks(coco_gt):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res = perturb(coco_gt, 3)
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(coco_gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(res))
        ev = COCOeval(cg, cd, iouType="keypoints")
        ev.evaluate()
    for img in coco_gt["images"]:
        gts = [a for a in coco_gt["annotations"] if a["image_id"] == img["id"]]
        dts = sorted((r for r in res if r["image_id"] == img["id"]), key=lambda r: -r["score"])
        if not gts or not dts:
            continue
        ref = ev.ious[img["id"], 1]
        ours = oks_matrix(
            np.array([d["keypoints"] for d in dts]).reshape(len(dts), 17, 3)[:20],
            np.array([g["keypoints"] for g in gts]).reshape(len(gts), 17, 3),
            np.array([g["area"] for g in gts]),
            np.array([g["bbox"] for g in gts]),
            COCO_SIGMAS,
        )
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_oks_of_unlabelled_gt_uses_doubled_box():
    gt = np.zeros((1, 17, 3))
    box = np.array([[100.0, 100.0, 50.0, 80.0]])
    inside = np.zeros((1, 17, 2))
    inside[..., 0], inside[..., 1] = 60.0, 30.0  # inside [50, 200] x [20, 260]
    assert oks_matrix(inside, gt, [4000.0], box)[0, 0] == pytest.approx(1.0)
    outside = inside.copy()
    outside[..., 0] = 40.0  # 10 px left of the doubled box
    expected = np.mean(np.exp(-(10.0**2) / (2 * COCO_SIGMAS) ** 2 / (4000.0 + np.spacing(1)) / 2))
    assert oks_matrix(outside, gt, [4000.0], box)[0, 0] == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("backend", [evaluate_coco, evaluate_with_pycocotools])
def test_empty_results_error(coco_gt, tmp_path, backend):
    with pytest.raises(ValueError, match="empty"):
        backend(coco_gt, [])
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(ValueError, match="empty"):
        backend(coco_gt, empty)


def test_wrong_keypoint_length_names_entry(coco_gt):
    res = perturb(coco_gt, 0)
    res[3]["keypoints"] = res[3]["keypoints"][:-3]
    with pytest.raises(ValueError, match=r"entry #3 .*48 keypoint numbers; expected 3\*K = 51"):
        evaluate_coco(coco_gt, res)
    with pytest.raises(ValueError, match="entry #3"):
        evaluate_with_pycocotools(coco_gt, res)


def test_unknown_image_and_category_error(coco_gt):
    res = perturb(coco_gt, 0)
    res[1]["image_id"] = 123456789
    with pytest.raises(ValueError, match="entry #1 has image_id 123456789"):
        evaluate_coco(coco_gt, res)
    res = perturb(coco_gt, 0)
    res[2]["category_id"] = 99
    with pytest.raises(ValueError, match=r"entry #2 .*category_id 99"):
        evaluate_coco(coco_gt, res)


def test_bad_score_and_missing_files(coco_gt, tmp_path):
    res = perturb(coco_gt, 0)
    res[0]["score"] = float("nan")
    with pytest.raises(ValueError, match=r"entry #0 .*score"):
        evaluate_coco(coco_gt, res)
    with pytest.raises(FileNotFoundError, match="results file"):
        evaluate_coco(coco_gt, tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="ground truth file"):
        evaluate_coco(tmp_path / "nope.json", res)


def test_non_coco_skeleton_needs_sigmas():
    gt = synthetic_coco(1, n_images=3, k=14)
    with pytest.raises(ValueError, match="K = 14"):
        CocoKeypointEvaluator(gt)
    with pytest.raises(ValueError, match="got 17 values"):
        CocoKeypointEvaluator(gt, sigmas=COCO_SIGMAS)


# ---------------------------------------------------------------------------- writing results


def test_write_results_round_trip_and_atomic(coco_gt, tmp_path):
    rng = np.random.default_rng(0)
    kps = rng.uniform(0, 400, (3, 17, 3))
    ids = [coco_gt["images"][0]["id"]] * 3
    res = keypoint_results(ids, kps, np.float32([0.9, 0.5, 0.1]))
    out = tmp_path / "sub" / "results.json"
    write_keypoint_results(out, res)
    back = load_keypoint_results(out, coco_gt, 17)
    np.testing.assert_allclose(np.array([r["keypoints"] for r in back]).reshape(3, 17, 3), kps)
    before = out.read_bytes()
    bad = [*res, {"image_id": ids[0], "category_id": 1, "keypoints": object(), "score": 1.0}]
    with pytest.raises(TypeError):
        write_keypoint_results(out, bad)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["results.json"]
    with pytest.raises(ValueError, match="empty"):
        write_keypoint_results(out, [])
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        keypoint_results(ids, kps[..., :2], [1, 1, 1])
