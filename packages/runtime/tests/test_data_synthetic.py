"""Synthetic COCO generator: determinism (byte-identical), COCO validity, readable by our readers, atomicity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import Config, DataConfig
from enhancenet_core.config import TestConfig as EvalConfig
from enhancenet_runtime.data.coco import load_coco_det_records, load_coco_gt_records
from enhancenet_runtime.data.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from enhancenet_runtime.data.pipeline import PoseDataset, load_records
from enhancenet_runtime.data.synthetic import MARKER_NAME, generate_synthetic_coco, main

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
    from enhancenet_runtime.data.synthetic import _draw_image

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
    s = ds.collate([ds[0]])
    assert s["image"].shape == (1, 3, 256, 192) and s["target_hr"].shape == (1, 17, 256, 192)
    assert len(load_records(cfg, train=False)) > 0


def test_overwrite_atomic_and_errors(synth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ds"
    generate_synthetic_coco(out, 3, seed=1, **KW)
    before = _digest(out)
    with pytest.raises(FileExistsError, match="already exists"):
        generate_synthetic_coco(out, 3, seed=2, **KW)
    # A failure half-way leaves the old data set untouched and no temporary directory behind.
    import enhancenet_runtime.data.synthetic as mod

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


def test_overwrite_deletes_only_a_data_set_it_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``overwrite`` replaces a directory only when it carries the marker the generator writes; anything else
    (a directory of someone's files, a file, a link to a marked set) is refused and left as it was."""
    ours = tmp_path / "ours"
    generate_synthetic_coco(ours, 2, seed=0, **KW)
    assert json.loads((ours / MARKER_NAME).read_text())["seed"] == 0
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(ours, target_is_directory=True)
    for target in (theirs, a_file, link):
        with pytest.raises(FileExistsError, match=rf"{target.name} exists and is not a synthetic data set"):
            generate_synthetic_coco(target, 2, seed=1, overwrite=True, **KW)
    assert (theirs / "thesis.tex").read_text() == "years of work" and a_file.read_text() == "mine"
    assert link.is_symlink() and (ours / MARKER_NAME).is_file()
    with pytest.raises(SystemExit) as info:  # the CLI: exit status 2, one line naming the directory
        main([str(theirs), "--num-images", "2", "--overwrite", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert info.value.code == 2 and "theirs exists and is not a synthetic data set" in err
    # the work directories a killed run left beside the target (marked) go; an unmarked look-alike stays
    stale, foreign = tmp_path / ".ours.tmp-k1ll3d", tmp_path / ".ours.tmp-foreign"
    stale.mkdir()
    (stale / MARKER_NAME).write_text("{}")
    foreign.mkdir()
    generate_synthetic_coco(ours, 2, seed=1, overwrite=True, **KW)
    assert not stale.exists() and foreign.is_dir()
    assert json.loads((ours / MARKER_NAME).read_text())["seed"] == 1


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "cli"), "--num-images", "4", "--seed", "3", "--width", "160", "--height", "128",
                 "--no-progress", "--format", "jpg"]) == 0  # fmt: skip
    assert "train: 3 images" in capsys.readouterr().out
    assert len(list((tmp_path / "cli" / "images" / "train").glob("*.jpg"))) == 3
    with pytest.raises(SystemExit):
        main([str(tmp_path / "cli"), "--num-images", "4"])  # exists


# --- area: OKS behaves as on COCO ------------------------------------------------------------------------


def _labelled_people(path: Path) -> list[dict]:
    return [a for a in json.loads(path.read_text())["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]


def _area_box_ratio(anns: list[dict]) -> np.ndarray:
    return np.array([a["area"] / (a["bbox"][2] * a["bbox"][3]) for a in anns])


def test_area_to_box_ratio_is_coco_like(synth, coco_sample_dir: Path) -> None:
    # COCO's area is the segmentation area of a real body; measured on the real sample, not assumed.
    coco_ratio = _area_box_ratio(_labelled_people(coco_sample_dir / "test_coco.json"))
    assert coco_ratio.size >= 10 and 0.3 < coco_ratio.mean() < 0.6  # the sample is what we think it is
    anns = [a for s in ("train", "val") for a in _labelled_people(synth.annotation_files[s])]
    ratio = _area_box_ratio(anns)
    assert ratio.size >= 30
    assert np.all((ratio > 0.15) & (ratio <= 1.0))  # area counts pixels inside the box only
    assert 0.35 <= ratio.mean() <= 0.7  # the drawn stick figure alone gives ~0.31
    assert abs(ratio.mean() / coco_ratio.mean() - 1.0) < 0.2


def test_area_covers_the_drawn_figure() -> None:
    # The body silhouette contains the drawing (it only adds thickness) and stays inside the box.
    from enhancenet_runtime.data.synthetic import _draw_image

    gain = []
    for i in range(6):
        _, people = _draw_image(np.random.default_rng([5, i]), 160, 128, (1, 3), 0.3, 0.0)
        for p in people:
            drawn = np.count_nonzero(p["mask"])
            w, h = p["bbox"][2:]
            assert drawn <= p["area"] <= w * h
            gain.append(p["area"] / drawn)
    assert np.mean(gain) > 1.1


def test_ground_truth_as_predictions_gives_ap_1(synth) -> None:
    from enhancenet_core.metrics import evaluate_coco, evaluate_with_pycocotools

    gt_file = synth.annotation_files["train"]
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in _labelled_people(gt_file)]  # fmt: skip
    for stats in (evaluate_with_pycocotools(gt_file, results), evaluate_coco(gt_file, results)):
        assert stats["AP"] == pytest.approx(1.0, abs=1e-12)
        assert stats["AR"] == pytest.approx(1.0, abs=1e-12)


def test_small_pixel_error_gives_coco_like_oks(synth, coco_sample_dir: Path) -> None:
    # 2 px on every labelled keypoint of a ~100 px tall person, in a different direction per keypoint.
    from enhancenet_core.metrics import COCO_SIGMAS, oks_matrix

    coco_ratio = _area_box_ratio(_labelled_people(coco_sample_dir / "test_coco.json")).mean()
    anns = [a for s in ("train", "val") for a in _labelled_people(synth.annotation_files[s])
            if 80 <= a["bbox"][3] <= 125]  # fmt: skip
    assert len(anns) >= 5
    angle = np.arange(17) * 2.399963  # golden angle: spread directions
    shift = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    got, expect, coco_like = [], [], []
    for a in anns:
        gt = np.asarray(a["keypoints"], dtype=float).reshape(17, 3)
        lab = gt[:, 2] > 0
        pred = gt[:, :2] + shift
        oks = oks_matrix(pred[None], gt[None], np.array([a["area"]]), np.array([a["bbox"]]))[0, 0]
        # OKS = mean over labelled k of exp(-d² / (2 s² (2σ_k)²)), s² = area, d = 2 px
        var = (2 * COCO_SIGMAS[lab]) ** 2
        expect.append(np.mean(np.exp(-4.0 / (2 * a["area"] * var))))
        coco_area = coco_ratio * a["bbox"][2] * a["bbox"][3]  # a COCO person with the same box
        coco_like.append(np.mean(np.exp(-4.0 / (2 * coco_area * var))))
        got.append(oks)
    got = np.array(got)
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # A 2-px error on a ~100 px person is a small error on COCO (OKS ~0.85-0.9); the synthetic area agrees.
    assert np.all(got > 0.7) and got.mean() > 0.8
    assert abs(got.mean() - np.mean(coco_like)) < 0.02
