"""MindSpore models: base pose models that expose (F^LR, M^LR), the EnhanceNet head, and :func:`build_model`.

    from enhancenet_core.config import ModelConfig
    model = build_model(ModelConfig())          # SimpleBaseline-R50 + EnhanceNet (L=3, C=128, r=4)
    out = model(images)                         # {"lr": M^LR, "hr": M^HR, "features": F^LR}

The same contract as ``enhancenet_torch.models`` (PYNATIVE_MODE and GRAPH_MODE).
"""

from __future__ import annotations

from enhancenet_mindspore.models.ae_hourglass import AeHourglass
from enhancenet_mindspore.models.cpn import CPN
from enhancenet_mindspore.models.dlcm import Dlcm
from enhancenet_mindspore.models.head import EnhanceNet
from enhancenet_mindspore.models.hourglass import StackedHourglass
from enhancenet_mindspore.models.hrnet import HRNet
from enhancenet_mindspore.models.pose_model import (
    BASE_MODELS,
    OUTPUT_ORDER,
    PoseModel,
    TupleOutput,
    attach_enhancenet,
    build_base,
    build_model,
    outputs_to_dict,
    outputs_to_tuple,
)
from enhancenet_mindspore.models.resnet import ResNet
from enhancenet_mindspore.models.simple_baseline import SimpleBaseline

__all__ = [
    "BASE_MODELS",
    "CPN",
    "OUTPUT_ORDER",
    "AeHourglass",
    "Dlcm",
    "EnhanceNet",
    "HRNet",
    "PoseModel",
    "ResNet",
    "SimpleBaseline",
    "StackedHourglass",
    "TupleOutput",
    "attach_enhancenet",
    "build_base",
    "build_model",
    "outputs_to_dict",
    "outputs_to_tuple",
]
