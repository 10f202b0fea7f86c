"""enhancenet-torch: EnhanceNet (belief-map enhancement for human pose estimation) in PyTorch.

One-call inference: ``from enhancenet_torch import init_model, inference_topdown`` (:mod:`enhancenet_torch.inference`,
the same signature and result in enhancenet-paddle and enhancenet-mindspore). Subpackages and modules are imported
lazily by their users: ``enhancenet_torch.models`` (base models, the EnhanceNet head, ``build_model``),
``enhancenet_torch.weights`` (canonical safetensors I/O), ``enhancenet_torch.export`` (ONNX), and the training /
evaluation modules.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["inference_topdown", "init_model"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import torch
    if name in __all__:
        from enhancenet_torch import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'enhancenet_torch' has no attribute {name!r}")
