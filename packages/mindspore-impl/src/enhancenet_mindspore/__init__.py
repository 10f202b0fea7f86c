"""enhancenet-mindspore: EnhanceNet (Liu et al., "Belief Map Enhancement Network for Accurate Human Pose
Estimation") in MindSpore, the same models and canonical weights as enhancenet-torch and enhancenet-paddle.

Public entry points: :func:`enhancenet_mindspore.models.build_model`, :mod:`enhancenet_mindspore.weights`
(canonical safetensors and native ``.ckpt``), :mod:`enhancenet_mindspore.export` (MINDIR, ONNX) and
:mod:`enhancenet_mindspore.losses`.
"""

from __future__ import annotations

__version__ = "0.0.0"
