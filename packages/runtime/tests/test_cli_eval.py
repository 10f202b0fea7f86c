"""eval-coco / eval-mpii through an argparse parser built here with ``cli_eval.register``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from enhancenet_runtime import cli_eval


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="enhancenet-spec")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_eval.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def coco_files(coco_sample_dir, tmp_path):
    gt_path = coco_sample_dir / "test_coco.json"
    gt = json.loads(gt_path.read_text())
    rng = np.random.default_rng(0)
    res = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(17, 3)
        kp[:, :2] += rng.normal(0, 4, (17, 2))
        res.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": kp.ravel().tolist(),
                "score": float(rng.random()),
            }
        )
    res_path = tmp_path / "results.json"
    res_path.write_text(json.dumps(res))
    return gt_path, res_path


def test_eval_coco_table_and_json(coco_files, capsys):
    gt, res = coco_files
    assert run(["eval-coco", str(gt), str(res)]) == 0
    out = capsys.readouterr().out
    assert out.count("Average Precision  (AP) @[ IoU=") == 5
    assert "area=medium | maxDets= 20 ] = " in out
    assert run(["eval-coco", str(gt), str(res), "--json", "--backend", "both"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"ours", "pycocotools", "max_abs_diff"}
    assert data["max_abs_diff"] <= 1e-9
    assert 0 < data["ours"]["AP"] < 1
    assert data["ours"]["AP"] == pytest.approx(data["pycocotools"]["AP"], abs=1e-9)


def test_eval_coco_side_by_side(coco_files, capsys):
    gt, res = coco_files
    assert run(["eval-coco", str(gt), str(res), "--backend", "both", "--sigmas", "coco"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "pycocotools" in out and "max |ours - pycocotools|" in out


def test_eval_coco_bad_input_returns_2(coco_files, tmp_path, capsys):
    gt, _ = coco_files
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert run(["eval-coco", str(gt), str(empty)]) == 2
    assert "empty" in capsys.readouterr().err
    assert run(["eval-coco", str(gt), str(empty), "--sigmas", "0.1", "0.2"]) == 2
    assert run(["eval-coco", str(gt), str(tmp_path / "missing.json")]) == 2
    assert "not found" in capsys.readouterr().err


def test_eval_mpii(mpii_sample_dir, tmp_path, capsys):
    gt_path = mpii_sample_dir / "test_mpii.json"
    gt = np.array([e["joints"] for e in json.loads(gt_path.read_text())], dtype=float)
    preds = tmp_path / "preds.npy"
    np.save(preds, gt + 3.0)
    assert run(["eval-mpii", str(gt_path), str(preds)]) == 2
    assert "no head boxes" in capsys.readouterr().err
    sizes = tmp_path / "heads.npy"
    np.save(sizes, np.full(len(gt), 60.0))  # error 3*sqrt(2)/60 = 0.0707: correct at 0.1 and 0.5
    assert run(["eval-mpii", str(gt_path), str(preds), "--head-sizes", str(sizes)]) == 0
    out = capsys.readouterr().out
    assert "| Head | Sho | Elb | Wri | Hip | Knee | Ank | Mean |" in out
    assert "| 0.1 | 100.00 |" in out and "pckh_legacy_hrnet_0.1" in out
    assert (
        run(
            [
                "eval-mpii",
                str(gt_path),
                str(preds),
                "--head-sizes",
                str(sizes),
                "--json",
                "--coordinate-base",
                "zero_based_predictions",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["pckh@0.5"] == 100.0 and "pckh_legacy_hrnet_0.1" in data
    boxes = tmp_path / "boxes.npy"
    np.save(boxes, np.tile(np.array([[0.0, 0.0], [3.0, 4.0]]), (len(gt), 1, 1)))  # head size 3: all wrong
    assert run(["eval-mpii", str(gt_path), str(preds), "--head-boxes", str(boxes), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pckh@0.5"] == 0.0


def _one_line_error(capsys, *words: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("backend", ["ours", "pycocotools", "both"])
def test_eval_coco_refuses_bad_ground_truth_in_one_line(coco_files, tmp_path, capsys, backend):
    gt_path, res = coco_files
    cases = {
        "nan_keypoint.json": lambda g: g["annotations"][1]["keypoints"].__setitem__(0, float("nan")),
        "dup_id.json": lambda g: g["annotations"][1].__setitem__("id", g["annotations"][0]["id"]),
        "zero_area.json": lambda g: g["annotations"][1].__setitem__("area", 0),
        "unknown_image.json": lambda g: g["annotations"][1].__setitem__("image_id", -5),
    }
    for name, mutate in cases.items():
        bad = json.loads(gt_path.read_text())
        mutate(bad)
        path = tmp_path / name
        path.write_text(json.dumps(bad))
        assert run(["eval-coco", str(path), str(res), "--backend", backend]) == 2
        _one_line_error(capsys, str(path), "annotation #1", "'")


def test_eval_unreadable_files_in_one_line(coco_files, mpii_sample_dir, tmp_path, capsys):
    gt_path, res = coco_files
    trunc = tmp_path / "trunc.json"
    trunc.write_text(gt_path.read_text()[:300])
    assert run(["eval-coco", str(trunc), str(res)]) == 2
    _one_line_error(capsys, str(trunc), "not valid JSON")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\x00\xff\xfe garbage")
    assert run(["eval-coco", str(gt_path), str(binary)]) == 2
    _one_line_error(capsys, str(binary), "UTF-8")
    mpii = mpii_sample_dir / "test_mpii.json"
    mtrunc = tmp_path / "mpii.json"
    mtrunc.write_text(mpii.read_text()[:100])
    sizes = tmp_path / "s.npy"
    np.save(sizes, np.full(5, 60.0))
    assert run(["eval-mpii", str(mtrunc), str(sizes), "--head-sizes", str(sizes)]) == 2
    _one_line_error(capsys, str(mtrunc))
    preds = tmp_path / "p.npy"
    p = np.array([e["joints"] for e in json.loads(mpii.read_text())], dtype=float)
    p[0, 3, 0] = np.nan
    np.save(preds, p)
    assert run(["eval-mpii", str(mpii), str(preds), "--head-sizes", str(sizes)]) == 2
    _one_line_error(capsys, str(preds), "person 0 joint 3", "not finite")
