"""Export round trips: Paddle inference format (paddle.jit.load and paddle.inference) and ONNX (paddle2onnx +
onnxruntime) reproduce the dygraph model; the sub-pixel layer becomes DepthToSpace in CRD mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import paddle
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName, ShuffleOrder, Upsampler
from enhancenet_paddle.export import INPUT_NAME, export_inference, export_onnx
from enhancenet_paddle.models import build_model

CFG = ModelConfig(
    base=BaseModelConfig(depth=18, num_deconv_layers=2, deconv_channels=32),
    head=EnhanceNetConfig(channels=16, upscale=3, shuffle_order=ShuffleOrder.PAPER),
    num_keypoints=4, input_size=(32, 64),
)


def _model(cfg: ModelConfig) -> paddle.nn.Layer:
    """Weights of unit scale (the HRNet init N(0, 0.001) would make every output ~1e-14)."""
    model = build_model(cfg)
    rng = np.random.default_rng(0)
    for name, t in model.state_dict().items():
        if name.endswith("_variance"):
            t.set_value(rng.uniform(0.5, 1.5, tuple(t.shape)).astype("float32"))
        else:
            fan = max(1, int(np.prod(t.shape[1:]))) if len(t.shape) > 1 else 1
            t.set_value((rng.standard_normal(tuple(t.shape)) / np.sqrt(fan)).astype("float32"))
    model.eval()
    return model


def test_inference_format_round_trip(tmp_path: Path) -> None:
    model = _model(CFG)
    report = export_inference(model, tmp_path / "pose", CFG.input_size, batch_size=2)
    assert [p.name for p in report.files] == ["pose.json", "pose.pdiparams"] and all(p.is_file() for p in report.files)
    assert report.output_names == ["heatmaps_lr", "heatmaps_hr"]
    for name in report.output_names:
        assert report.scale[name] > 0.1
        assert report.max_abs_diff[name] <= 1e-5 * report.scale[name], (name, report.max_abs_diff[name])
    assert model.enhance.shuffle_order is ShuffleOrder.PAPER  # the caller's model was not folded
    # the deployment API runs the files too, with another batch size (dynamic N), and matches dygraph
    config = paddle.inference.Config(str(tmp_path / "pose.json"), str(tmp_path / "pose.pdiparams"))
    config.disable_gpu()
    predictor = paddle.inference.create_predictor(config)
    x = np.random.default_rng(5).standard_normal((3, 3, 64, 32)).astype(np.float32)
    predictor.get_input_handle(predictor.get_input_names()[0]).copy_from_cpu(x)
    predictor.run()
    got = [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]
    with paddle.no_grad():
        out = model(paddle.to_tensor(x))
    for g, w in zip(got, (out["lr"], out["hr"]), strict=True):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), rtol=0, atol=1e-5 * float(np.abs(w.numpy()).max()))


@pytest.mark.parametrize(
    ("upsampler", "kernel"), [(Upsampler.SUBPIXEL, 3), (Upsampler.BILINEAR_CONV, 3), (Upsampler.DECONV, 12)]
)
def test_onnx_round_trip(upsampler: Upsampler, kernel: int, tmp_path: Path) -> None:
    """ONNX through paddle2onnx, checked with onnxruntime; sub-pixel as DepthToSpace CRD."""
    pytest.importorskip("paddle2onnx", reason="paddle2onnx is not installed (pip install paddle2onnx)")
    import onnx

    cfg = replace(CFG, head=replace(CFG.head, upsampler=upsampler, upsampler_kernel=kernel))
    model = _model(cfg)
    report = export_onnx(model, tmp_path / "pose.onnx", cfg.input_size, batch_size=2)
    assert report.depth_to_space_modes == (["CRD"] if upsampler is Upsampler.SUBPIXEL else [])
    graph = onnx.load(str(tmp_path / "pose.onnx")).graph
    assert [i.name for i in graph.input] == [INPUT_NAME]
    assert [o.name for o in graph.output] == ["heatmaps_lr", "heatmaps_hr"]
    for name in report.output_names:
        assert report.scale[name] > 0.1
        assert report.max_abs_diff[name] <= 1e-5 * report.scale[name], (name, report.max_abs_diff[name])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.onnx"]  # no temporary files left


def test_export_without_head_and_bad_arguments(tmp_path: Path) -> None:
    cfg = replace(CFG, head=replace(CFG.head, enabled=False))
    report = export_inference(_model(cfg), tmp_path / "base", cfg.input_size)
    assert report.output_names == ["heatmaps_lr"]
    assert report.max_abs_diff["heatmaps_lr"] <= 1e-5 * report.scale["heatmaps_lr"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_inference(_model(cfg), tmp_path / "missing" / "base", cfg.input_size)
    with pytest.raises(TypeError, match="PoseModel"):
        export_inference(paddle.nn.Conv2D(3, 3, 1), tmp_path / "x", cfg.input_size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="opset"):
        export_onnx(_model(cfg), tmp_path / "x.onnx", cfg.input_size, opset=9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "base",
    [BaseModelConfig(name=BaseModelName.CPN, depth=50),
     BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2, hourglass_channels=32)],
    ids=["cpn-r50", "hourglass-2"],
)
def test_every_base_model_exports(base: BaseModelConfig, tmp_path: Path) -> None:
    """to_static must trace the multi-level / multi-stage forwards too (their loops, lists and shape checks).

    HRNet-W32 exports the same way (its branch loop uses the construct CPN's cascade loop tests: indexing, since
    to_static's ``zip`` takes no ``strict``); it is left out here only because tracing it takes ~15-70 s.
    """
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=8), num_keypoints=3, input_size=(64, 64))
    report = export_inference(_model(cfg), tmp_path / "m", cfg.input_size)
    for name in report.output_names:
        assert report.scale[name] > 0
        assert report.max_abs_diff[name] <= 1e-5 * report.scale[name], (name, report.max_abs_diff[name])


AE_BASE = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                          ae_output_channels=6)  # fmt: skip


@pytest.mark.slow  # tracing the two-stack hourglass: 7-10 s per case
@pytest.mark.parametrize("head", [True, False], ids=["head", "no-head"])
def test_ae_hourglass_exports_maps_and_tags(tmp_path: Path, head: bool) -> None:
    """The bottom-up AE hourglass: M^LR[, M^HR] and the last stack's tag maps (``tags``, what grouping reads), in
    the inference format, reproduced by paddle.jit.load. ONNX is not checked: paddle2onnx (its PIR parser) fails on
    this program ("the 0th elementwise MUST be ir::FloatAttribute", pir_parser.cc:814), with or without the head."""
    cfg = ModelConfig(base=AE_BASE, head=EnhanceNetConfig(channels=8, upscale=2, enabled=head), num_keypoints=3,
                      input_size=(64, 64))  # fmt: skip
    model = _model(cfg)
    want = ["heatmaps_lr", "heatmaps_hr", "tags"] if head else ["heatmaps_lr", "tags"]
    reports = [export_inference(model, tmp_path / "ae", cfg.input_size, batch_size=2)]
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with paddle.no_grad():
        tags = model(paddle.to_tensor(x))["tags"][-1].numpy()
    for report in reports:
        assert report.output_names == want
        for name in want:
            assert report.scale[name] > 0.1, name
            assert report.max_abs_diff[name] <= 1e-5 * report.scale[name], (name, report.max_abs_diff[name])
    loaded = paddle.jit.load(str(tmp_path / "ae"))
    loaded.eval()
    with paddle.no_grad():
        got = loaded(paddle.to_tensor(x))
    np.testing.assert_allclose(got[-1].numpy(), tags, rtol=0, atol=1e-5 * float(np.abs(tags).max()))
