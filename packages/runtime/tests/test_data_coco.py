"""COCO readers: the real sample, HRNet's box rules checked by hand, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import Config, DataConfig
from enhancenet_core.config import TestConfig as EvalConfig
from enhancenet_runtime.data.coco import load_coco_det_records, load_coco_gt_records, load_coco_records

INPUT = (192, 256)  # (W, H): aspect 0.75


def _sample(coco_sample_dir: Path) -> dict:
    return json.loads((coco_sample_dir / "test_coco.json").read_text())


def test_real_sample_counts(coco_sample_dir: Path) -> None:
    data = _sample(coco_sample_dir)
    res = load_coco_gt_records(coco_sample_dir / "test_coco.json", coco_sample_dir, INPUT)
    # Independent count: non-crowd person annotations with some keypoint, minus none outside the images.
    empty = [a for a in data["annotations"] if max(a["keypoints"]) == 0]
    assert len(empty) == 2
    assert len(res) == len(data["annotations"]) - len(empty) == 12
    assert res.skipped == {"no_keypoints": 2}
    assert res.clipped == 0
    assert {r.image.name for r in res.records} <= {im["file_name"] for im in data["images"]}


def test_box_to_center_scale_by_hand(coco_sample_dir: Path) -> None:
    res = load_coco_gt_records(coco_sample_dir / "test_coco.json", coco_sample_dir, INPUT)
    rec = next(r for r in res.records if r.extras["annotation_id"] == 442619)
    # bbox [280.79, 44.73, 218.7, 346.68] in a 640x425 image; HRNet shrinks by 1 px: w=217.7, h=345.68.
    np.testing.assert_allclose(rec.box, [280.79, 44.73, 217.7, 345.68], atol=1e-9)
    np.testing.assert_allclose(rec.center, [280.79 + 217.7 / 2, 44.73 + 345.68 / 2], atol=1e-9)
    # w < 0.75 h -> w = 0.75 * 345.68 = 259.26; scale = (259.26, 345.68) / 200 * 1.25
    np.testing.assert_allclose(rec.scale, [1.620375, 2.1605], atol=1e-9)
    assert rec.image_id == 785 and rec.image.name == "000000000785.jpg"
    assert rec.area == pytest.approx(27789.11055)
    # keypoints (367, 81, 2) -> vis clipped to 1
    np.testing.assert_array_equal(rec.joints[0], [367, 81, 1])
    assert set(np.unique(rec.joints_vis)) <= {0.0, 1.0}


def test_occluded_v1_counts_as_visible(coco_sample_dir: Path) -> None:
    res = load_coco_gt_records(coco_sample_dir / "test_coco.json", coco_sample_dir, INPUT)
    rec = next(r for r in res.records if r.extras["annotation_id"] == 198196)
    # keypoint 11 is (57, 246, 1), keypoint 3 is (0, 0, 0)
    assert rec.joints[11, 2] == 1.0 and rec.joints[3, 2] == 0.0


def test_records_are_read_only(coco_sample_dir: Path) -> None:
    rec = load_coco_gt_records(coco_sample_dir / "test_coco.json", coco_sample_dir, INPUT).records[0]
    with pytest.raises(ValueError):
        rec.joints[0, 0] = 1.0
    with pytest.raises(AttributeError):
        rec.score = 0.5  # type: ignore[misc]


def test_detections(coco_sample_dir: Path) -> None:
    dets = json.loads((coco_sample_dir / "test_coco_det_AP_H_56.json").read_text())
    for thre in (0.0, 0.5):
        res = load_coco_det_records(
            coco_sample_dir / "test_coco_det_AP_H_56.json", coco_sample_dir / "test_coco.json",
            coco_sample_dir, INPUT, image_thre=thre,
        )  # fmt: skip
        expect = [d for d in dets if d["category_id"] == 1 and d["score"] >= thre]
        assert len(res) == len(expect)
        assert res.skipped.get("below_image_thre", 0) == sum(d["score"] < thre for d in dets)
    first = res.records[0]
    d0 = expect[0]
    x, y, w, h = d0["bbox"]  # detections are used as given (no clip, no shrink)
    np.testing.assert_allclose(first.center, [x + w / 2, y + h / 2])
    if w < 0.75 * h:
        np.testing.assert_allclose(first.scale, [0.75 * h / 200 * 1.25, h / 200 * 1.25])
    assert first.score == pytest.approx(d0["score"])
    assert np.all(first.joints == 0)


def test_load_from_config(coco_sample_dir: Path, tmp_path: Path) -> None:
    # HRNet layout built from symlinks to the sample (never copied).
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations" / "person_keypoints_val2017.json").symlink_to(coco_sample_dir / "test_coco.json")
    (tmp_path / "images" / "val2017").symlink_to(coco_sample_dir)
    cfg = Config(
        data=DataConfig(root=str(tmp_path), train_set="val2017", test_set="val2017"),
        test=EvalConfig(bbox_file=str(coco_sample_dir / "test_coco_det_AP_H_56.json"), image_thre=0.0),
    )
    assert len(load_coco_records(cfg, train=True)) == 12
    assert len(load_coco_records(cfg, train=False)) == 118
    with pytest.raises(ValueError, match="bbox_file"):
        load_coco_records(Config(data=cfg.data), train=False)


# ---------------------------------------------------------------- bad input


def _write(tmp_path: Path, data: dict, name: str = "ann.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def _one_image(tmp_path: Path, anns: list[dict]) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": anns,
    }
    return _write(tmp_path, data)


def _ann(aid: int, bbox: list[float], **kw) -> dict:
    kp = [0] * 51
    kp[0:3] = [50, 40, 2]
    base = {"id": aid, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": bbox, "area": 100.0, "keypoints": kp}
    base.update(kw)
    return base


def test_skips_are_counted(tmp_path: Path) -> None:
    anns = [
        _ann(1, [10, 10, 20, 30]),  # kept
        _ann(2, [10, 10, 20, 30], keypoints=[0] * 51),  # no keypoints
        _ann(3, [10, 10, 20, 30], iscrowd=1),  # crowd
        _ann(4, [10, 10, 20, 30], category_id=2),  # not a person
        _ann(5, [150, 10, 20, 30]),  # entirely right of the 100-px image
        _ann(6, [10, 10, 20, 30], area=0.0),  # zero area
        _ann(7, [-5, 70, 20, 30]),  # partly outside: clipped, kept
    ]
    res = load_coco_gt_records(_one_image(tmp_path, anns), tmp_path, INPUT, check_images=False)
    assert [r.extras["annotation_id"] for r in res.records] == [1, 7]
    assert res.skipped == {
        "no_keypoints": 1, "crowd": 1, "not_person": 1, "box_outside_image": 1, "zero_area": 1,
    }  # fmt: skip
    assert res.clipped == 1
    # x1 = max(0, -5) = 0, x2 = min(99, 0 + 19) = 19; y1 = 70, y2 = min(79, 70 + 29) = 79
    np.testing.assert_allclose(res.records[1].box, [0, 70, 19, 9])


def test_missing_area_falls_back_to_box(tmp_path: Path) -> None:
    ann = _ann(1, [10, 10, 20, 30])
    del ann["area"]
    res = load_coco_gt_records(_one_image(tmp_path, [ann]), tmp_path, INPUT, check_images=False)
    assert res.records[0].area == 600.0  # the annotated box w * h
    assert res.notes == {"area_from_box": 1}


def test_missing_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        load_coco_gt_records(tmp_path / "nope.json", tmp_path, INPUT)


def test_malformed_json(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{"images": [')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_coco_gt_records(p, tmp_path, INPUT)
    with pytest.raises(ValueError, match="'images'"):
        load_coco_gt_records(_write(tmp_path, {"annotations": []}, "x.json"), tmp_path, INPUT)


def test_missing_image_is_named(tmp_path: Path) -> None:
    p = _one_image(tmp_path, [_ann(1, [10, 10, 20, 30])])
    with pytest.raises(FileNotFoundError, match=r"a\.jpg"):
        load_coco_gt_records(p, tmp_path, INPUT)


def test_wrong_keypoint_count_and_no_keypoint_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="annotation 1: 'keypoints' must be 51"):
        load_coco_gt_records(_one_image(tmp_path, [_ann(1, [10, 10, 20, 30], keypoints=[1, 2, 2])]),
                             tmp_path, INPUT, check_images=False)  # fmt: skip
    no_kp = _ann(1, [10, 10, 20, 30])
    del no_kp["keypoints"]
    with pytest.raises(ValueError, match="instances_"):
        load_coco_gt_records(_one_image(tmp_path, [no_kp]), tmp_path, INPUT, check_images=False)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}, r"missing field\(s\) \['score'\]"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 5], "score": 0.9}, "4 finite numbers"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, "x"], "score": 0.9}, "must be numbers"),
        ({"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9}, "image_id 99"),
        ("not an object", "expected an object"),
    ],
)
def test_malformed_detections(tmp_path: Path, entry: object, match: str) -> None:
    ann = _one_image(tmp_path, [])
    det = tmp_path / "det.json"
    det.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5}, entry]))
    with pytest.raises(ValueError, match="entry 1"):
        load_coco_det_records(det, ann, tmp_path, INPUT, check_images=False)
    with pytest.raises(ValueError, match=match):
        load_coco_det_records(det, ann, tmp_path, INPUT, check_images=False)


def test_detection_skips(tmp_path: Path) -> None:
    ann = _one_image(tmp_path, [])
    det = tmp_path / "det.json"
    det.write_text(json.dumps([
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 0, 5], "score": 0.5},
        {"image_id": 1, "category_id": 3, "bbox": [1, 1, 5, 5], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.1},
    ]))  # fmt: skip
    res = load_coco_det_records(det, ann, tmp_path, INPUT, image_thre=0.2, check_images=False)
    assert len(res) == 1
    assert res.skipped == {"empty_box": 1, "not_person": 1, "below_image_thre": 1}
    with pytest.raises(ValueError, match="JSON list"):
        load_coco_det_records(_write(tmp_path, {"a": 1}, "d2.json"), ann, tmp_path, INPUT)
