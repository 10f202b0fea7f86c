"""The ``enhancenet-mindspore`` CLI end to end on a tiny synthetic set (synth, train, eval, predict, export), and
bad input: exit status 2 with one line naming the file, field or architecture, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_mindspore.cli import main

TINY = [
    "model.input_size=[64,64]", "model.base.deconv_channels=16", "model.head.channels=16",
    "train.batch_size=4", "train.epochs=1", "test.batch_size=8", "test.use_gt_bbox=true",
]  # fmt: skip


def _sets(root: Path, *extra: str) -> list[str]:
    return [a for s in (f"data.root={root}", *TINY, *extra) for a in ("--set", s)]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synth"
    assert main(["synth", str(root), "--num-images", "8", "--width", "64", "--height", "64", "--no-progress"]) == 0
    return root


@pytest.fixture(scope="module")
def trained(synth_root: Path) -> Path:
    run = synth_root.parent / "run"
    code = main(["train", "synthetic_quick", "--out", str(run), *_sets(synth_root), "--max-steps", "1",
                 "--no-progress", "--device", "cpu"])
    assert code == 0
    return run / "checkpoint_last.ckpt"


def _fail(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("enhancenet-mindspore ") and "Traceback" not in err and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    return err


def test_train_eval_predict_export(trained: Path, synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert trained.is_file()
    capsys.readouterr()
    out = trained.parent / "eval_cli"
    assert main(["eval", "synthetic_quick", str(trained), "--out", str(out), "--device", "cpu", "--no-progress",
                 *_sets(synth_root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed["metric_name"] == saved["metric_name"] == "AP" and saved["framework"] == "mindspore"
    assert 0.0 <= saved["metric"] <= 1.0 and saved["checkpoint"] == str(trained)

    image = sorted((synth_root / "images").rglob("*.png"))[0]
    picture = trained.parent / "pose.png"
    assert main(["predict", "synthetic_quick", str(trained), str(image), "--boxes", "4,4,40,56", "--out",
                 str(picture), "--device", "cpu", *_sets(synth_root)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keypoints = json.loads(picture.with_suffix(".json").read_text())
    assert np.asarray(keypoints["keypoints_hr"]).shape == np.asarray(keypoints["keypoints_lr"]).shape == (1, 17, 3)

    onnx_file = trained.parent / "model.onnx"
    capsys.readouterr()
    assert main(["export", "synthetic_quick", str(trained), str(onnx_file), "--format", "onnx",
                 *_sets(synth_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "ONNX" and onnx_file.is_file()
    for name, diff in report["max_abs_diff"].items():  # onnxruntime vs MindSpore on the same input
        assert diff <= 1e-4 * max(report["scale"][name], 1e-6), name


def test_bad_input_exits_2(trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    _fail(capsys, ["train", str(tmp_path / "nope.yaml")], "nope.yaml", "not found")
    _fail(capsys, ["train", "synthetic_quick", "--set", "model.head.upscale=0", "--out", str(tmp_path)], "upscale")
    _fail(capsys, ["eval", "synthetic_quick", str(tmp_path / "missing.ckpt"), *_sets(synth_root)], "missing.ckpt")
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(tmp_path / "nope.jpg"), "--boxes", "1,1,9,9",
                   *_sets(synth_root)], "nope.jpg", "not found")
    image = sorted((synth_root / "images").rglob("*.png"))[0]
    _fail(capsys, ["predict", "synthetic_quick", str(trained), str(image), "--boxes", "500,500,10,10",
                   *_sets(synth_root)], "outside the image")
    err = _fail(capsys, ["eval", "synthetic_quick", str(trained), "--no-progress", *_sets(synth_root,
                "model.head.enabled=false")], "architecture", "model.head.enabled: checkpoint True, config False")
    assert "simple_baseline" in err and "enhancenet" in err
    _fail(capsys, ["export", "synthetic_quick", str(trained), str(tmp_path / "m.onnx"),
                   *_sets(synth_root, "model.head.channels=8")], "architecture", "model.head.channels: checkpoint 16, config 8")
    assert not (tmp_path / "m.onnx").exists()
