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


# The names enhancenet_torch.export gives its ONNX graph (its tests assert the same literals).
TORCH_INPUT_NAMES = ["images"]
TORCH_OUTPUT_NAMES = ["heatmaps_lr", "heatmaps_hr"]


@pytest.mark.parametrize("with_head", [True, False])
def test_onnx_names_and_dynamic_batch(tmp_path: Path, with_head: bool) -> None:
    """The file has torch's input/output names and a free batch axis: onnxruntime runs it at batch 1 (the
    exported example's) and 2, equal to the MindSpore forward of the same images."""
    import mindspore as ms
    import numpy as np
    import onnx
    import onnxruntime as ort

    from enhancenet_mindspore.models.pose_model import TupleOutput

    head = EnhanceNetConfig(channels=16, upscale=4) if with_head else EnhanceNetConfig(enabled=False)
    cfg = _cfg(head)
    model, _ = model_with_reference_weights(cfg)
    export_onnx(model, tmp_path / "m.onnx", cfg.input_size, batch_size=1, verify=False)
    graph = onnx.load(os.fspath(tmp_path / "m.onnx")).graph
    outputs = TORCH_OUTPUT_NAMES[: 2 if with_head else 1]
    assert [i.name for i in graph.input] == TORCH_INPUT_NAMES
    assert [o.name for o in graph.output] == outputs
    for value in (*graph.input, *graph.output):
        first = value.type.tensor_type.shape.dim[0]
        assert first.dim_param and not first.dim_value, f"{value.name}: batch axis is fixed ({first})"
    session = ort.InferenceSession(os.fspath(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    net = TupleOutput(model)
    net.set_train(False)
    rng = np.random.default_rng(7)
    for batch in (1, 2):
        images = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        got = session.run(outputs, {"images": images})
        want = [o.asnumpy() for o in net(ms.Tensor(images))]
        assert len(want) == len(outputs)
        for name, g, w in zip(outputs, got, want, strict=True):
            assert g.shape == w.shape and g.shape[0] == batch, f"{name}: {g.shape} vs {w.shape}"
            scale = float(np.abs(w).max())
            assert scale > 1e-2
            assert float(np.abs(g - w).max()) <= 1e-5 * scale, f"{name} at batch {batch}"


@pytest.mark.slow  # tracing the two-stack hourglass: 7-10 s per case
@pytest.mark.parametrize("head", [True, False], ids=["head", "no-head"])
def test_ae_hourglass_exports_maps_and_tags(tmp_path: Path, head: bool) -> None:
    """The bottom-up AE hourglass: M^LR[, M^HR] and the last stack's tag maps (``tags``, what grouping reads), to
    MINDIR (GraphCell), reproducing the model; ONNX is refused in one line before exporting (MindSpore 2.8 has no
    ONNX form of its nearest upsampling)."""
    from enhancenet_core.conventions import BaseModelName

    base = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                           ae_output_channels=6)  # fmt: skip
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=8, upscale=2, enabled=head), num_keypoints=3,
                      input_size=(64, 64))  # fmt: skip
    model, _ = model_with_reference_weights(cfg)
    want = ["heatmaps_lr", "heatmaps_hr", "tags"] if head else ["heatmaps_lr", "tags"]
    report = export_mindir(model, tmp_path / "ae.mindir", cfg.input_size)
    assert report.output_names == want
    _check(report)
    with pytest.raises(ValueError, match=r"ResizeNearestNeighborV2.*export_mindir"):
        export_onnx(model, tmp_path / "ae.onnx", cfg.input_size)
    assert not (tmp_path / "ae.onnx").exists()
