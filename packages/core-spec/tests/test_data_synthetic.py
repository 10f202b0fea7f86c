"""Synthetic COCO generator: determinism (byte-identical), COCO validity, readable by our readers, atomicity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import Config, DataConfig
from enhancenet_core.config import TestConfig as EvalConfig
from enhancenet_core.data.coco import load_coco_det_records, load_coco_gt_records
from enhancenet_core.data.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from enhancenet_core.data.pipeline import PoseDataset, load_records
from enhancenet_core.data.synthetic import generate_synthetic_coco, main

N = 24
KW = {"image_size": (160, 128), "progress": False}


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    return generate_synthetic_coco(tmp_path_factory.mktemp("synth") / "ds", N, seed=3, **KW)


def test_deterministic_bytes(synth, tmp_path: Path) -> None:
    again = generate_synthetic_coco(tmp_path / "again", N, seed=3, **KW)
    assert _digest(again.root) == _digest(synth.root)
    other = generate_synthetic_coco(tmp_path / "other", N, seed=4, **KW)
    d_other = _digest(other.root)
    assert d_other.keys() == _digest(synth.root).keys()
    assert d_other["images/train/000000000001.png"] != _digest(synth.root)["images/train/000000000001.png"]


def test_layout_and_splits(synth) -> None:
    assert synth.num_images == {"train": 19, "val": 5}  # round(24 * 0.2) = 5 in val
    assert len(list(synth.image_dirs["train"].glob("*.png"))) == 19
    assert all(p.is_file() for p in (*synth.annotation_files.values(), *synth.detection_files.values()))
    assert not [p for p in synth.root.parent.iterdir() if p.name.startswith(".ds.tmp-")]  # temp dir renamed


def test_coco_valid(synth) -> None:
    from pycocotools.coco import COCO

    for split in ("train", "val"):
        data = json.loads(synth.annotation_files[split].read_text())
        cat = data["categories"][0]
        assert cat["name"] == "person" and cat["id"] == 1
        assert tuple(cat["keypoints"]) == COCO_KEYPOINT_NAMES
        assert [tuple(s) for s in cat["skeleton"]] == list(COCO_SKELETON)
        coco = COCO(str(synth.annotation_files[split]))
        assert len(coco.getImgIds()) == synth.num_images[split]
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) == synth.num_people[split] >= synth.num_images[split]
        sizes = {i["id"]: (i["width"], i["height"]) for i in data["images"]}
        for ann in anns:
            k = np.asarray(ann["keypoints"], dtype=float).reshape(17, 3)
            v = k[:, 2]
            w, h = sizes[ann["image_id"]]
            assert set(np.unique(v)) <= {0, 1, 2}
            assert ann["num_keypoints"] == np.count_nonzero(v)
            lab = v > 0
            assert np.all((k[lab, 0] >= 0) & (k[lab, 0] <= w - 1) & (k[lab, 1] >= 0) & (k[lab, 1] <= h - 1))
            assert np.all(k[~lab, :2] == 0)
            x, y, bw, bh = ann["bbox"]
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and ann["area"] > 0
            # labelled keypoints lie on or near the drawn figure's box (joint circles/limb widths give margin)
            assert np.all((k[lab, 0] >= x - 1) & (k[lab, 0] <= x + bw) & (k[lab, 1] >= y - 1) & (k[lab, 1] <= y + bh))
        # the detector file loads as COCO results
        dets = coco.loadRes(str(synth.detection_files[split]))
        assert len(dets.getAnnIds()) >= len(anns) // 2


def test_visibility_mix_and_subpixel(synth) -> None:
    anns = json.loads(synth.annotation_files["train"].read_text())["annotations"]
    k = np.asarray([a["keypoints"] for a in anns], dtype=float).reshape(-1, 17, 3)
    v = k[..., 2]
    assert (v == 2).mean() > 0.5 and (v == 1).sum() > 0 and (v == 0).sum() > 0
    xy = k[..., :2][v > 0]
    frac = xy - np.floor(xy)
    assert np.mean(frac != 0) > 0.8  # sub-pixel positions
    assert np.all(xy * 16 == np.round(xy * 16))  # on the 1/16-px grid the figures are drawn on


def test_figure_drawn_at_keypoints() -> None:
    # Every labelled keypoint lies on its own figure's drawn pixels (limb ends, torso, head ellipse).
    from enhancenet_core.data.synthetic import _draw_image

    n_checked = 0
    for i in range(8):
        img, people = _draw_image(np.random.default_rng([0, i]), 160, 128, (1, 3), 0.3, 0.0)
        assert img.shape == (128, 160, 3) and img.dtype == np.uint8
        for p in people:
            k = p["keypoints"]
            lab = k[:, 2] > 0
            px = np.round(k[lab, :2]).astype(int)
            assert np.all(p["mask"][px[:, 1], px[:, 0]] > 0)
            n_checked += int(lab.sum())
    assert n_checked > 100


def test_readers_and_pipeline(synth) -> None:
    gt = load_coco_gt_records(synth.annotation_files["train"], synth.image_dirs["train"], (96, 128))
    empty = sum(1 for a in json.loads(synth.annotation_files["train"].read_text())["annotations"]
                if a["num_keypoints"] == 0)  # fmt: skip
    assert len(gt) + gt.skipped.get("no_keypoints", 0) == synth.num_people["train"]
    assert gt.skipped.get("no_keypoints", 0) == empty
    det = load_coco_det_records(synth.detection_files["val"], synth.annotation_files["val"],
                                synth.image_dirs["val"], (96, 128), image_thre=0.5)  # fmt: skip
    assert all(r.score >= 0.5 for r in det.records)
    cfg = Config(
        data=DataConfig(dataset="synthetic", root=str(synth.root), train_set="train", test_set="val"),
        test=EvalConfig(bbox_file=str(synth.detection_files["val"])),
    )
    ds = PoseDataset(load_records(cfg, train=True), cfg, train=True)
    s = ds[0]
    assert s["image"].shape == (3, 256, 192) and s["target_hr"].shape == (17, 256, 192)
    assert len(load_records(cfg, train=False)) > 0


def test_overwrite_atomic_and_errors(synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ds"
    generate_synthetic_coco(out, 3, seed=1, **KW)
    before = _digest(out)
    with pytest.raises(FileExistsError, match="already exists"):
        generate_synthetic_coco(out, 3, seed=2, **KW)
    # A failure half-way leaves the old data set untouched and no temporary directory behind.
    import enhancenet_core.data.synthetic as mod

    calls = {"n": 0}
    real = mod.cv2.imencode

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(mod.cv2, "imencode", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_synthetic_coco(out, 3, seed=2, overwrite=True, **KW)
    monkeypatch.undo()
    assert _digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    generate_synthetic_coco(out, 3, seed=2, overwrite=True, **KW)
    assert _digest(out) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    for bad in ({"num_images": 0}, {"seed": -1}, {"image_size": (10, 10)}, {"people_per_image": (2, 1)},
                {"image_format": "gif"}, {"val_fraction": 1.5}):  # fmt: skip
        args = {"num_images": 2, "seed": 0, **KW, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            generate_synthetic_coco(tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "cli"), "--num-images", "4", "--seed", "3", "--width", "160", "--height", "128",
                 "--no-progress", "--format", "jpg"]) == 0  # fmt: skip
    assert "train: 3 images" in capsys.readouterr().out
    assert len(list((tmp_path / "cli" / "images" / "train").glob("*.jpg"))) == 3
    with pytest.raises(SystemExit):
        main([str(tmp_path / "cli"), "--num-images", "4"])  # exists
