"""The ``enhancenet-torch`` CLI: the shared suite (:mod:`enhancenet_runtime.suites.cli`) with PyTorch's binding
(conftest.py), and the export format only torch has here (ONNX only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_runtime.suites.cli import CliSuite, set_args
from enhancenet_torch.cli import main


class TestCli(CliSuite):
    """synth, train, eval, predict and bad input; exit 2 with one line."""

    def test_export_onnx(self, trained: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
        pytest.importorskip("onnxruntime", reason="export check needs onnxruntime (the export extra)")
        out = tmp_path / "model.onnx"
        assert main(["export", "synthetic_quick", str(trained), str(out), "--format", "onnx",
                     *set_args(synth_root)]) == 0
        assert out.is_file() and "DepthToSpace" in out.read_bytes().decode("latin-1")
        with pytest.raises(SystemExit) as info:  # torch exports ONNX only: argparse refuses other formats
            main(["export", "synthetic_quick", str(trained), str(out), "--format", "paddle"])
        assert info.value.code == 2
        assert "invalid choice: 'paddle'" in capsys.readouterr().err
