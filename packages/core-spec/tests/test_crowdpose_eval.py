"""CrowdPose evaluation (enhancenet_core.metrics.crowdpose) against the CrowdPose API's rules, computed by
pycocotools on a COCO-format CrowdPose-style sample built here (14 joints, ``crowdIndex`` on every image).

Why pycocotools gives the CrowdPose API's numbers exactly. The API's ``crowdposetools.cocoeval.COCOeval`` is
pycocotools' ``COCOeval`` (same ``evaluateImg`` matching, ``accumulate``, ``Params`` for keypoints: OKS
thresholds .50:.05:.95, 101 recall points, maxDets 20, area ranges all/medium/large) except that

1. ``computeOks`` divides by ``gt['bbox'][3] * gt['bbox'][2] * 0.53`` (+ eps) where pycocotools divides by
   ``gt['area']`` (+ eps), in the same operation order otherwise;
2. ``evaluateImg`` tests the area range on ``g['bbox'][2] * g['bbox'][3] * 0.53`` where pycocotools tests
   ``g['area']`` (w·h and h·w are the same float);
3. the sigmas are the 14 CrowdPose ones, fixed in the code;
4. ``summarize`` adds AP easy/medium/hard: ``split`` puts each image of the ground-truth file in easy
   (``crowdIndex < 0.2``), medium (``< 0.8``) or hard (otherwise), and ``get_type_result`` sets
   ``params.imgIds`` to each list, reruns ``evaluate(); accumulate()`` and takes
   ``round(np.mean(precision[:, :, :, 0, :]), 4)`` (every entry, -1s included).

So pycocotools with every ground-truth ``area`` replaced by ``bbox[3] * bbox[2] * 0.53`` (1, 2),
``kpt_oks_sigmas`` set to the CrowdPose sigmas (3) and ``params.imgIds`` set to the subsets written out below
(4) runs the API's computation step for step. The sample's ``area`` fields are deliberately not
``0.53·w·h``, so a test using them would fail (checked below), and crowd indices sit on both bounds.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.datasets import dataset_info
from enhancenet_core.metrics.coco_eval import evaluate_coco
from enhancenet_core.metrics.crowdpose import crowd_index_split, evaluate_crowdpose, format_crowdpose_stats
from enhancenet_core.metrics.oks import CROWDPOSE_SIGMAS

cocoeval = pytest.importorskip("pycocotools.cocoeval")
coco_api = pytest.importorskip("pycocotools.coco")

K = 14
# The CrowdPose API's sigmas, typed from crowdposetools/cocoeval.py (computeOks).
API_SIGMAS = np.array([0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89, 0.79, 0.79]) / 10.0
CROWD_INDEX = [0.0, 0.05, 0.1999, 0.2, 0.5, 0.7999, 0.8, 0.95, 1.0]


def make_sample(seed: int = 0, crowd_index: list[float] = CROWD_INDEX) -> tuple[dict, list[dict]]:
    """A CrowdPose-style ground truth (one category, K = 14) and noisy results with false positives."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    ann_id = 1
    for i, c in enumerate(crowd_index):
        img_id = 100 + i
        images.append({"id": img_id, "file_name": f"{img_id}.jpg", "width": 640, "height": 480, "crowdIndex": c})
        for p in range(int(rng.integers(1, 4))):
            w, h = rng.uniform(20, 200), rng.uniform(40, 300)
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 150)
            xy = np.stack([x0 + rng.uniform(0, w, K), y0 + rng.uniform(0, h, K)], axis=1)
            v = rng.choice([0, 1, 2], size=K, p=[0.2, 0.3, 0.5])
            kind = "normal"
            if i == 2 and p == 0:
                kind = "crowd"
            elif i == 4 and p == 0:
                v[:] = 0
                kind = "no_keypoints"
            kp = np.concatenate([np.where(v[:, None] > 0, xy, 0.0), v[:, None]], axis=1)
            anns.append({
                "id": ann_id, "image_id": img_id, "category_id": 1, "bbox": [x0, y0, w, h],
                "area": w * h * rng.uniform(0.3, 0.9),  # deliberately not 0.53 * w * h
                "iscrowd": int(kind == "crowd"), "num_keypoints": int(np.count_nonzero(v)),
                "keypoints": kp.reshape(-1).tolist(),
            })  # fmt: skip
            ann_id += 1
            if kind == "normal" and rng.random() < 0.9:  # a detection near the person
                noise = rng.normal(0, rng.uniform(1, 12), size=(K, 2))
                pred = np.concatenate([xy + noise, rng.uniform(0, 1, (K, 1))], axis=1)
                results.append({"image_id": img_id, "category_id": 1, "keypoints": pred.reshape(-1).tolist(),
                                "score": float(rng.uniform(0.2, 1.0))})  # fmt: skip
        for _ in range(int(rng.integers(0, 3))):  # false positives
            pred = np.concatenate([rng.uniform(0, 600, (K, 1)), rng.uniform(0, 450, (K, 1)), np.ones((K, 1))], axis=1)
            results.append({"image_id": img_id, "category_id": 1, "keypoints": pred.reshape(-1).tolist(),
                            "score": float(rng.uniform(0.0, 0.6))})  # fmt: skip
    gt = {
        "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "person", "keypoints": list(dataset_info("crowdpose").keypoint_names)}],
    }  # fmt: skip
    return gt, results


