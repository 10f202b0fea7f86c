"""The ``enhancenet-paddle`` CLI: the shared suite (:mod:`enhancenet_runtime.suites.cli`) with Paddle's binding
(conftest.py), and Paddle's export formats (Paddle inference model, ONNX)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_paddle.cli import main
from enhancenet_runtime.suites.cli import CliSuite, set_args


class TestCli(CliSuite):
    """synth, train, eval, predict and bad input; exit 2 with one line."""

    @pytest.mark.parametrize("fmt", ["paddle", "onnx"])
    def test_export(self, trained: Path, synth_root: Path, tmp_path: Path, fmt: str) -> None:
        if fmt == "onnx":
            pytest.importorskip("paddle2onnx", reason="ONNX export needs paddle2onnx (the export extra)")
            pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime (the export extra)")
        out = tmp_path / ("model.onnx" if fmt == "onnx" else "model")
        assert main(["export", "synthetic_quick", str(trained), str(out), "--format", fmt,
                     *set_args(synth_root)]) == 0
        if fmt == "onnx":
            assert out.is_file() and "DepthToSpace" in out.read_bytes().decode("latin-1")
        else:
            assert (tmp_path / "model.json").is_file() and (tmp_path / "model.pdiparams").is_file()
