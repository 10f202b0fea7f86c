"""A base pose model with the EnhanceNet head attached, and :func:`build_model`.

Any cell whose ``construct`` returns ``(F^LR, M^LR)``, ``(F^LR, M^LR, intermediates)`` or ``(F^LR, M^LR,
intermediates, tags)`` (the AE hourglass: every stack's tag maps) and that has the
attributes ``feature_channels`` and ``num_keypoints`` is a base model; :class:`PoseModel` is the one generic
wrapper that attaches the head to it (the same contract as :class:`enhancenet_torch.models.PoseModel`).

MindSpore parameter names are the structured cell paths (``base.conv1.weight``, ``base.bn1.gamma``,
``enhance.upsample.weight``): that is the native ``.ckpt`` format. The canonical names of
:mod:`enhancenet_core.namemap` (``conv1.weight``, ``bn1.weight``, ...) come from the one mapping table of
:mod:`enhancenet_mindspore.weights`.

``construct`` returns a dict in both PYNATIVE_MODE and GRAPH_MODE (MindSpore 2.8 graph mode returns dicts and
lists; checked by the tests). Where a tuple is needed (export, ``GraphCell``), :data:`OUTPUT_ORDER` and
:func:`outputs_to_dict` / :func:`outputs_to_tuple` convert between the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mindspore import nn

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_mindspore.models.ae_hourglass import AeHourglass
from enhancenet_mindspore.models.cpn import CPN
from enhancenet_mindspore.models.dlcm import Dlcm
from enhancenet_mindspore.models.head import EnhanceNet
from enhancenet_mindspore.models.hourglass import StackedHourglass
from enhancenet_mindspore.models.hrnet import HRNet
from enhancenet_mindspore.models.pretrained import load_backbone_weights
from enhancenet_mindspore.models.simple_baseline import SimpleBaseline

HEAD_ATTRIBUTE = "enhance"

#: Fixed order of the tensor outputs when a tuple is needed: M^LR, then M^HR when the head is attached.
OUTPUT_ORDER: tuple[str, ...] = ("lr", "hr")

#: Base model name -> constructor ``(BaseModelConfig, num_keypoints) -> nn.Cell``.
BASE_MODELS: dict[BaseModelName, Any] = {
    BaseModelName.SIMPLE_BASELINE: SimpleBaseline,
    BaseModelName.HRNET: HRNet,
    BaseModelName.HOURGLASS: StackedHourglass,
    BaseModelName.CPN: CPN,
    BaseModelName.DLCM: Dlcm,
    BaseModelName.AE_HOURGLASS: AeHourglass,
}


class PoseModel(nn.Cell):
    """Base model + optional EnhanceNet head.

    ``construct(images (N, 3, H, W))`` returns a dict:

    - ``"lr"``: M^LR (N, K, h, w) of the final stage;
    - ``"features"``: F^LR (N, C_F, h, w);
    - ``"hr"``: M^HR (N, K, r*h, r*w), only when the head is attached;
    - ``"intermediate"``: list of earlier-stage M^LR (N, K, h, w), only for multi-stage models (hourglass
      stacks before the last, CPN GlobalNet levels; DLCM: its stacks before the last, (N, P_l, h, w) of levels
      1, 2, 3, 2; the AE hourglass's earlier detection maps);
    - ``"tags"``: the AE hourglass's tag maps of every stack, a list of (N, K, h, w) (bottom-up only).
    """

    def __init__(self, base: nn.Cell, enhance: EnhanceNet | None = None) -> None:
        super().__init__()
        for attr in ("feature_channels", "num_keypoints"):
            if not hasattr(base, attr):
                raise TypeError(f"PoseModel: the base model {type(base).__name__} has no attribute {attr!r}")
        self.base = base
        self.has_head = enhance is not None
        if enhance is not None:
            self.enhance = enhance
        self.feature_channels = base.feature_channels
        self.num_keypoints = base.num_keypoints

    def construct(self, images):
        """Images (N, 3, H, W) -> {"lr", "features"[, "hr"][, "intermediate"][, "tags"]} (see the class docstring)."""
        out = self.base(images)
        features = out[0]
        heatmaps = out[1]
        result = {"lr": heatmaps, "features": features}
        if self.has_head:
            result["hr"] = self.enhance(features, heatmaps)
        if len(out) > 2:
            result["intermediate"] = list(out[2])
        if len(out) > 3:
            result["tags"] = list(out[3])
        return result


def outputs_to_tuple(outputs: Mapping[str, Any]) -> tuple:
    """``(M^LR[, M^HR])`` from the model's dict, in :data:`OUTPUT_ORDER`."""
    return tuple(outputs[k] for k in OUTPUT_ORDER if k in outputs)


def outputs_to_dict(outputs: Sequence[Any]) -> dict[str, Any]:
    """Inverse of :func:`outputs_to_tuple`: ``{"lr": ...[, "hr": ...]}`` from a tuple in :data:`OUTPUT_ORDER`."""
    if not 1 <= len(outputs) <= len(OUTPUT_ORDER):
        raise ValueError(f"outputs_to_dict: expected 1 or 2 tensors (M^LR[, M^HR]), got {len(outputs)}")
    return dict(zip(OUTPUT_ORDER, outputs, strict=False))


class TupleOutput(nn.Cell):
    """``PoseModel`` whose ``construct`` returns ``(M^LR[, M^HR][, tags])`` (for export and ``nn.GraphCell``); the
    AE hourglass adds its last stack's tag maps (what bottom-up grouping reads)."""

    def __init__(self, model: PoseModel) -> None:
        super().__init__()
        self.model = model
        self.has_head = model.has_head
        self.has_tags = isinstance(model.base, AeHourglass)

    def construct(self, images):
        """Images (N, 3, H, W) -> (M^LR (N, K, h, w)[, M^HR (N, K, rh, rw)][, tags (N, K, h, w)])."""
        out = self.model(images)
        maps = (out["lr"], out["hr"]) if self.has_head else (out["lr"],)
        if self.has_tags:
            return maps + (out["tags"][-1],)  # noqa: RUF005 (graph mode: no starred unpacking in construct)
        return maps


def attach_enhancenet(base: nn.Cell, model_cfg: ModelConfig) -> PoseModel:
    """Wrap ``base`` (returns (F^LR, M^LR[, intermediates])) with the head of ``model_cfg`` if enabled."""
    head = None
    if model_cfg.head.enabled:
        head = EnhanceNet(model_cfg.head, base.feature_channels, base.num_keypoints)
    return PoseModel(base, head)


def build_base(model_cfg: ModelConfig) -> nn.Cell:
    """The base model named by ``model_cfg.base.name`` with ``model_cfg.num_keypoints`` outputs."""
    name = BaseModelName(model_cfg.base.name)
    if model_cfg.num_keypoints < 1:
        raise ValueError(f"model.num_keypoints: expected >= 1, got {model_cfg.num_keypoints}")
    return BASE_MODELS[name](model_cfg.base, model_cfg.num_keypoints)


def build_model(model_cfg: ModelConfig) -> PoseModel:
    """Build the full model of ``model_cfg``: base model, EnhanceNet head (when enabled), pretrained backbone.

    ``model_cfg.base.pretrained`` is a local path to ImageNet weights of the backbone (a ``.safetensors`` file
    with canonical / torchvision names, or a MindSpore ``.ckpt``), loaded by
    :func:`enhancenet_mindspore.models.pretrained.load_backbone_weights`; it is never downloaded.
    """
    model = attach_enhancenet(build_base(model_cfg), model_cfg)
    if model_cfg.base.pretrained:
        load_backbone_weights(model.base, model_cfg.base.pretrained, model_cfg)
    return model


__all__ = [
    "BASE_MODELS",
    "OUTPUT_ORDER",
    "PoseModel",
    "TupleOutput",
    "attach_enhancenet",
    "build_base",
    "build_model",
    "outputs_to_dict",
    "outputs_to_tuple",
]
