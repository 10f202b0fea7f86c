"""enhancenet-mindspore: EnhanceNet (Liu et al., "Belief Map Enhancement Network for Accurate Human Pose
Estimation") in MindSpore, the same models and canonical weights as enhancenet-torch and enhancenet-paddle.

Public entry points: :func:`enhancenet_mindspore.models.build_model`, :mod:`enhancenet_mindspore.weights`
(canonical safetensors and native ``.ckpt``), :mod:`enhancenet_mindspore.export` (MINDIR, ONNX) and
:mod:`enhancenet_mindspore.losses`.
One-call inference: ``init_model`` and ``inference_topdown`` (:mod:`enhancenet_mindspore.inference`, the same
signature and result in every framework).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["inference_topdown", "init_model"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import the framework
    if name in __all__:
        from enhancenet_mindspore import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'enhancenet_mindspore' has no attribute {name!r}")
