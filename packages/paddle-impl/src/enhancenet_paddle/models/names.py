"""Paddle structured names -> canonical names, and the copy of NumPy arrays into Paddle tensors.

The one name table is documented in :mod:`enhancenet_paddle.weights` (which re-exports these); the functions live
here, beside the models, so that building a model (which may load a pretrained backbone) never imports the
weight-file module, itself a user of the models (no import cycle).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import paddle
from paddle import Tensor, nn

__all__ = ["BASE_PREFIX", "BN_SUFFIXES", "assign_arrays", "base_state_dict", "canonical_name", "tensor_shapes"]

#: The prefix under which :class:`~enhancenet_paddle.models.PoseModel` holds its base model.
BASE_PREFIX = "base."
#: The Paddle-specific BatchNorm names, (Paddle suffix, canonical suffix).
BN_SUFFIXES: tuple[tuple[str, str], ...] = (("._mean", ".running_mean"), ("._variance", ".running_var"))


def canonical_name(name: str, strip_base: bool = True) -> str:
    """Paddle structured name -> canonical name (``base.bn1._mean`` -> ``bn1.running_mean``)."""
    if strip_base and name.startswith(BASE_PREFIX):
        name = name[len(BASE_PREFIX):]
    for paddle_suffix, canonical_suffix in BN_SUFFIXES:
        if name.endswith(paddle_suffix):
            return name[: -len(paddle_suffix)] + canonical_suffix
    return name


def base_state_dict(layer: nn.Layer) -> OrderedDict[str, Tensor]:
    """The tensors of a bare base model or head under canonical names (only the BN names change)."""
    return OrderedDict((canonical_name(k, strip_base=False), v) for k, v in layer.state_dict().items())


def tensor_shapes(tensors: dict[str, Tensor]) -> dict[str, tuple[int, ...]]:
    """Name -> shape as a tuple of Python ints."""
    return {k: tuple(int(s) for s in v.shape) for k, v in tensors.items()}


def _numpy_dtype(t: Tensor) -> np.dtype:
    return np.dtype(str(t.dtype).replace("paddle.", ""))


def assign_arrays(targets: dict[str, Tensor], arrays: dict[str, np.ndarray]) -> None:
    """Copy each array into the Paddle tensor of the same name, cast to the tensor's dtype (no grad)."""
    with paddle.no_grad():
        for name, array in arrays.items():
            t = targets[name]
            t.set_value(np.ascontiguousarray(np.asarray(array), dtype=_numpy_dtype(t)))
