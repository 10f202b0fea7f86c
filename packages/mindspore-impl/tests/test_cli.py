"""The ``enhancenet-mindspore`` CLI end to end on a tiny synthetic set (synth, train, eval, predict, export), and
bad input: exit status 2 with one line naming the file, field or architecture, never a traceback.

The argument sets, the broken data sets, the expected error words and the checks of the written files are
:mod:`enhancenet_runtime.testing`'s, shared with the other frameworks' CLI tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enhancenet_mindspore.cli import main
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

PROG = "enhancenet-mindspore"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synth"
    assert main(synth_argv(root, 8)) == 0
    return root


@pytest.fixture(scope="module")
def trained(synth_root: Path) -> Path:
    run = synth_root.parent / "run"
    assert main(train_argv(synth_root, run)) == 0
    return run / "checkpoint_last.ckpt"


def _fail(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    return assert_cli_error(main(argv), capsys.readouterr().err, PROG, *words)


def test_synth_refuses_to_overwrite(synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (synth_root / "annotations" / "person_keypoints_train.json").is_file()
    _fail(capsys, synth_argv(synth_root, 2), "already exists")


def test_train_eval_predict_export(trained: Path, synth_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert trained.is_file()
    capsys.readouterr()
    out = trained.parent / "eval_cli"
    assert main(eval_argv(trained, out, synth_root)) == 0
    assert_cli_eval_output(capsys.readouterr().out, out, trained, "mindspore")

    picture = trained.parent / "pose.png"
    assert main(predict_argv(trained, synth_image(synth_root), ["4,4,40,56"], picture, synth_root)) == 0
    assert_pose_picture(picture, num_boxes=1)

    onnx_file = trained.parent / "model.onnx"
    capsys.readouterr()
    assert main(["export", "synthetic_quick", str(trained), str(onnx_file), "--format", "onnx",
                 *set_args(synth_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "ONNX" and onnx_file.is_file()
    for name, diff in report["max_abs_diff"].items():  # onnxruntime vs MindSpore on the same input
        assert diff <= 1e-4 * max(report["scale"][name], 1e-6), name


def test_bad_config_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in bad_config_cases(tmp_path):
        _fail(capsys, argv, *words)


def test_eval_refuses_another_architecture_and_bad_files(trained: Path, synth_root: Path, tmp_path: Path,
                                                          capsys) -> None:
    for argv, words in bad_checkpoint_cases(trained, synth_root):
        _fail(capsys, argv, *words)
    _fail(capsys, ["eval", "synthetic_quick", str(trained), "--no-progress",
                   *set_args(synth_root, "model.head.enabled=false")],
          "architecture", "model.head.enabled: checkpoint True, config False")  # fmt: skip
    _fail(capsys, ["export", "synthetic_quick", str(trained), str(tmp_path / "m.onnx"),
                   *set_args(synth_root, "model.head.channels=8")], "architecture", "model.head.channels: checkpoint 16, config 8")
    assert not (tmp_path / "m.onnx").exists()


def test_broken_data_sets(synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in bad_data_cases(synth_root, tmp_path):
        _fail(capsys, argv, *words)


def test_bad_predict_input(trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    for argv, words in bad_predict_cases(trained, synth_root, tmp_path / "nope.jpg"):
        _fail(capsys, argv, *words)


def test_console_script_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "enhancenet_mindspore.cli", "--help"], capture_output=True,
                          text=True, timeout=120)
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
