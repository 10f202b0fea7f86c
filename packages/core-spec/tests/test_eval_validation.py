"""Evaluators refuse bad ground truth / results naming the annotation and field, and give pycocotools'
number on what pycocotools tolerates (compared with pycocotools run on the raw, unnormalized data)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.metrics.coco import STAT_NAMES, evaluate_with_pycocotools
from enhancenet_core.metrics.coco_eval import evaluate_coco
from enhancenet_core.metrics.pckh import compute_pckh, evaluate_mpii_files, load_mpii_gt

K = 17


def small_gt(seed: int = 0, n_images: int = 6, per_image: int = 3) -> dict:
    """A valid COCO keypoint ground truth with every field pycocotools needs."""
    rng = np.random.default_rng(seed)
    images, anns, aid = [], [], 1
    for i in range(n_images):
        images.append({"id": 100 + i, "width": 640, "height": 480})
        for _ in range(per_image):
            w, h = rng.uniform(40, 200), rng.uniform(60, 300)
            x0, y0 = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kp = np.zeros((K, 3))
            kp[:, 0] = rng.uniform(x0, x0 + w, K)
            kp[:, 1] = rng.uniform(y0, y0 + h, K)
            kp[:, 2] = rng.choice([0, 1, 2], K, p=[0.2, 0.2, 0.6])
            kp[kp[:, 2] == 0, :2] = 0
            anns.append({"id": aid, "image_id": 100 + i, "category_id": 1, "keypoints": kp.ravel().tolist(),
                         "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)), "area": float(w * h * 0.6),
                         "bbox": [float(x0), float(y0), float(w), float(h)], "iscrowd": 0})
            aid += 1
    cats = [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(K)], "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": cats}


def noisy_results(gt: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    res = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(K, 3).copy()
        kp[:, :2] += rng.normal(0, 4.0, (K, 2))
        kp[:, 2] = rng.random(K)
        res.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                    "score": float(rng.random())})
    return res


def raw_pycocotools(gt: dict, results: list[dict]) -> dict[str, float]:
    """pycocotools on the data as given (no checks, no completion by our loaders)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        dt = coco.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco, dt, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {n: float(v) for n, v in zip(STAT_NAMES, ev.stats, strict=True)}


# ------------------------------------------------------------------------------------- refusals

def _set(index: int, field: str, value) -> Callable[[dict], None]:
    def f(gt: dict) -> None:
        gt["annotations"][index][field] = value
    return f


def _set_kp(index: int, pos: int, value) -> Callable[[dict], None]:
    def f(gt: dict) -> None:
        gt["annotations"][index]["keypoints"][pos] = value
    return f


def _dup_id(gt: dict) -> None:
    gt["annotations"][4]["id"] = gt["annotations"][2]["id"]


BAD_GT = {
    # name: (mutation, annotation id the message names, field the message names)
    "keypoint_nan": (_set_kp(2, 4, math.nan), 3, "keypoints"),
    "keypoint_inf": (_set_kp(2, 0, math.inf), 3, "keypoints"),
    "keypoint_string": (_set_kp(2, 0, "12"), 3, "keypoints"),
    "keypoints_short": (_set(2, "keypoints", [1.0, 2.0, 2]), 3, "keypoints"),
    "area_nan": (_set(1, "area", math.nan), 2, "area"),
    "area_zero": (_set(1, "area", 0.0), 2, "area"),
    "area_negative": (_set(1, "area", -10.0), 2, "area"),
    "area_string": (_set(1, "area", "big"), 2, "area"),
    "bbox_zero_width": (_set(5, "bbox", [10.0, 10.0, 0.0, 30.0]), 6, "bbox"),
    "bbox_negative_height": (_set(5, "bbox", [10.0, 10.0, 5.0, -1.0]), 6, "bbox"),
    "bbox_nan": (_set(5, "bbox", [10.0, math.nan, 5.0, 4.0]), 6, "bbox"),
    "bbox_three_numbers": (_set(5, "bbox", [10.0, 10.0, 5.0]), 6, "bbox"),
    "duplicate_id": (_dup_id, 3, "id"),
    "image_not_listed": (_set(7, "image_id", 999), 8, "image_id"),
    "image_id_list": (_set(7, "image_id", [100]), 8, "image_id"),
    "category_not_listed": (_set(7, "category_id", 2), 8, "category_id"),
    "iscrowd_two": (_set(0, "iscrowd", 2), 1, "iscrowd"),
    "num_keypoints_negative": (_set(0, "num_keypoints", -1), 1, "num_keypoints"),
    "num_keypoints_nan": (_set(0, "num_keypoints", math.nan), 1, "num_keypoints"),
    "id_float": (_set(0, "id", 1.5), 1.5, "id"),
}


