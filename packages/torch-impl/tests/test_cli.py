"""The ``enhancenet-torch`` CLI: each sub-command end to end on a tiny synthetic set, and bad input.

Bad input must end with exit status 2 and a one-line message naming the file, field or box, never a traceback
from deep inside.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enhancenet_torch.cli import main

TINY = [
    "model.input_size=[64,64]", "model.base.deconv_channels=16", "model.head.channels=16",
    "train.batch_size=4", "train.epochs=1", "test.batch_size=8", "test.use_gt_bbox=true",
]  # fmt: skip


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synth"
    assert main(["synth", str(root), "--num-images", "10", "--width", "64", "--height", "64", "--no-progress"]) == 0
    return root


@pytest.fixture(scope="module")
def trained(synth_root: Path) -> Path:
    run = synth_root.parent / "run"
    code = main(["train", "synthetic_quick", "--out", str(run), "--set", f"data.root={synth_root}",
                 *[a for s in TINY for a in ("--set", s)], "--max-steps", "1", "--no-progress", "--device", "cpu"])
    assert code == 0
    return run / "checkpoint_last.pt"


def _sets(root: Path, *extra: str) -> list[str]:
    return [a for s in (f"data.root={root}", *TINY, *extra) for a in ("--set", s)]


def _fail(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("enhancenet-torch ") and "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def test_synth_refuses_to_overwrite(synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (synth_root / "annotations" / "person_keypoints_train.json").is_file()
    _fail(capsys, ["synth", str(synth_root), "--num-images", "2", "--no-progress"], "already exists")


def test_train_then_eval(trained: Path, synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert trained.is_file()
    out = trained.parent / "eval_cli"
    assert main(["eval", "synthetic_quick", str(trained), "--out", str(out), "--device", "cpu", "--no-progress",
                 *_sets(synth_root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed["metric_name"] == saved["metric_name"] == "AP"
    assert 0.0 <= saved["metric"] <= 1.0 and saved["checkpoint"] == str(trained)


def test_bad_config_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fail(capsys, ["train", str(tmp_path / "nope.yaml")], "nope.yaml", "not found")
    _fail(capsys, ["train", "synthetic_quick", "--set", "model.head.upscale=0", "--out", str(tmp_path)], "upscale")
    _fail(capsys, ["train", "synthetic_quick", "--set", "train.no_such_field=1", "--out", str(tmp_path)],
          "no_such_field")


def test_eval_refuses_another_architecture(trained: Path, synth_root: Path, capsys) -> None:
    err = _fail(capsys, ["eval", "synthetic_quick", str(trained), "--device", "cpu", "--no-progress",
                         *_sets(synth_root, "model.head.enabled=false")], "architecture")
    assert "simple_baseline" in err and "enhancenet" in err
    _fail(capsys, ["eval", "synthetic_quick", str(trained.parent / "missing.pt"), *_sets(synth_root)],
          "missing.pt", "not found")
    bogus = trained.parent / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    _fail(capsys, ["eval", "synthetic_quick", str(bogus), *_sets(synth_root)], "bogus.pt")


def test_missing_image_files(synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "broken"
    shutil.copytree(synth_root / "annotations", root / "annotations")
    (root / "images" / "train").mkdir(parents=True)  # the annotation file lists images that are not there
    _fail(capsys, ["train", "synthetic_quick", "--out", str(tmp_path / "run"), "--no-progress", *_sets(root)],
          "image file", "not found")


def test_annotations_without_keypoints(synth_root: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "nokp"
    shutil.copytree(synth_root, root)
    ann_file = root / "annotations" / "person_keypoints_train.json"
    coco = json.loads(ann_file.read_text())
    for ann in coco["annotations"]:
        ann["keypoints"] = [0] * len(ann["keypoints"])
        ann["num_keypoints"] = 0
    ann_file.write_text(json.dumps(coco))
    _fail(capsys, ["train", "synthetic_quick", "--out", str(tmp_path / "run"), "--no-progress", *_sets(root)],
          "train_set", "no usable person instance", "no_keypoints")


def test_predict_picture_and_bad_boxes(trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    image = next((synth_root / "images" / "val").iterdir())
    out = tmp_path / "pose.png"
    assert main(["predict", "synthetic_quick", str(trained), str(image), "--boxes", "4,4,40,56", "10,0,30,30",
                 "--out", str(out), "--device", "cpu", *_sets(synth_root)]) == 0
    assert out.stat().st_size > 1000 and out.read_bytes()[:4] == b"\x89PNG"
    kps = json.loads(out.with_suffix(".json").read_text())
    assert len(kps["keypoints_hr"]) == 2 and len(kps["keypoints_hr"][0]) == 17
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(tmp_path / "none.jpg"), "--boxes", "0,0,5,5",
                   *_sets(synth_root)], "none.jpg", "not found")
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(image), "--boxes", "500,500,20,20",
                   *_sets(synth_root)], "outside the image", "64x64")
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(image), "--boxes", "1,2,3",
                   *_sets(synth_root)], "x,y,w,h")
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(image), "--boxes", "1,2,0,5",
                   *_sets(synth_root)], "positive")


def test_export_onnx(trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime", reason="export check needs onnxruntime (the export extra)")
    out = tmp_path / "model.onnx"
    assert main(["export", "synthetic_quick", str(trained), str(out), "--format", "onnx", *_sets(synth_root)]) == 0
    assert out.is_file() and "DepthToSpace" in out.read_bytes().decode("latin-1")
    with pytest.raises(SystemExit) as info:  # torch exports ONNX only: argparse refuses other formats
        main(["export", "synthetic_quick", str(trained), str(out), "--format", "paddle"])
    assert info.value.code == 2
    assert "invalid choice: 'paddle'" in capsys.readouterr().err


def test_console_script_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "enhancenet_torch.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    for cmd in ("train", "eval", "predict", "export", "synth"):
        assert cmd in proc.stdout
