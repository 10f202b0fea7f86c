"""MINDIR and ONNX export round trips: the exported graph reproduces the MindSpore model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _helpers import model_with_reference_weights

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder, Upsampler
from enhancenet_mindspore.export import export_mindir, export_onnx
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import model_tensors

BASE = BaseModelConfig(depth=18, deconv_channels=32, num_deconv_layers=2, deconv_kernel=3)


def _cfg(head: EnhanceNetConfig) -> ModelConfig:
    return ModelConfig(base=BASE, head=head, input_size=(32, 32), heatmap_stride=8)


def _check(report, rel: float = 1e-5) -> None:
    assert report.max_abs_diff, "not verified"
    for name, diff in report.max_abs_diff.items():
        assert report.scale[name] > 1e-2, f"{name}: the outputs are too small for the check to mean anything"
        assert diff <= rel * report.scale[name], f"{name}: {diff} > {rel} x {report.scale[name]}"


def test_onnx_and_mindir_paper_order_subpixel(tmp_path: Path) -> None:
    cfg = _cfg(EnhanceNetConfig(channels=16, upscale=4, shuffle_order=ShuffleOrder.PAPER))
    model, _ = model_with_reference_weights(cfg)
    before = model_tensors(model)
    onnx_report = export_onnx(model, tmp_path / "m.onnx", cfg.input_size, batch_size=2)
    _check(onnx_report)
    assert onnx_report.output_names == ["heatmaps_lr", "heatmaps_hr"]
    mindir_report = export_mindir(model, tmp_path / "m.mindir", cfg.input_size)
    _check(mindir_report)
    after = model_tensors(model)
    assert all((before[k] == after[k]).all() for k in before)  # the paper-order weights are restored exactly
    assert model.enhance.shuffle_order is ShuffleOrder.PAPER
    for f in ("m.onnx", "m.mindir"):
        assert os.access(tmp_path / f, os.W_OK)  # overwritable
    export_onnx(model, tmp_path / "m.onnx", cfg.input_size, verify=False)  # overwrite works
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mindir", "m.onnx"]


def test_onnx_deconv_head_with_zero_rows(tmp_path: Path) -> None:
    """kernel 3, r 4: padding 0, output padding 1 (the rows MindSpore's exporter gets wrong without our fix)."""
    cfg = _cfg(EnhanceNetConfig(channels=16, upsampler=Upsampler.DECONV, upsampler_kernel=3))
    model, _ = model_with_reference_weights(cfg)
    _check(export_onnx(model, tmp_path / "d.onnx", cfg.input_size))


def test_onnx_refuses_bilinear(tmp_path: Path) -> None:
    model = build_model(_cfg(EnhanceNetConfig(channels=8, upsampler=Upsampler.BILINEAR_CONV)))
    with pytest.raises(ValueError, match="ResizeBilinearV2"):
        export_onnx(model, tmp_path / "b.onnx", (32, 32))
    assert not (tmp_path / "b.onnx").exists()
    with pytest.raises(FileNotFoundError):
        export_mindir(model, tmp_path / "missing" / "b.mindir", (32, 32))