@pytest.mark.parametrize("backend", [evaluate_coco, evaluate_with_pycocotools], ids=["ours", "pycocotools"])
@pytest.mark.parametrize("case", sorted(BAD_GT))
def test_bad_ground_truth_is_refused_naming_annotation_and_field(case, backend, tmp_path):
    gt = small_gt()
    res = noisy_results(gt, 1)
    mutate, ann_id, field = BAD_GT[case]
    mutate(gt)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))  # NaN/Infinity are written as JSON extensions, which json reads back
    with pytest.raises(ValueError) as info:
        backend(path, res)
    msg = str(info.value)
    assert str(path) in msg and f"(id {ann_id!r})" in msg and f"'{field}'" in msg, msg
    assert "\n" not in msg


def test_duplicate_ids_change_pycocotools_number():
    """Why duplicate ids are refused: pycocotools indexes by id and evaluates one annotation twice."""
    gt = small_gt()
    res = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
           for a in gt["annotations"]]
    assert raw_pycocotools(gt, res)["AP"] == pytest.approx(1.0)
    dup = copy.deepcopy(gt)
    _dup_id(dup)
    assert raw_pycocotools(dup, res)["AP"] < 0.99  # the same perfect predictions, another number


def test_bad_image_and_category_lists_are_refused():
    gt = small_gt()
    gt["images"].append({"id": 100})
    with pytest.raises(ValueError, match=r"image #6 repeats id 100"):
        evaluate_coco(gt, noisy_results(small_gt(), 1))
    gt = small_gt()
    gt["categories"].append({"id": 2, "name": "x", "keypoints": ["a", "b"]})
    with pytest.raises(ValueError, match=r"different numbers of keypoints"):
        evaluate_coco(gt, noisy_results(small_gt(), 1))


@pytest.mark.parametrize(
    "mutation, needle",
    [
        (lambda r: r[3].__setitem__("image_id", [100]), "image_id [100]"),
        (lambda r: r[3].__setitem__("category_id", {"a": 1}), "category_id"),
        (lambda r: r[3]["keypoints"].__setitem__(5, "x"), "'keypoints' must be numbers"),
        (lambda r: r[3].__setitem__("bbox", [1.0, 2.0, math.nan, 3.0]), "'bbox' has a non-finite value"),
    ],
)
def test_bad_results_are_refused_naming_entry(mutation, needle):
    gt = small_gt()
    res = noisy_results(gt, 2)
    mutation(res)
    with pytest.raises(ValueError, match="entry #3") as info:
        evaluate_coco(gt, res)
    assert needle in str(info.value)


def test_unreadable_json_names_the_file(tmp_path):
    cases = {"truncated.json": b'{"images": [', "latin1.json": b'{"images": "\xe9"}',
             "deep.json": b"[" * 100_000 + b"]" * 100_000}
    res = noisy_results(small_gt(), 1)
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ValueError) as info:
            evaluate_coco(p, res)
        assert str(p) in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------ tolerated by pycocotools: same number

def _zero_box_results(gt: dict, res: list[dict]) -> None:
    for i, r in enumerate(res):  # the first entry's box decides pycocotools' area branch
        r["bbox"] = [1.0, 1.0, 0.0 if i % 3 == 0 else 50.0, 80.0]


def _huge_coordinates(gt: dict, res: list[dict]) -> None:
    res[0]["keypoints"][0] = 1e200  # squared, this overflows to inf in both: OKS term exp(-inf) = 0
    res[1]["keypoints"][1] = -1e155


def _inconsistent_num_keypoints(gt: dict, res: list[dict]) -> None:
    gt["annotations"][0]["num_keypoints"] = 0  # labelled, but declared empty: ignored by both
    gt["annotations"][1]["num_keypoints"] = 40


def _odd_visibility(gt: dict, res: list[dict]) -> None:
    kp = gt["annotations"][2]["keypoints"]
    kp[2], kp[5] = -1, 3  # v > 0 is "labelled" in both


def _id_zero_and_crowd(gt: dict, res: list[dict]) -> None:
    gt["annotations"][0]["id"] = 0  # pycocotools' quirk: its matches count as unmatched
    gt["annotations"][3]["iscrowd"] = 1
    gt["annotations"][4]["iscrowd"] = True


def _odd_scores_and_empty_image(gt: dict, res: list[dict]) -> None:
    gt["images"].append({"id": 500})
    res.append({"image_id": 500, "category_id": 1, "keypoints": [5.0] * (3 * K), "score": -3.0})
    res[2]["score"] = res[3]["score"] = 0.5
    res.append(dict(res[4]))  # a duplicated detection


def _no_labelled_keypoints(gt: dict, res: list[dict]) -> None:
    gt["annotations"][5]["keypoints"] = [0.0] * (3 * K)  # matched through its doubled box
    gt["annotations"][5]["num_keypoints"] = 0
    gt["annotations"][6]["keypoints"] = [0.0] * (3 * K)
    gt["annotations"][6]["num_keypoints"] = 3


