"""enhancenet-numpy: the pure-NumPy reference forward of EnhanceNet and its base models.

- :mod:`enhancenet_numpy.ops`: convolution, transposed convolution, batch norm, pooling, upsampling,
  pixel shuffle (PyTorch semantics, NCHW, float32/float64, vectorized).
- :mod:`enhancenet_numpy.head`: the EnhanceNet head in every configuration.
- :mod:`enhancenet_numpy.models`: SimpleBaseline, HRNet, stacked hourglass and the full model.
- :mod:`enhancenet_numpy.weights`: canonical safetensors I/O and deterministic initialisation.

It is the ground truth of the golden tensors (``conformance/golden``); it never imports a framework.
"""

from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import base_forward, full_forward
from enhancenet_numpy.weights import init_weights, load_weights, save_weights

__version__ = "0.1.0"

__all__ = ["base_forward", "full_forward", "head_forward", "init_weights", "load_weights", "save_weights"]
