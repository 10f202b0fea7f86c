"""Export of a :class:`~enhancenet_paddle.models.PoseModel`: Paddle's inference format, and ONNX via paddle2onnx.

Paddle inference format (:func:`export_inference`): ``paddle.jit.to_static`` + ``paddle.jit.save`` with an
``InputSpec`` ``images`` (N, 3, H, W) float32, dynamic N. Paddle 3 writes ``<prefix>.json`` (the PIR program)
and ``<prefix>.pdiparams`` (the weights); ``paddle.jit.load(prefix)`` or ``paddle.inference`` run it. Outputs,
in order: M^LR (N, K, h, w), when the head is attached M^HR (N, K, r*h, r*w), and for the bottom-up AE hourglass
its last stack's tag maps (N, K, h, w) (what bottom-up grouping reads).

ONNX (:func:`export_onnx`): the inference files converted by ``paddle2onnx`` (an optional dependency,
``pip install paddle2onnx``), checked with onnxruntime. Inputs ``images``, outputs renamed to ``heatmaps_lr`` /
``heatmaps_hr`` [/ ``tags``] as enhancenet-torch's export. Paddle's ``pixel_shuffle`` becomes ``DepthToSpace`` with
``mode="CRD"``, which is the framework shuffle order (channel ``k*r*r + i*r + j`` -> row ``h*r + i``, column
``w*r + j``); a head stored in the paper's order is converted to the framework order first (on a copy), so the
graph needs no extra transpose. paddle2onnx's optional graph optimisation is turned off
(``optimize_tool="None"``): its default (Polygraphy) pip-installs packages at run time.

The caller's model is never modified. Files are written to a temporary directory next to the target and moved
into place, so a failed export leaves any previous files untouched.
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paddle
from paddle import Tensor, nn
from paddle.static import InputSpec

from enhancenet_paddle.models.ae_hourglass import AeHourglass
from enhancenet_paddle.models.pose_model import PoseModel

DEFAULT_OPSET = 17
INPUT_NAME = "images"
INFERENCE_SUFFIXES = (".json", ".pdiparams")


class _ExportWrapper(nn.Layer):
    """Turns the PoseModel's dict into a tuple of tensors (M^LR[, M^HR][, last stack's tags]) for ``to_static``."""

    def __init__(self, model: PoseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        out = self.model(images)
        maps = (out["lr"], out["hr"]) if "hr" in out else (out["lr"],)
        return (*maps, out["tags"][-1]) if "tags" in out else maps


@dataclass
class ExportReport:
    """What an export wrote and how closely the exported model reproduces the dygraph model.

    ``files`` are the written paths; ``max_abs_diff`` maps each output name to max |exported - dygraph| on a
    seeded random input (empty when not verified); ``scale`` to max |dygraph| of that output;
    ``depth_to_space_modes`` lists the ``mode`` of every ONNX DepthToSpace node (ONNX exports only).
    """

    files: list[Path]
    output_names: list[str]
    opset: int | None = None
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    depth_to_space_modes: list[str] = field(default_factory=list)


def _check_args(model: PoseModel, input_size: tuple[int, int], target_dir: Path, what: str) -> None:
    if not isinstance(model, PoseModel):
        raise TypeError(f"{what}: expected a PoseModel, got {type(model).__name__}")
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"{what}: input_size must be (width, height) >= 1, got {input_size}")
    if not target_dir.is_dir():
        raise FileNotFoundError(f"directory {target_dir} does not exist ({what})")


def _prepared(model: PoseModel) -> _ExportWrapper:
    """A float32, eval-mode copy in the framework shuffle order, wrapped to return a tuple."""
    net = copy.deepcopy(model)
    net.to(dtype="float32")
    net.eval()
    if net.has_head:
        net.enhance.to_framework_order()
    wrapper = _ExportWrapper(net)
    wrapper.eval()
    return wrapper


def _example(input_size: tuple[int, int], batch_size: int, seed: int) -> np.ndarray:
    width, height = input_size
    return np.random.default_rng(seed).standard_normal((batch_size, 3, height, width)).astype(np.float32)


def _output_names(model: PoseModel) -> list[str]:
    names = ["heatmaps_lr", "heatmaps_hr"] if model.has_head else ["heatmaps_lr"]
    return [*names, "tags"] if isinstance(model.base, AeHourglass) else names


def _save_inference(wrapper: _ExportWrapper, prefix: str, input_size: tuple[int, int]) -> None:
    width, height = input_size
    spec = [InputSpec([None, 3, height, width], "float32", INPUT_NAME)]
    static = paddle.jit.to_static(wrapper, input_spec=spec, full_graph=True)
    paddle.jit.save(static, prefix)


def _compare(report: ExportReport, got: list[np.ndarray], want: list[Tensor]) -> None:
    for name, g, w in zip(report.output_names, got, want, strict=True):
        w_np = w.numpy()
        report.max_abs_diff[name] = float(np.abs(np.asarray(g) - w_np).max())
        report.scale[name] = float(np.abs(w_np).max())


def export_inference(
    model: PoseModel,
    path_prefix: str | os.PathLike[str],
    input_size: tuple[int, int],
    verify: bool = True,
    batch_size: int = 1,
    seed: int = 0,
) -> ExportReport:
    """Save ``model`` (a float32 eval copy) in Paddle's inference format and reload it to check it.

    Args:
        model: the model to export (not modified).
        path_prefix: files ``<prefix>.json`` and ``<prefix>.pdiparams``; the directory must exist.
        input_size: (width, height) of the input patch, as ``ModelConfig.input_size`` (fixed in the program;
            the batch axis is dynamic).
        verify: load the files with ``paddle.jit.load`` and compare with the dygraph model on a seeded
            random input.
        batch_size: batch of the verification input.
        seed: seed of the verification input.
    """
    prefix = Path(path_prefix)
    _check_args(model, input_size, prefix.parent, "export_inference")
    wrapper = _prepared(model)
    names = _output_names(model)
    files = [prefix.with_name(prefix.name + s) for s in INFERENCE_SUFFIXES]
    with tempfile.TemporaryDirectory(prefix=f".{prefix.name}.", dir=prefix.parent) as tmp:
        _save_inference(wrapper, os.path.join(tmp, "model"), input_size)
        for suffix, target in zip(INFERENCE_SUFFIXES, files, strict=True):
            os.replace(os.path.join(tmp, "model" + suffix), target)
    report = ExportReport(files=files, output_names=names)
    if verify:
        x = _example(input_size, batch_size, seed)
        loaded = paddle.jit.load(os.fspath(prefix))
        loaded.eval()
        with paddle.no_grad():
            got = loaded(paddle.to_tensor(x))
            want = wrapper(paddle.to_tensor(x))
        got = [got] if isinstance(got, Tensor) else list(got)
        _compare(report, [g.numpy() for g in got], list(want))
    return report


def depth_to_space_modes(path: str | os.PathLike[str]) -> list[str]:
    """``mode`` attribute (e.g. ``"CRD"``) of every DepthToSpace node of an ONNX file, in graph order."""
    import onnx

    modes = []
    for node in onnx.load(os.fspath(path)).graph.node:
        if node.op_type == "DepthToSpace":
            modes.append(next((a.s.decode() for a in node.attribute if a.name == "mode"), "DCR"))  # ONNX default
    return modes


def _rename_outputs(path: str, names: list[str]) -> None:
    """Give the graph outputs of an ONNX file the names ``names`` (in order), in place."""
    import onnx

    model = onnx.load(path)
    graph = model.graph
    if len(graph.output) != len(names):
        raise ValueError(f"ONNX export: expected {len(names)} outputs, the graph has {len(graph.output)}")
    mapping = {out.name: new for out, new in zip(graph.output, names, strict=True)}
    for node in graph.node:
        node.output[:] = [mapping.get(n, n) for n in node.output]
        node.input[:] = [mapping.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = mapping[out.name]
    onnx.checker.check_model(model)
    onnx.save(model, path)


def export_onnx(
    model: PoseModel,
    path: str | os.PathLike[str],
    input_size: tuple[int, int],
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    batch_size: int = 1,
    seed: int = 0,
) -> ExportReport:
    """Export ``model`` to ONNX through paddle2onnx (atomically) and check it with onnxruntime.

    Raises ImportError naming the package when paddle2onnx is not installed. Arguments as
    :func:`export_inference`; ``opset`` >= 11 (DepthToSpace with a mode).
    """
    path = Path(path)
    _check_args(model, input_size, path.parent, "export_onnx")
    if opset < 11:
        raise ValueError(f"export_onnx: opset must be >= 11 (DepthToSpace mode CRD), got {opset}")
    try:
        import paddle2onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("export_onnx needs paddle2onnx: pip install paddle2onnx") from exc
    wrapper = _prepared(model)
    names = _output_names(model)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        prefix = os.path.join(tmp, "model")
        _save_inference(wrapper, prefix, input_size)
        onnx_tmp = os.path.join(tmp, "model.onnx")
        try:
            paddle2onnx.export(
                prefix + ".json", prefix + ".pdiparams", save_file=onnx_tmp, opset_version=opset,
                auto_upgrade_opset=False, enable_onnx_checker=True, optimize_tool="None",
            )
        except SystemExit as exc:  # paddle2onnx logs the error and calls sys.exit(-1)
            raise RuntimeError(f"paddle2onnx could not convert the model for {path} (see its log above)") from exc
        if not os.path.isfile(onnx_tmp):
            raise RuntimeError(f"paddle2onnx wrote no ONNX file for {path}")
        _rename_outputs(onnx_tmp, names)
        os.replace(onnx_tmp, path)
    report = ExportReport(files=[path], output_names=names, opset=opset, depth_to_space_modes=depth_to_space_modes(path))
    if verify:
        import onnxruntime as ort

        x = _example(input_size, batch_size, seed)
        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        got = session.run(names, {INPUT_NAME: x})
        with paddle.no_grad():
            want = wrapper(paddle.to_tensor(x))
        _compare(report, got, list(want))
    return report


__all__ = ["DEFAULT_OPSET", "ExportReport", "depth_to_space_modes", "export_inference", "export_onnx"]
