"""ONNX export: the sub-pixel layer becomes DepthToSpace(mode=CRD) and onnxruntime reproduces torch."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_torch.export import depth_to_space_modes, export_onnx
from enhancenet_torch.models import build_model

CFG = ModelConfig(
    base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18, deconv_channels=32),
    head=EnhanceNetConfig(channels=16), num_keypoints=5, input_size=(64, 64),
)


def _randomize_bn(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BN statistics and larger heat-map layers, so a wrong graph cannot pass by outputting ~0."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        for conv in (model.base.final_layer, model.enhance.upsample):
            conv.weight.normal_(0, 0.1, generator=g)
            conv.bias.normal_(0, 0.1, generator=g)
    return model


@pytest.mark.parametrize("order", list(ShuffleOrder))
def test_subpixel_exports_as_depth_to_space_crd(tmp_path: Path, order: ShuffleOrder) -> None:
    cfg = replace(CFG, head=replace(CFG.head, shuffle_order=order, upscale=3))
    model = _randomize_bn(build_model(cfg)).train()  # export must use eval mode on a copy
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = export_onnx(model, tmp_path / "m.onnx", cfg.input_size, opset=17, batch_size=2)
    assert report.depth_to_space_modes == ["CRD"]
    graph = onnx.load(str(report.path)).graph
    ops = [n.op_type for n in graph.node]
    assert "DepthToSpace" in ops and "Gather" not in ops  # paper order is folded into the weights
    assert report.output_names == ["heatmaps_lr", "heatmaps_hr"]
    for name in report.output_names:
        assert report.scale[name] > 1e-3
        assert report.max_abs_diff[name] <= 1e-5 * report.scale[name] + 1e-6, report
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # dynamic batch: another batch size runs and matches torch
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 3, 64, 64)
    _lr, hr = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        want = model.eval()(x)
    assert hr.shape == (3, 5, 48, 48)
    assert np.abs(hr - want["hr"].numpy()).max() <= 1e-5 * float(want["hr"].abs().max()) + 1e-6


def test_dcr_would_be_wrong(tmp_path: Path) -> None:
    """The check can fail: rewriting the node to DCR changes M^HR."""
    model = _randomize_bn(build_model(CFG)).eval()
    report = export_onnx(model, tmp_path / "m.onnx", CFG.input_size)
    proto = onnx.load(str(report.path))
    for node in proto.graph.node:
        if node.op_type == "DepthToSpace":
            for attr in node.attribute:
                if attr.name == "mode":
                    attr.s = b"DCR"
    bad = tmp_path / "dcr.onnx"
    onnx.save(proto, str(bad))
    assert depth_to_space_modes(bad) == ["DCR"]
    x = torch.randn(1, 3, 64, 64)
    hr_bad = ort.InferenceSession(str(bad), providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})[1]
    with torch.no_grad():
        hr = model(x)["hr"].numpy()
    assert np.abs(hr_bad - hr).max() > 1e-2 * np.abs(hr).max()


@pytest.mark.parametrize("upsampler", [Upsampler.DECONV, Upsampler.BILINEAR_CONV])
def test_other_upsamplers_export(tmp_path: Path, upsampler: Upsampler) -> None:
    cfg = replace(CFG, head=replace(CFG.head, upsampler=upsampler))
    model = _randomize_bn(build_model(cfg))
    report = export_onnx(model, tmp_path / "m.onnx", cfg.input_size)
    assert report.depth_to_space_modes == []
    assert report.max_abs_diff["heatmaps_hr"] <= 1e-5 * report.scale["heatmaps_hr"] + 1e-6


def test_export_without_head_and_bad_arguments(tmp_path: Path) -> None:
    cfg = replace(CFG, head=EnhanceNetConfig(enabled=False))
    report = export_onnx(build_model(cfg), tmp_path / "base.onnx", cfg.input_size, verify=False)
    assert report.output_names == ["heatmaps_lr"] and report.max_abs_diff == {}
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "base.onnx").stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    with pytest.raises(ValueError, match="opset"):
        export_onnx(build_model(cfg), tmp_path / "x.onnx", cfg.input_size, opset=9)
    with pytest.raises(FileNotFoundError):
        export_onnx(build_model(cfg), tmp_path / "no" / "x.onnx", cfg.input_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.onnx"]


@pytest.mark.parametrize("head", [True, False], ids=["head", "no-head"])
def test_ae_hourglass_exports_maps_and_tags(tmp_path: Path, head: bool) -> None:
    """The bottom-up AE hourglass: M^LR[, M^HR] and the last stack's tag maps, reproduced by onnxruntime."""
    base = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                           ae_output_channels=6)  # fmt: skip
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=8, upscale=2, enabled=head), num_keypoints=3,
                      input_size=(64, 64))  # fmt: skip
    report = export_onnx(build_model(cfg), tmp_path / "ae.onnx", cfg.input_size, batch_size=2)
    want = ["heatmaps_lr", "heatmaps_hr", "tags"] if head else ["heatmaps_lr", "tags"]
    assert report.output_names == want
    for name in want:
        assert report.max_abs_diff[name] <= 1e-5 * max(report.scale[name], 1.0), name
