"""Paddle models: base pose models that expose (F^LR, M^LR), the EnhanceNet head, and :func:`build_model`.

    from enhancenet_core.config import ModelConfig
    model = build_model(ModelConfig())          # SimpleBaseline-R50 + EnhanceNet (L=3, C=128, r=4)
    out = model(images)                         # {"lr": M^LR, "hr": M^HR, "features": F^LR}

The same classes, sublayer names and forward contract as ``enhancenet_torch.models``.
"""

from __future__ import annotations

from enhancenet_paddle.models.ae_hourglass import AeHourglass
from enhancenet_paddle.models.cpn import CPN
from enhancenet_paddle.models.dlcm import Dlcm
from enhancenet_paddle.models.head import EnhanceNet
from enhancenet_paddle.models.hourglass import StackedHourglass
from enhancenet_paddle.models.hrnet import HRNet
from enhancenet_paddle.models.pose_model import (
    BASE_MODELS,
    PoseModel,
    attach_enhancenet,
    build_base,
    build_model,
)
from enhancenet_paddle.models.resnet import ResNet
from enhancenet_paddle.models.simple_baseline import SimpleBaseline

__all__ = [
    "BASE_MODELS",
    "CPN",
    "AeHourglass",
    "Dlcm",
    "EnhanceNet",
    "HRNet",
    "PoseModel",
    "ResNet",
    "SimpleBaseline",
    "StackedHourglass",
    "attach_enhancenet",
    "build_base",
    "build_model",
]
