"""The ``enhancenet-mindspore`` CLI: the shared suite (:mod:`enhancenet_runtime.suites.cli`) with MindSpore's
binding (conftest.py), and the ONNX export with its onnxruntime-vs-MindSpore report."""

from __future__ import annotations

import json
from pathlib import Path

from enhancenet_mindspore.cli import main
from enhancenet_runtime.suites.cli import CliSuite, set_args


class TestCli(CliSuite):
    """synth, train, eval, predict and bad input; exit 2 with one line."""

    def test_export_onnx(self, trained: Path, synth_root: Path, capsys) -> None:
        onnx_file = trained.parent / "model.onnx"
        capsys.readouterr()
        assert main(["export", "synthetic_quick", str(trained), str(onnx_file), "--format", "onnx",
                     *set_args(synth_root)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["format"] == "ONNX" and onnx_file.is_file()
        for name, diff in report["max_abs_diff"].items():  # onnxruntime vs MindSpore on the same input
            assert diff <= 1e-4 * max(report["scale"][name], 1e-6), name
