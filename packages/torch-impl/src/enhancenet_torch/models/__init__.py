"""PyTorch models: base pose models that expose (F^LR, M^LR), the EnhanceNet head, and :func:`build_model`.

    from enhancenet_core.config import ModelConfig
    model = build_model(ModelConfig())          # SimpleBaseline-R50 + EnhanceNet (L=3, C=128, r=4)
    out = model(images)                         # {"lr": M^LR, "hr": M^HR, "features": F^LR}
"""

from __future__ import annotations

from enhancenet_torch.models.ae_hourglass import AeHourglass
from enhancenet_torch.models.cpn import CPN
from enhancenet_torch.models.dlcm import Dlcm
from enhancenet_torch.models.head import EnhanceNet
from enhancenet_torch.models.hourglass import StackedHourglass
from enhancenet_torch.models.hrnet import HRNet
from enhancenet_torch.models.pose_model import (
    BASE_MODELS,
    PoseModel,
    attach_enhancenet,
    build_base,
    build_model,
)
from enhancenet_torch.models.pretrained import canonical_state_dict
from enhancenet_torch.models.resnet import ResNet
from enhancenet_torch.models.simple_baseline import SimpleBaseline

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
    "canonical_state_dict",
]
