"""Synthetic multi-person COCO data (bottom-up) and the COCO segmentation codec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_runtime.data.segmentation import decode_rle_string, decode_segmentation, encode_rle
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multi") / "d"
    generate_multi_person_coco(root, 12, seed=5, image_size=(96, 96), people_per_image=(2, 4), crowd_prob=0.5)
    return root


def _anns(root: Path, split: str = "train") -> dict:
    return json.loads((root / "annotations" / f"person_keypoints_{split}.json").read_text())


def test_deterministic_by_seed(multi: Path, tmp_path: Path) -> None:
    again = generate_multi_person_coco(tmp_path / "d", 12, seed=5, image_size=(96, 96), people_per_image=(2, 4),
                                       crowd_prob=0.5)  # fmt: skip
    for f in sorted(p.relative_to(multi) for p in multi.rglob("*") if p.is_file()):
        assert (again.root / f).read_bytes() == (multi / f).read_bytes(), f
    other = generate_multi_person_coco(tmp_path / "e", 12, seed=6, image_size=(96, 96), people_per_image=(2, 4))
    assert _anns(other.root) != _anns(multi)


def test_scenes_have_several_people_crowds_and_border_cuts(multi: Path) -> None:
    coco = {**_anns(multi, "train")}
    coco["annotations"] += _anns(multi, "val")["annotations"]
    people = [a for a in coco["annotations"] if not a["iscrowd"]]
    crowds = [a for a in coco["annotations"] if a["iscrowd"]]
    per_image = np.bincount([a["image_id"] for a in people])
    assert per_image.max() >= 3 and np.count_nonzero(per_image >= 2) >= 6
    assert crowds and all(a["num_keypoints"] == 0 and not any(a["keypoints"]) for a in crowds)
    for c in crowds:  # an RLE region whose area and box are those of its mask
        mask = decode_segmentation(c["segmentation"], 96, 96)
        assert mask.sum() == c["area"]
        rows, cols = np.nonzero(mask)
        assert [cols.min(), rows.min()] == c["bbox"][:2]
    kp = np.array([a["keypoints"] for a in people], float).reshape(len(people), 17, 3)
    assert np.all(kp[..., :2][kp[..., 2] > 0] >= 0) and np.all(kp[..., :2][kp[..., 2] > 0] <= 95)
    assert np.any((kp[..., 2] == 0).sum(axis=1) >= 4)  # some people are cut by the border
    assert np.any(kp[..., 2] == 1)  # some joints are covered by later people or occluders
    boxes = np.array([a["bbox"] for a in people])
    img = np.array([a["image_id"] for a in people])
    overlaps = 0
    for i in range(len(people)):  # overlapping boxes of two people in one image
        same = (img == img[i]) & (np.arange(len(people)) > i)
        ix = np.minimum(boxes[i, 0] + boxes[i, 2], boxes[same, 0] + boxes[same, 2]) - np.maximum(boxes[i, 0], boxes[same, 0])
        iy = np.minimum(boxes[i, 1] + boxes[i, 3], boxes[same, 1] + boxes[same, 3]) - np.maximum(boxes[i, 1], boxes[same, 1])
        overlaps += int(np.count_nonzero((ix > 0) & (iy > 0)))
    assert overlaps >= 3


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"num_images": 0}, "num_images"), ({"seed": -1}, "seed"), ({"image_size": (16, 64)}, "image_size"),
     ({"people_per_image": (3, 1)}, "people_per_image"), ({"crowd_prob": 1.5}, "crowd_prob"),
     ({"overlap_prob": 0.7, "border_prob": 0.5}, "overlap_prob \\+ border_prob")],
)  # fmt: skip
def test_bad_arguments(tmp_path: Path, kwargs: dict, words: str) -> None:
    args = {"num_images": 2, **kwargs}
    with pytest.raises(ValueError, match=words):
        generate_multi_person_coco(tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_rle_round_trip_and_compressed_strings() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.random(tuple(rng.integers(1, 20, 2))) < 0.4
        rle = encode_rle(m)
        assert sum(rle["counts"]) == m.size
        assert np.array_equal(decode_segmentation(rle, *m.shape), m)
    # "52203" is pycocotools' compressed string of a 5 x 1 column [0, 0, 1, 1, 1] (runs 2, 3)
    assert decode_rle_string("23") == [2, 3]
    assert np.array_equal(decode_segmentation({"counts": "23", "size": [5, 1]}, 5, 1)[:, 0], [0, 0, 1, 1, 1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own NumPy 2 warning
def test_rle_matches_pycocotools() -> None:
    mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the optional cross-check")
    rng = np.random.default_rng(1)
    for _ in range(30):
        m = (rng.random(tuple(rng.integers(1, 30, 2))) < rng.random()).astype(np.uint8)
        assert np.array_equal(mask_api.decode(mask_api.frPyObjects(encode_rle(m), *m.shape)), m)
        enc = mask_api.encode(np.asfortranarray(m))
        assert np.array_equal(decode_segmentation(enc, *m.shape), m.astype(bool))


@pytest.mark.parametrize(
    ("seg", "words"),
    [({"counts": [1, 2], "size": [2, 2]}, "summing to"), ({"counts": 3, "size": [2, 2]}, "list or a string"),
     ({"counts": [4]}, "size"), ([[1, 2, 3]], "polygon"), ("x", "expected polygons"),
     ({"counts": "2\x7f", "size": [2, 2]}, "outside")],
)  # fmt: skip
def test_bad_segmentations_one_line(seg: object, words: str) -> None:
    with pytest.raises(ValueError, match=words) as info:
        decode_segmentation(seg, 2, 2, where="ann 7")
    assert str(info.value).startswith("ann 7") and "\n" not in str(info.value)
