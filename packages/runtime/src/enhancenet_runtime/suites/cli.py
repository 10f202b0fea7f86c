"""Every framework's command line (``enhancenet-<framework>``): each verb end to end on a tiny synthetic set, and
bad input.

Bad input must end with exit status 2 and a one-line message naming the file, field or box, never a traceback
from deep inside. The argument sets, the broken data sets, the expected error words and the checks of the written
files are :mod:`enhancenet_runtime.testing`'s; the export formats differ per framework and are tested beside the
framework's subclass of :class:`CliSuite`, which can use the ``synth_root`` and ``trained`` fixtures.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import pytest

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
from enhancenet_runtime.testing_inputs import bad_image_cases


class Binding(Protocol):
    """What :class:`CliSuite` needs from a framework."""

    #: the framework's name as its evaluation output writes it ("torch", "paddle", "mindspore")
    name: str
    #: the program name in error messages ("enhancenet-torch")
    cli_prog: str
    #: the module run by ``python -m`` ("enhancenet_torch.cli")
    cli_module: str
    #: the suffix of the framework's training checkpoints (".pt", ".pdckpt", ".ckpt")
    checkpoint_suffix: str
    #: images in the synthetic set the CLI tests train on (fewer where an epoch is slow)
    cli_synth_images: int
    #: the CLI entry point: ``cli_main(argv) -> exit status``
    cli_main: Callable[[Sequence[str]], int]
    #: override of the trained tiny model (SimpleBaseline-R18 + head C=16) -> what the refusal to load the
    #: checkpoint names besides "architecture" (each framework words it its way); must hold
    #: "model.base.depth=34", "model.head.enabled=false" and "model.head.channels=8"
    cli_architecture_words: dict[str, tuple[str, ...]]


class CliSuite:
    """The CLI tests, run by each framework with its ``binding`` fixture."""

    @pytest.fixture(scope="class")
    @classmethod
    def synth_root(cls, binding: Binding, tmp_path_factory: pytest.TempPathFactory) -> Path:
        root = tmp_path_factory.mktemp("cli") / "synth"
        assert binding.cli_main(synth_argv(root, binding.cli_synth_images)) == 0
        return root

    @pytest.fixture(scope="class")
    @classmethod
    def trained(cls, binding: Binding, synth_root: Path) -> Path:
        run = synth_root.parent / "run"
        assert binding.cli_main(train_argv(synth_root, run)) == 0
        return run / f"checkpoint_last{binding.checkpoint_suffix}"

    @staticmethod
    def fail(binding: Binding, capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
        """Run ``argv``: exit status 2 and one line on stderr naming the program and each of ``words``."""
        return assert_cli_error(binding.cli_main(argv), capsys.readouterr().err, binding.cli_prog, *words)

    def test_synth_refuses_to_overwrite(self, binding: Binding, synth_root: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
        assert (synth_root / "annotations" / "person_keypoints_train.json").is_file()
        self.fail(binding, capsys, synth_argv(synth_root, 2), "already exists")

    def test_train_then_eval(self, binding: Binding, trained: Path, synth_root: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
        assert trained.is_file()
        capsys.readouterr()
        out = trained.parent / "eval_cli"
        assert binding.cli_main(eval_argv(trained, out, synth_root)) == 0
        saved = assert_cli_eval_output(capsys.readouterr().out, out, trained, binding.name)
        assert "coco_pycocotools" not in saved["metrics"]  # our evaluator alone by default

    def test_eval_check_pycocotools(self, binding: Binding, trained: Path, synth_root: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
        """``--check-pycocotools`` (the field ``test.check_pycocotools``) runs pycocotools beside our evaluator:
        both sets of numbers are saved and agree."""
        capsys.readouterr()
        out = trained.parent / "eval_cli_checked"
        assert binding.cli_main([*eval_argv(trained, out, synth_root), "--check-pycocotools"]) == 0
        saved = assert_cli_eval_output(capsys.readouterr().out, out, trained, binding.name)
        assert saved["config"]["test"]["check_pycocotools"] is True
        assert saved["metrics"]["coco_pycocotools"]["AP"] == pytest.approx(saved["metric"], abs=1e-9)
        assert saved["metrics"]["coco_max_abs_diff"] <= 1e-9

    def test_bad_config_and_overrides(self, binding: Binding, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
        for argv, words in bad_config_cases(tmp_path):
            self.fail(binding, capsys, argv, *words)
        self.fail(binding, capsys, ["train", "synthetic_quick", "--device", "tpu", "--out", str(tmp_path)], "tpu")

    def test_eval_refuses_another_architecture_and_bad_files(self, binding: Binding, trained: Path,
                                                             synth_root: Path, tmp_path: Path, capsys) -> None:
        for argv, words in bad_checkpoint_cases(trained, synth_root):
            self.fail(binding, capsys, argv, *words)
        for override, words in binding.cli_architecture_words.items():
            self.fail(binding, capsys, ["eval", "synthetic_quick", str(trained), "--device", "cpu", "--no-progress",
                                        *set_args(synth_root, override)], "architecture", *words)
        words = binding.cli_architecture_words["model.head.channels=8"]
        self.fail(binding, capsys, ["export", "synthetic_quick", str(trained), str(tmp_path / "m.onnx"),
                                    *set_args(synth_root, "model.head.channels=8")], "architecture", *words)
        assert not (tmp_path / "m.onnx").exists()

    def test_broken_data_sets(self, binding: Binding, synth_root: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
        for argv, words in bad_data_cases(synth_root, tmp_path):
            self.fail(binding, capsys, argv, *words)

    def test_predict_picture_and_bad_boxes(self, binding: Binding, trained: Path, synth_root: Path, tmp_path: Path,
                                           capsys) -> None:
        out = tmp_path / "pose.png"
        boxes = ["4,4,40,56", "10,0,30,30"]
        assert binding.cli_main(predict_argv(trained, synth_image(synth_root), boxes, out, synth_root)) == 0
        assert_pose_picture(out, num_boxes=len(boxes))
        for argv, words in bad_predict_cases(trained, synth_root, tmp_path / "none.jpg"):
            self.fail(binding, capsys, argv, *words)

    def test_predict_refuses_bad_images_and_boxes_before_loading(self, binding: Binding, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
        image = tmp_path / "person.png"
        image.write_bytes(cv2.imencode(".png", np.full((64, 48, 3), 90, np.uint8))[1].tobytes())
        for argv, words, untouched in bad_image_cases(tmp_path / "bad", image):
            before = {p: p.read_bytes() for p in untouched}
            self.fail(binding, capsys, argv, *words)
            assert {p: p.read_bytes() for p in untouched} == before

    def test_version(self, binding: Binding, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            binding.cli_main(["--version"])
        assert info.value.code == 0 and capsys.readouterr().out.startswith(f"{binding.cli_prog} 0.")

    def test_console_script_help(self, binding: Binding) -> None:
        proc = subprocess.run([sys.executable, "-m", binding.cli_module, "--help"], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0
        assert_help_lists_verbs(proc.stdout)


__all__ = ["Binding", "CliSuite", "set_args"]
