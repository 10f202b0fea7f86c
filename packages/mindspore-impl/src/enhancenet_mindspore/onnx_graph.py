"""Post-processing of the ONNX graph ``mindspore.export`` writes: torch's tensor names and a dynamic batch axis.

MindSpore 2.8 names graph outputs after its internal node ids (``'75'``,
``'86-Default/model-PoseModel/…/Reshape-op1'``) and refuses dynamic shapes for ONNX (``mindspore.export`` with a
``Tensor(shape=[None, 3, H, W])`` input raises ``ValueError: Export ONNX format model not support dynamic shape
mode``), so it writes the batch of the example input into the graph: into the input and output shapes and into
the target shapes of the ``Reshape`` nodes that carry the pixel shuffle. :func:`name_and_free_batch` names the
input ``images`` and the outputs ``heatmaps_lr`` / ``heatmaps_hr`` (the names of ``enhancenet_torch.export``)
and turns the batch into a dynamic ``batch`` axis: input and output dimension 0 become the symbol ``batch``, and the first entry of each
``Reshape`` target shape that reshapes a tensor computed from the images (never a weight) becomes 0, which ONNX
defines as "copy this dimension from the input". ``export_onnx`` then runs the file at two batch sizes.
"""

from __future__ import annotations

import os

import numpy as np

BATCH_SYMBOL = "batch"


def _constant_values(model) -> dict[str, tuple[object, np.ndarray]]:
    """Tensor name -> (the TensorProto holding it, its value) for initializers and ``Constant`` nodes."""
    from onnx import numpy_helper

    out = {t.name: (t, numpy_helper.to_array(t)) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    out[node.output[0]] = (attr.t, numpy_helper.to_array(attr.t))
    return out


def _batch_tensors(model, input_name: str) -> set[str]:
    """Names of the tensors computed from the graph input (the ones whose dimension 0 is the batch).

    A ``Reshape``'s target shape is not followed: it is data about the shape, not a batch-carrying tensor.
    """
    carried = {input_name}
    for node in model.graph.node:  # ONNX graphs are topologically sorted
        inputs = node.input[:1] if node.op_type == "Reshape" else node.input
        if any(name in carried for name in inputs):
            carried.update(node.output)
    return carried


def _concat_zeros_to_pad(node, constants: dict[str, tuple[object, np.ndarray]], batch: int) -> list | None:
    """The nodes (a ``Constant`` and a ``Pad``) that replace ``Concat(x, zeros)`` (or ``Concat(zeros, x)``),
    where ``zeros`` is a constant block of the example's batch: ``Pad(x)`` with zeros on that side of the
    concatenation axis, the same values for any batch. None for a Concat of no such block.

    MindSpore writes the output padding of a transposed convolution this way.
    """
    import onnx
    from onnx import numpy_helper

    axis = next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "axis")
    blocks = [constants[n][1] if n in constants else None for n in node.input]
    computed = [i for i, b in enumerate(blocks) if b is None]
    if len(computed) != 1 or all(b is None or b.shape[0] != batch for b in blocks):
        if any(b is not None and b.ndim and b.shape[0] == batch for b in blocks):
            raise RuntimeError(f"ONNX export: Concat {node.name!r} joins constants of the example batch {batch} "
                               "in a way this exporter cannot make batch-free")
        return None
    rank = next(b.ndim for b in blocks if b is not None)
    axis = axis % rank
    if axis == 0 or any(b.any() for b in blocks if b is not None):
        raise RuntimeError(f"ONNX export: Concat {node.name!r} joins non-zero constants of the example batch {batch}")
    pads = [0] * (2 * rank)
    pads[axis] = sum(b.shape[axis] for b in blocks[: computed[0]])
    pads[rank + axis] = sum(b.shape[axis] for b in blocks[computed[0] + 1:])
    pads_name = f"{node.output[0]}/pads"
    source = node.input[computed[0]]
    pad = onnx.helper.make_node("Pad", [source, pads_name], list(node.output), name=f"{node.name}/Pad", mode="constant")
    const = onnx.helper.make_node("Constant", [], [pads_name], name=f"{pads_name}Constant",
                                  value=numpy_helper.from_array(np.asarray(pads, np.int64), pads_name))
    return [const, pad]


def name_and_free_batch(path: str | os.PathLike[str], input_name: str, output_names: list[str], batch: int) -> None:
    """Name the input and the outputs of the ONNX file ``path`` ``input_name`` and ``output_names`` (in order) and make its batch axis
    (of size ``batch`` in the file) dynamic; rewrites the file in place.

    Raises:
        RuntimeError: the graph does not have one input and ``len(output_names)`` outputs whose dimension 0 is
            ``batch`` (a graph this function was not written for).
    """
    import onnx
    from onnx import numpy_helper

    path = os.fspath(path)
    model = onnx.load(path)
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != len(output_names):
        raise RuntimeError(f"ONNX export: expected 1 input and {len(output_names)} outputs, got "
                           f"{[i.name for i in graph.input]} -> {[o.name for o in graph.output]}")
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or dims[0].dim_value != batch:
            raise RuntimeError(f"ONNX export: {value.name!r} does not have the example batch {batch} as dimension 0")

    rename = {o.name: new for o, new in zip(graph.output, output_names, strict=True)}
    rename[graph.input[0].name] = input_name
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = rename.get(value.name, value.name)

    carried = _batch_tensors(model, graph.input[0].name)
    constants = _constant_values(model)
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[0] not in carried:
            continue
        tensor, shape = constants.get(node.input[1], (None, None))
        if tensor is None:
            raise RuntimeError(f"ONNX export: Reshape {node.name!r} takes a computed shape; cannot free the batch")
        if shape.ndim == 1 and shape.size and shape[0] == batch:
            shape = shape.copy()
            shape[0] = 0  # ONNX Reshape: 0 copies the input's dimension (the batch)
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    nodes = []
    for node in graph.node:
        replaced = None
        if node.op_type == "Concat" and any(n in carried for n in node.input):
            replaced = _concat_zeros_to_pad(node, constants, batch)
        nodes.extend(replaced or [node])
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "Constant" or n.output[0] in used]  # the replaced zero blocks
    del graph.node[:]
    graph.node.extend(nodes)
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_SYMBOL  # clears dim_value (a oneof)
    del graph.value_info[:]  # static intermediate shapes would contradict the free batch
    onnx.checker.check_model(model)
    onnx.save(model, path)


__all__ = ["BATCH_SYMBOL", "name_and_free_batch"]
