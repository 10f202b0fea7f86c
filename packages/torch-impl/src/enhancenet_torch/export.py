"""ONNX export of a :class:`~enhancenet_torch.models.PoseModel`, checked with onnxruntime.

The exported graph takes ``images`` (N, 3, H, W) float32 (dynamic N) and returns ``heatmaps_lr`` M^LR
(N, K, h, w), when the head is attached ``heatmaps_hr`` M^HR (N, K, r*h, r*w), and for the bottom-up AE hourglass
``tags`` (N, K, h, w), the last stack's tag maps (what bottom-up grouping reads). The sub-pixel layer is
exported as ``Conv`` + ``DepthToSpace`` with ``mode="CRD"``: ONNX's CRD ("column-row-depth") order is exactly
``torch.nn.functional.pixel_shuffle`` (channel ``k*r*r + i*r + j`` -> row ``h*r + i``, column ``w*r + j``),
the framework shuffle order; DCR mode would be a different permutation. A head whose weights are stored in
the paper's order is converted to the framework order first (on a copy), so the graph needs no extra
``Gather``. The caller's model is never modified.

Uses the TorchScript-based exporter (``dynamo=False``), which needs no ``onnxscript``.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from enhancenet_core.files import atomic_write_with
from enhancenet_torch.models.pose_model import PoseModel

DEFAULT_OPSET = 17
INPUT_NAME = "images"


class _ExportWrapper(nn.Module):
    """Turns the PoseModel's dict into a tuple of tensors (M^LR[, M^HR][, last stack's tags]) for tracing."""

    def __init__(self, model: PoseModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        out = self.model(images)
        maps = (out["lr"], out["hr"]) if "hr" in out else (out["lr"],)
        return (*maps, out["tags"][-1]) if "tags" in out else maps


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote and how closely onnxruntime reproduces torch.

    ``max_abs_diff`` maps each output name to max |onnxruntime - torch| on a seeded random input (empty when
    not verified); ``scale`` to max |torch| of that output; ``depth_to_space_modes`` lists the ``mode`` of
    every DepthToSpace node in the graph.
    """

    path: Path
    output_names: list[str]
    opset: int
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    depth_to_space_modes: list[str] = field(default_factory=list)


def depth_to_space_modes(path: str | os.PathLike[str]) -> list[str]:
    """``mode`` attribute (e.g. ``"CRD"``) of every DepthToSpace node of an ONNX file, in graph order."""
    import onnx

    graph = onnx.load(os.fspath(path)).graph
    modes = []
    for node in graph.node:
        if node.op_type == "DepthToSpace":
            mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "DCR")  # ONNX default: DCR
            modes.append(mode)
    return modes


def export_onnx(
    model: PoseModel,
    path: str | os.PathLike[str],
    input_size: tuple[int, int],
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    batch_size: int = 1,
    seed: int = 0,
) -> ExportReport:
    """Export ``model`` (eval mode, on CPU, a copy) to ``path`` atomically and check it with onnxruntime.

    Args:
        model: the model to export (not modified).
        path: the ``.onnx`` file; its directory must exist.
        input_size: (width, height) of the input patch, as ``ModelConfig.input_size``.
        opset: ONNX opset (>= 11 for DepthToSpace with a mode).
        verify: run onnxruntime and torch on a seeded random input and report the max abs difference.
        batch_size: batch of the example input (the exported batch axis is dynamic).
        seed: seed of the random verification input.

    Returns:
        An :class:`ExportReport`.
    """
    if not isinstance(model, PoseModel):
        raise TypeError(f"export_onnx: expected a PoseModel, got {type(model).__name__}")
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"export_onnx: input_size must be (width, height) >= 1, got {input_size}")
    if opset < 11:
        raise ValueError(f"export_onnx: opset must be >= 11 (DepthToSpace mode CRD), got {opset}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    net = copy.deepcopy(model).to("cpu", torch.float32).eval()
    if net.has_head:
        net.enhance.to_framework_order()
    wrapper = _ExportWrapper(net).eval()
    width, height = input_size
    example = torch.randn(batch_size, 3, height, width, generator=torch.Generator().manual_seed(seed))
    output_names = ["heatmaps_lr", "heatmaps_hr"] if net.has_head else ["heatmaps_lr"]
    with torch.no_grad():
        if len(wrapper(example)) > len(output_names):  # the AE hourglass: its tag maps too
            output_names.append("tags")
    dynamic_axes = {name: {0: "batch"} for name in [INPUT_NAME, *output_names]}

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            torch.onnx.export(
                wrapper, (example,), os.fspath(tmp), dynamo=False, opset_version=opset, input_names=[INPUT_NAME],
                output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True,
            )

    atomic_write_with(path, write)  # the usual mode (0666 & ~umask), like every file the project writes
    report = ExportReport(path=path, output_names=output_names, opset=opset,
                          depth_to_space_modes=depth_to_space_modes(path))
    if verify:
        import onnxruntime as ort

        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        got = session.run(output_names, {INPUT_NAME: example.numpy()})
        with torch.no_grad():
            want = wrapper(example)
        for name, g, w in zip(output_names, got, want, strict=True):
            report.max_abs_diff[name] = float((torch.from_numpy(g) - w).abs().max())
            report.scale[name] = float(w.abs().max())
    return report


__all__ = ["DEFAULT_OPSET", "ExportReport", "depth_to_space_modes", "export_onnx"]