TOLERATED = [_zero_box_results, _huge_coordinates, _inconsistent_num_keypoints, _odd_visibility,
             _id_zero_and_crowd, _odd_scores_and_empty_image, _no_labelled_keypoints]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("tweak", TOLERATED, ids=[t.__name__.strip("_") for t in TOLERATED])
def test_tolerated_inputs_give_pycocotools_number(tweak):
    gt = small_gt(3, n_images=8)
    res = noisy_results(gt, 4)
    tweak(gt, res)
    ref = raw_pycocotools(gt, res)
    ours = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(res))
    assert max(abs(ours[n] - ref[n]) for n in STAT_NAMES) <= 1e-12, (ours, ref)
    assert any(ref[n] not in (-1.0, 0.0, 1.0) for n in STAT_NAMES)  # a real number, not a trivial one


def test_ground_truth_without_annotations_gives_pycocotools_minus_one():
    gt = small_gt()
    gt["annotations"] = []
    res = noisy_results(small_gt(), 1)
    ref = raw_pycocotools(gt, res)
    assert set(ref.values()) == {-1.0}
    assert evaluate_coco(gt, res) == ref


# ------------------------------------------------------------------------------------------ MPII

@pytest.fixture()
def mpii_files(mpii_sample_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path, int]:
    gt_path = mpii_sample_dir / "test_mpii.json"
    gt = load_mpii_gt(gt_path)
    n = gt.joints.shape[0]
    preds = tmp_path / "preds.npy"
    np.save(preds, gt.joints + 5.0)
    boxes = tmp_path / "boxes.npy"
    np.save(boxes, np.tile([[10.0, 10.0, 40.0, 50.0]], (n, 1)))
    return gt_path, preds, boxes, n


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_mpii_non_finite_predictions_are_refused(mpii_files, bad, tmp_path):
    gt_path, preds, boxes, _ = mpii_files
    p = np.load(preds)
    p[2, 9, 1] = bad
    np.save(preds, p)
    with pytest.raises(ValueError, match=r"person 2 joint 9 \(head_top\) is not finite") as info:
        evaluate_mpii_files(gt_path, preds, head_boxes=boxes)
    assert str(preds) in str(info.value)


def test_mpii_head_boxes_n4_equal_n22_and_degenerate_box_is_named(mpii_files, tmp_path):
    gt_path, preds, boxes, n = mpii_files
    a = evaluate_mpii_files(gt_path, preds, head_boxes=boxes)
    b = evaluate_mpii_files(gt_path, preds, head_boxes=np.load(boxes).reshape(n, 2, 2))
    assert a.groups == b.groups
    assert a.groups[0.5]["Mean"] == 100.0 and a.groups[0.1]["Mean"] == 0.0  # 7.1 px off, head size 30 px
    hb = np.load(boxes)
    hb[3] = [20.0, 20.0, 20.0, 20.0]
    with pytest.raises(ValueError, match=r"head_boxes: person 3 has a zero-size head box"):
        evaluate_mpii_files(gt_path, preds, head_boxes=hb)
    hb[3] = [20.0, math.nan, 25.0, 30.0]
    with pytest.raises(ValueError, match=r"head_boxes: person 3 has a non-finite head box"):
        evaluate_mpii_files(gt_path, preds, head_boxes=hb)


def test_mpii_unreadable_files_name_the_file(mpii_sample_dir, mpii_files, tmp_path):
    gt_path, preds, boxes, _ = mpii_files
    trunc = tmp_path / "gt.json"
    trunc.write_text((mpii_sample_dir / "test_mpii.json").read_text()[:200])
    garbage_npy = tmp_path / "p.npy"
    garbage_npy.write_bytes(b"\x93NUMPY garbage")
    text = tmp_path / "sizes.txt"
    text.write_text("1 2 x\n")
    mat = tmp_path / "gt.mat"
    mat.write_bytes(b"MATLAB 5.0 truncated")
    for call, named in [
        (lambda: evaluate_mpii_files(trunc, preds, head_boxes=boxes), trunc),
        (lambda: evaluate_mpii_files(gt_path, garbage_npy, head_boxes=boxes), garbage_npy),
        (lambda: evaluate_mpii_files(gt_path, preds, head_sizes=text), text),
        (lambda: evaluate_mpii_files(mat, preds, head_boxes=boxes), mat),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert str(named) in str(info.value), info.value


def test_mpii_visible_gt_must_be_finite():
    pred = np.zeros((2, 16, 2))
    gt = np.zeros((2, 16, 2))
    vis = np.ones((2, 16))
    gt[1, 4, 0] = math.nan
    with pytest.raises(ValueError, match=r"gt: person 1 joint 4 is visible but not finite"):
        compute_pckh(pred, gt, vis, head_sizes=np.ones(2))
    vis[1, 4] = 0  # an invisible joint's coordinates are not used
    assert compute_pckh(pred, gt, vis, head_sizes=np.ones(2)).groups[0.5]["Mean"] == 100.0
