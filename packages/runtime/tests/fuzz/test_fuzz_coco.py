"""Fuzz ``enhancenet-spec eval-coco GT RESULTS``: damaged ground truth and damaged results are refused."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from _fuzzkit import FUZZ, assert_refused, byte_damage, dump_json
from hypothesis import given
from hypothesis import strategies as st

from enhancenet_runtime.cli import main

K = 17
NAN, INF = math.nan, math.inf


def _keypoints(rng_seed: int) -> list[float]:
    out = []
    for j in range(K):
        out += [100.0 + 7 * j + rng_seed, 50.0 + 11 * j, 2]
    return out


def _gt() -> dict:
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i:012d}.jpg"} for i in (1, 2)]
    anns = [{"id": 10 + n, "image_id": 1 + n % 2, "category_id": 1, "iscrowd": 0, "num_keypoints": K,
             "keypoints": _keypoints(n), "area": 20000.0 + n, "bbox": [80.0 + n, 40.0, 150.0, 200.0]}
            for n in range(3)]
    cats = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": [f"k{j}" for j in range(K)],
             "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": cats}


def _results() -> list:
    return [{"image_id": 1 + n % 2, "category_id": 1, "keypoints": _keypoints(n), "score": 0.9 - 0.1 * n}
            for n in range(3)]


# damage: name -> (words of which the error must name one, function(obj, data) drawing its own parameters)
BAD_NUMBER = st.sampled_from([NAN, INF, -INF])
NON_POSITIVE = st.one_of(st.just(0.0), st.floats(max_value=0.0, allow_nan=False), st.just(NAN))
ANN = st.integers(0, 2)


def _ann(gt, data):
    return gt["annotations"][data.draw(ANN)]


def _kp(gt, data):
    _ann(gt, data)["keypoints"][data.draw(st.integers(0, 3 * K - 1))] = data.draw(BAD_NUMBER)


def _area(gt, data):
    _ann(gt, data)["area"] = data.draw(NON_POSITIVE)


def _box_size(gt, data):
    _ann(gt, data)["bbox"][data.draw(st.integers(2, 3))] = data.draw(NON_POSITIVE)


def _box_origin(gt, data):
    _ann(gt, data)["bbox"][data.draw(st.integers(0, 1))] = data.draw(BAD_NUMBER)


def _box_length(gt, data):
    _ann(gt, data)["bbox"] = [10.0] * data.draw(st.sampled_from([0, 1, 2, 3, 5, 8]))


def _dup_ann_id(gt, data):
    i = data.draw(ANN)
    gt["annotations"][i]["id"] = gt["annotations"][(i + 1) % 3]["id"]


def _dup_image_id(gt, data):
    gt["images"][1]["id"] = gt["images"][0]["id"]


def _orphan(gt, data):
    _ann(gt, data)["image_id"] = data.draw(st.integers(3, 10**6))


def _k_count(gt, data):
    n = data.draw(st.integers(0, 60).filter(lambda n: n != 3 * K))
    _ann(gt, data)["keypoints"] = [1.0] * n


def _kp_type(gt, data):
    _ann(gt, data)["keypoints"][data.draw(st.integers(0, 3 * K - 1))] = data.draw(
        st.sampled_from(["12", None, [1], {"x": 1}]))


def _kp_not_list(gt, data):
    _ann(gt, data)["keypoints"] = data.draw(st.sampled_from(["x", 3, None, {"a": 1}]))


def _drop_section(gt, data):
    gt.pop(data.draw(st.sampled_from(["annotations", "images", "categories"])))


def _section_type(gt, data):
    gt[data.draw(st.sampled_from(["annotations", "images"]))] = data.draw(st.sampled_from([{"id": 1}, "x", 5]))


GT_DAMAGE = {
    "non-finite keypoint": (["keypoints", "finite", "nan", "inf"], _kp),
    "area <= 0 or NaN": (["area"], _area),
    "box w/h <= 0 or NaN": (["bbox"], _box_size),
    "non-finite box origin": (["bbox"], _box_origin),
    "box not 4 numbers": (["bbox"], _box_length),
    "duplicate annotation id": (["id", "duplicate"], _dup_ann_id),
    "duplicate image id": (["id", "duplicate"], _dup_image_id),
    "image_id not in images": (["image_id"], _orphan),
    "keypoint count not 3K": (["keypoints"], _k_count),
    "keypoint of wrong type": (["keypoints"], _kp_type),
    "keypoints not a list": (["keypoints"], _kp_not_list),
    "section missing": (["annotations", "images", "categories"], _drop_section),
    "section not a list": (["annotations", "images"], _section_type),
}


def _res(r, data):
    return r[data.draw(ANN)]


RESULT_DAMAGE = {
    "non-finite keypoint": (["keypoints", "finite", "nan", "inf"],
                            lambda r, d: _res(r, d)["keypoints"].__setitem__(d.draw(st.integers(0, 50)),
                                                                             d.draw(BAD_NUMBER))),
    "non-finite score": (["score"], lambda r, d: _res(r, d).__setitem__("score", d.draw(BAD_NUMBER))),
    "score of wrong type": (["score"], lambda r, d: _res(r, d).__setitem__(
        "score", d.draw(st.sampled_from(["high", None, [0.5]])))),
    "image_id not in GT": (["image_id"], lambda r, d: _res(r, d).__setitem__(
        "image_id", d.draw(st.integers(3, 10**6)))),
    "keypoint count not 3K": (["keypoints"], lambda r, d: _res(r, d).__setitem__(
        "keypoints", [1.0] * d.draw(st.integers(0, 60).filter(lambda n: n != 3 * K)))),
    "field missing": (["keypoints", "image_id", "score", "category_id"], lambda r, d: _res(r, d).pop(
        d.draw(st.sampled_from(["keypoints", "image_id", "score"])))),
    "not a list of objects": (["list", "result", "object"], lambda r, d: r.__setitem__(
        d.draw(ANN), d.draw(st.sampled_from([1, "x", None, [1, 2]])))),
}


def _run(kind, gt_bytes_or_obj, res_obj, names, what, damage_file=None):
    with tempfile.TemporaryDirectory(prefix="fuzz-coco-") as tmp:
        d = Path(tmp)
        gt, res = d / "gt_person_keypoints.json", d / "dets_results.json"
        dump_json(gt, gt_bytes_or_obj)
        dump_json(res, res_obj)
        if damage_file is not None:
            target, fn = damage_file
            p = gt if target == "gt" else res
            p.write_bytes(fn(p.read_bytes()))
        assert_refused(kind, main, ["eval-coco", str(gt), str(res)], d, names, what)


@FUZZ
@given(damage=st.sampled_from(sorted(GT_DAMAGE)), data=st.data())
def test_fuzz_coco_ground_truth(damage: str, data) -> None:
    names, fn = GT_DAMAGE[damage]
    gt = _gt()
    fn(gt, data)
    _run("coco ground truth", gt, _results(), ["gt_person_keypoints", *names], damage)


@FUZZ
@given(damage=st.sampled_from(sorted(RESULT_DAMAGE)), data=st.data())
def test_fuzz_coco_results(damage: str, data) -> None:
    names, fn = RESULT_DAMAGE[damage]
    res = _results()
    fn(res, data)
    _run("coco results", _gt(), res, ["dets_results", *names], damage)


@FUZZ
@given(damage=st.sampled_from(sorted(byte_damage())), which=st.sampled_from(["gt", "results"]))
def test_fuzz_coco_files(damage: str, which: str) -> None:
    name = "gt_person_keypoints" if which == "gt" else "dets_results"
    _run("coco files", _gt(), _results(), [name], f"{which}: {damage}", (which, byte_damage()[damage]))


def _survey_gt(damage, data):
    gt = _gt()
    GT_DAMAGE[damage][1](gt, data)
    _run("coco ground truth", gt, _results(), ["gt_person_keypoints", *GT_DAMAGE[damage][0]], damage)


def _survey_res(damage, data):
    res = _results()
    RESULT_DAMAGE[damage][1](res, data)
    _run("coco results", _gt(), res, ["dets_results", *RESULT_DAMAGE[damage][0]], damage)


def _survey_files(damage, data):
    which = data.draw(st.sampled_from(["gt", "results"]))
    name = "gt_person_keypoints" if which == "gt" else "dets_results"
    _run("coco files", _gt(), _results(), [name], f"{which}: {damage}", (which, byte_damage()[damage]))


#: each table with a runner of one damage (packages/runtime/tests/fuzz/survey.py runs them one at a time)
SURVEY = {"gt": (GT_DAMAGE, _survey_gt), "results": (RESULT_DAMAGE, _survey_res),
          "files": (byte_damage(), _survey_files)}


def test_the_clean_inputs_are_accepted(tmp_path: Path) -> None:
    """The base every damage starts from is valid (else the refusals above would prove nothing)."""
    gt, res = dump_json(tmp_path / "gt.json", _gt()), dump_json(tmp_path / "res.json", _results())
    assert main(["eval-coco", str(gt), str(res)]) == 0