def api_rules_with_pycocotools(gt: dict, results: list[dict]) -> dict[str, float]:
    """The CrowdPose API's summary, computed by pycocotools as the module docstring explains."""
    data = copy.deepcopy(gt)
    for a in data["annotations"]:
        a["area"] = a["bbox"][3] * a["bbox"][2] * 0.53
    with contextlib.redirect_stdout(io.StringIO()):
        g = coco_api.COCO()
        g.dataset = data
        g.createIndex()
        d = g.loadRes(copy.deepcopy(results)) if results else None
        ev = cocoeval.COCOeval(g, d, "keypoints")
        ev.params.kpt_oks_sigmas = API_SIGMAS
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        out = dict(zip(("AP", "AP50", "AP75"), ev.stats[0:3], strict=True))
        out.update(zip(("AR", "AR50", "AR75"), ev.stats[5:8], strict=True))
        split = {"easy": [], "medium": [], "hard": []}
        for img in data["images"]:  # the API's split(), written out
            c = img["crowdIndex"]
            split["easy" if c < 0.2 else "medium" if c < 0.8 else "hard"].append(img["id"])
        for name, ids in split.items():
            ev.params.imgIds = ids
            ev.evaluate()
            ev.accumulate()
            out[f"AP_{name}"] = float(np.mean(ev.eval["precision"][:, :, :, 0, :]))
    return {k: float(v) for k, v in out.items()}


def test_sigmas_are_the_apis() -> None:
    np.testing.assert_array_equal(np.array(dataset_info("crowdpose").oks_sigmas), API_SIGMAS)
    np.testing.assert_array_equal(CROWDPOSE_SIGMAS, API_SIGMAS)


def test_split_by_crowd_index_bounds() -> None:
    gt, _ = make_sample()
    split = crowd_index_split(gt)
    by_id = {img["id"]: img["crowdIndex"] for img in gt["images"]}
    assert [by_id[i] for i in split["easy"]] == [0.0, 0.05, 0.1999]
    assert [by_id[i] for i in split["medium"]] == [0.2, 0.5, 0.7999]  # 0.2 is medium
    assert [by_id[i] for i in split["hard"]] == [0.8, 0.95, 1.0]  # 0.8 is hard


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_the_api_rules(seed: int, tmp_path: Path) -> None:
    gt, results = make_sample(seed)
    expected = api_rules_with_pycocotools(gt, results)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    ours = evaluate_crowdpose(tmp_path / "gt.json", tmp_path / "res.json", sigmas=dataset_info("crowdpose").oks_sigmas)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
        assert round(ours[name], 4) == round(value, 4), name  # the API prints round(..., 4)
    assert 0 < ours["AP_easy"] < 1 and 0 < ours["AP_hard"] < 1
    assert (ours["num_images_easy"], ours["num_images_medium"], ours["num_images_hard"]) == (3, 3, 3)
    # The area rule matters on this sample: pycocotools on the file's own areas gives another AP.
    plain = evaluate_coco(gt, results, sigmas=API_SIGMAS)
    assert abs(plain["AP"] - ours["AP"]) > 1e-6
    text = format_crowdpose_stats(ours)
    assert f"type=  hard | maxDets= 20 ] = {ours['AP_hard']:0.3f}" in text


def test_empty_subsets_follow_the_api() -> None:
    # No hard image at all -> -1 (every precision entry stays -1); a subset whose images have no detection -> 0.
    gt, results = make_sample(5, crowd_index=[0.1, 0.3, 0.5, 0.05])
    medium = set(crowd_index_split(gt)["medium"])
    results = [r for r in results if r["image_id"] not in medium]
    expected = api_rules_with_pycocotools(gt, results)
    ours = evaluate_crowdpose(gt, results)
    assert expected["AP_hard"] == -1.0 and expected["AP_medium"] == 0.0
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name


def test_missing_crowd_index_is_named() -> None:
    gt, results = make_sample()
    del gt["images"][3]["crowdIndex"]
    with pytest.raises(ValueError, match=r"^ground truth image 103: expected a number 'crowdIndex'"):
        evaluate_crowdpose(gt, results)
