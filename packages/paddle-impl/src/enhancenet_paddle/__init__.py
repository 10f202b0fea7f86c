"""enhancenet-paddle: EnhanceNet (belief-map enhancement for human pose estimation) in PaddlePaddle.

Subpackages and modules are imported by their users: ``enhancenet_paddle.models`` (base models, the EnhanceNet
head, ``build_model``), ``enhancenet_paddle.weights`` (canonical safetensors I/O and native ``.pdparams``),
``enhancenet_paddle.export`` (Paddle inference format, ONNX through paddle2onnx) and
``enhancenet_paddle.losses``. It never imports torch or mindspore.
One-call inference: ``init_model`` and ``inference_topdown`` (:mod:`enhancenet_paddle.inference`, the same
signature and result in every framework).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["inference_topdown", "init_model"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import the framework
    if name in __all__:
        from enhancenet_paddle import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'enhancenet_paddle' has no attribute {name!r}")
