"""Export of a :class:`~enhancenet_mindspore.models.PoseModel` to MINDIR and ONNX, each checked after writing.

The exported graph takes ``images`` (N, 3, H, W) float32 and returns M^LR (N, K, h, w) and, when the head is
attached, M^HR (N, K, r*h, r*w), in :data:`~enhancenet_mindspore.models.OUTPUT_ORDER`, then for the bottom-up AE
hourglass its last stack's tag maps (N, K, h, w). In the ONNX file these are named ``images`` -> ``heatmaps_lr``,
``heatmaps_hr`` [, ``tags``] with a dynamic batch N, as ``enhancenet_torch.export``
writes them: MindSpore 2.8 names the outputs by node id and refuses dynamic shapes for ONNX, so the graph is
post-processed (:mod:`enhancenet_mindspore.onnx_graph`). MINDIR keeps the example's static batch. A head whose
weights are stored in the paper's shuffle order is folded into the framework order for the export (and restored
afterwards: a permutation, so bit-exact), so the sub-pixel layer exports as one ``Reshape``-``Transpose``-
``Reshape`` (MindSpore's ONNX form of the pixel shuffle) without an extra ``Gather``.

- :func:`export_mindir`: ``mindspore.export(..., file_format="MINDIR")``, then ``mindspore.load`` +
  ``nn.GraphCell`` run on a seeded random input and compared with the model (max abs difference).
- :func:`export_onnx`: ``mindspore.export(..., file_format="ONNX")``, then onnxruntime on the same input.
  MindSpore 2.8's ONNX exporter writes ``ConvTranspose`` nodes that onnxruntime rejects (a 4-entry
  ``output_shape``); they are repaired from the cells' padding (see :func:`_fix_onnx_conv_transpose`). It cannot
  export bilinear resizing (``ResizeBilinearV2``), so a ``bilinear_conv`` head (and CPN) exports to MINDIR only;
  :func:`export_onnx` says so with a ValueError before exporting; nor nearest resizing
  (``ResizeNearestNeighborV2``), so the bottom-up AE hourglass exports to MINDIR only (the same ValueError).

Files are written atomically (a temporary directory beside the target, then ``os.replace``) and get the usual
permissions (``mindspore.export`` creates read-only files). The model is put in inference mode
(``set_train(False)``) for the export and its training flag is restored afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mindspore as ms
import numpy as np
from mindspore import nn

from enhancenet_mindspore.models.ae_hourglass import AeHourglass
from enhancenet_mindspore.models.cpn import CPN
from enhancenet_mindspore.models.layers import Upsample
from enhancenet_mindspore.models.pose_model import PoseModel, TupleOutput
from enhancenet_mindspore.onnx_graph import name_and_free_batch

INPUT_NAME = "images"
OUTPUT_NAMES = ("heatmaps_lr", "heatmaps_hr")


@dataclass
class ExportReport:
    """What an export wrote and how closely the exported graph reproduces the MindSpore model.

    ``max_abs_diff`` maps each output name to max |exported - MindSpore| on a seeded random input (empty when
    not verified); ``scale`` to max |MindSpore| of that output; ``depth_to_space_modes`` (ONNX only) lists the
    ``mode`` of every DepthToSpace node.
    """

    path: Path
    file_format: str
    output_names: list[str]
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
            modes.append(next((a.s.decode() for a in node.attribute if a.name == "mode"), "DCR"))  # ONNX default
    return modes


def _fix_onnx_conv_transpose(path: str, net: nn.Cell) -> None:
    """Repair the ``ConvTranspose`` nodes MindSpore 2.8 writes: their ``output_shape`` holds four entries
    (N, C, H, W; ONNX wants the two spatial ones, and onnxruntime rejects the file), and a crop that is not
    symmetric must be stated in ``pads``. Each node is matched to its cell through its weight's name; the
    attribute becomes ``pads = [top, left, bottom, right]`` of that cell and ``output_shape`` is removed."""
    import onnx

    from enhancenet_mindspore.models.layers import ConvTranspose2d

    cells = {c.weight.name: c for _, c in net.cells_and_names() if isinstance(c, ConvTranspose2d)}
    model = onnx.load(path)
    changed = False
    for node in model.graph.node:
        if node.op_type != "ConvTranspose" or len(node.input) < 2:
            continue
        cell = cells.get(node.input[1])
        if cell is None:
            raise RuntimeError(f"ONNX export: ConvTranspose node {node.name!r} reads {node.input[1]!r}, "
                               "which is not the weight of a ConvTranspose2d of the model")
        top, bottom, left, right = cell.padding if isinstance(cell.padding, tuple) else (cell.padding,) * 4
        keep = [a for a in node.attribute if a.name not in ("output_shape", "pads")]
        del node.attribute[:]
        node.attribute.extend(keep)
        node.attribute.append(onnx.helper.make_attribute("pads", [top, left, bottom, right]))
        changed = True
    if changed:
        onnx.save(model, path)


def _example(input_size: tuple[int, int], batch_size: int, seed: int) -> np.ndarray:
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"export: input_size must be (width, height) >= 1, got {input_size}")
    if batch_size < 1:
        raise ValueError(f"export: batch_size must be >= 1, got {batch_size}")
    width, height = input_size
    return np.random.default_rng(seed).standard_normal((batch_size, 3, height, width)).astype(np.float32)


def _export(model: PoseModel, path: str | os.PathLike[str], file_format: str, example: np.ndarray) -> tuple[
    Path, list[np.ndarray], list[str]
]:
    """Export atomically; returns (path, the model's outputs on ``example``, output names)."""
    if not isinstance(model, PoseModel):
        raise TypeError(f"export: expected a PoseModel, got {type(model).__name__}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist (writing {path.name})")
    was_training = model.training
    head = model.enhance if model.has_head else None
    net = TupleOutput(model)
    net.set_train(False)
    names = list(OUTPUT_NAMES[: 2 if model.has_head else 1]) + (["tags"] if net.has_tags else [])
    tmp_dir = tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if head is not None:
            head.to_framework_order()
        want = [o.asnumpy() for o in net(ms.Tensor(example))]
        stem = os.path.join(tmp_dir, "model")
        ms.export(net, ms.Tensor(example), file_name=stem, file_format=file_format)
        written = [f for f in os.listdir(tmp_dir) if f.startswith("model")]
        if len(written) != 1:
            raise RuntimeError(f"mindspore.export wrote {written} (expected one file) for {file_format}")
        tmp = os.path.join(tmp_dir, written[0])
        os.chmod(tmp, 0o600)
        if file_format == "ONNX":
            _fix_onnx_conv_transpose(tmp, net)
            name_and_free_batch(tmp, INPUT_NAME, names, example.shape[0])
        mode = os.umask(0)
        os.umask(mode)
        os.chmod(tmp, 0o666 & ~mode)
        os.replace(tmp, path)
    finally:
        if head is not None:
            head.to_paper_order()
        model.set_train(was_training)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path, want, names


def export_mindir(
    model: PoseModel, path: str | os.PathLike[str], input_size: tuple[int, int], verify: bool = True,
    batch_size: int = 1, seed: int = 0,
) -> ExportReport:
    """Export ``model`` to a MINDIR file and (``verify``) run it back through ``mindspore.load`` + ``GraphCell``.

    Args:
        model: the model to export.
        path: the ``.mindir`` file; its directory must exist.
        input_size: (width, height) of the input patch, as ``ModelConfig.input_size``.
        verify: compare the loaded graph with the model on a seeded random input.
        batch_size: batch of the (static) example input.
        seed: seed of the random verification input.
    """
    example = _example(input_size, batch_size, seed)
    path, want, names = _export(model, path, "MINDIR", example)
    report = ExportReport(path=path, file_format="MINDIR", output_names=names)
    if verify:
        graph = nn.GraphCell(ms.load(os.fspath(path)))
        got = graph(ms.Tensor(example))
        got = got if isinstance(got, tuple | list) else (got,)
        for name, g, w in zip(names, got, want, strict=True):
            report.max_abs_diff[name] = float(np.abs(g.asnumpy() - w).max())
            report.scale[name] = float(np.abs(w).max())
    return report


def export_onnx(
    model: PoseModel, path: str | os.PathLike[str], input_size: tuple[int, int], verify: bool = True,
    batch_size: int = 1, seed: int = 0,
) -> ExportReport:
    """Export ``model`` to ONNX and (``verify``) compare onnxruntime with MindSpore on a seeded random input.

    Arguments as :func:`export_mindir`; ``path`` is the ``.onnx`` file. The file's batch axis is dynamic;
    ``verify`` runs it at ``batch_size`` and at ``batch_size + 1`` (the report holds the larger difference).
    """
    example = _example(input_size, batch_size, seed)
    if isinstance(model, PoseModel):
        blockers = [type(c).__name__ for _, c in model.cells_and_names()
                    if (isinstance(c, Upsample) and c.mode == "bilinear") or isinstance(c, CPN)]
        if isinstance(model.base, AeHourglass):
            raise ValueError("export_onnx: MindSpore 2.8 cannot export nearest resizing (ResizeNearestNeighborV2) to "
                             "ONNX, used by the AE hourglass; export this model with export_mindir")
        if blockers:
            raise ValueError(f"export_onnx: MindSpore 2.8 cannot export bilinear resizing (ResizeBilinearV2) to ONNX, "
                             f"used by {sorted(set(blockers))}; export this model with export_mindir")
    path, want, names = _export(model, path, "ONNX", example)
    report = ExportReport(path=path, file_format="ONNX", output_names=names,
                          depth_to_space_modes=depth_to_space_modes(path))
    if verify:
        import onnxruntime as ort

        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        other = _example(input_size, batch_size + 1, seed + 1)
        for feed, ref in ((example, want), (other, _forward(model, other))):
            got = session.run(names, {INPUT_NAME: feed})
            for name, g, w in zip(names, got, ref, strict=True):
                report.max_abs_diff[name] = max(report.max_abs_diff.get(name, 0.0), float(np.abs(g - w).max()))
                report.scale[name] = max(report.scale.get(name, 0.0), float(np.abs(w).max()))
    return report


def _forward(model: PoseModel, example: np.ndarray) -> list[np.ndarray]:
    """The model's outputs (M^LR[, M^HR][, tags]) on ``example`` in inference mode; the training flag is restored."""
    was_training = model.training
    net = TupleOutput(model)
    net.set_train(False)
    try:
        return [o.asnumpy() for o in net(ms.Tensor(example))]
    finally:
        model.set_train(was_training)


__all__ = ["ExportReport", "depth_to_space_modes", "export_mindir", "export_onnx"]
