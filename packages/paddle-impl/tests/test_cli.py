"""The ``enhancenet-paddle`` CLI: each verb end to end on a tiny synthetic set, and bad input.

Bad input must end with exit status 2 and a one-line message naming the file, field or box, never a traceback.
The argument sets, the broken data sets, the expected error words and the checks of the written files are
:mod:`enhancenet_runtime.testing`'s, shared with the other frameworks' CLI tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from enhancenet_paddle.cli import main
from enhancenet_runtime.testing import (
    assert_cli_error,
    assert_cli_eval_output,
    assert_help_lists_verbs,
    assert_pose_picture,
    bad_checkpoint_cases,
    bad_config_cases,
    bad_data_cases,
    bad_predict_cases,
    eval_argv,
    predict_argv,
    set_args,
    synth_argv,
    synth_image,
    train_argv,
)

PROG = "enhancenet-paddle"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synth"
    assert main(synth_argv(root, 10)) == 0
    return root


@pytest.fixture(scope="module")
def trained(synth_root: Path) -> Path:
    run = synth_root.parent / "run"
    assert main(train_argv(synth_root, run)) == 0
    return run / "checkpoint_last.pdckpt"


def _fail(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    return assert_cli_error(main(argv), capsys.readouterr().err, PROG, *words)


def test_synth_refuses_to_overwrite(synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (synth_root / "annotations" / "person_keypoints_train.json").is_file()
    _fail(capsys, synth_argv(synth_root, 2), "already exists")


def test_train_then_eval(trained: Path, synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert trained.is_file()
    capsys.readouterr()
    out = trained.parent / "eval_cli"
    assert main(eval_argv(trained, out, synth_root)) == 0
    assert_cli_eval_output(capsys.readouterr().out, out, trained, "paddle")


def test_bad_config_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in bad_config_cases(tmp_path):
        _fail(capsys, argv, *words)
    _fail(capsys, ["train", "synthetic_quick", "--device", "tpu", "--out", str(tmp_path)], "tpu")


def test_eval_refuses_another_architecture_and_bad_files(trained: Path, synth_root: Path, capsys) -> None:
    for argv, words in bad_checkpoint_cases(trained, synth_root):
        _fail(capsys, argv, *words)
    _fail(capsys, ["eval", "synthetic_quick", str(trained), "--device", "cpu", "--no-progress",
                   *set_args(synth_root, "model.base.depth=34")], "architecture", "depth=18", "depth=34")


def test_broken_data_sets(synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in bad_data_cases(synth_root, tmp_path):
        _fail(capsys, argv, *words)


def test_predict_picture_and_bad_boxes(trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pose.png"
    boxes = ["4,4,40,56", "10,0,30,30"]
    assert main(predict_argv(trained, synth_image(synth_root), boxes, out, synth_root)) == 0
    assert_pose_picture(out, num_boxes=len(boxes))
    for argv, words in bad_predict_cases(trained, synth_root, tmp_path / "none.jpg"):
        _fail(capsys, argv, *words)


@pytest.mark.parametrize("fmt", ["paddle", "onnx"])
def test_export(trained: Path, synth_root: Path, tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("paddle2onnx", reason="ONNX export needs paddle2onnx (the export extra)")
        pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime (the export extra)")
    out = tmp_path / ("model.onnx" if fmt == "onnx" else "model")
    assert main(["export", "synthetic_quick", str(trained), str(out), "--format", fmt, *set_args(synth_root)]) == 0
    if fmt == "onnx":
        assert out.is_file() and "DepthToSpace" in out.read_bytes().decode("latin-1")
    else:
        assert (tmp_path / "model.json").is_file() and (tmp_path / "model.pdiparams").is_file()


def test_console_script_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "enhancenet_paddle.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert_help_lists_verbs(proc.stdout)


def test_predict_refuses_bad_images_and_boxes_before_loading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2
    import numpy as np

    from enhancenet_runtime.testing_inputs import bad_image_cases

    image = tmp_path / "person.png"
    image.write_bytes(cv2.imencode(".png", np.full((64, 48, 3), 90, np.uint8))[1].tobytes())
    for argv, words, untouched in bad_image_cases(tmp_path / "bad", image):
        before = {p: p.read_bytes() for p in untouched}
        _fail(capsys, argv, *words)
        assert {p: p.read_bytes() for p in untouched} == before


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith(f"{PROG} 0.")
