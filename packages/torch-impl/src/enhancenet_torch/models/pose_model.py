"""A base pose model with the EnhanceNet head attached, and :func:`build_model`.

Any module whose forward returns ``(F^LR, M^LR)``, ``(F^LR, M^LR, intermediates)`` or ``(F^LR, M^LR, intermediates,
extras)`` (``extras`` a dict of further outputs, e.g. the AE hourglass's ``"tags"``) and that has the attributes
``feature_channels`` and ``num_keypoints`` is a base model; :class:`PoseModel` is the one generic wrapper that
attaches the head to it.

State-dict names are the canonical ones of :mod:`enhancenet_core.namemap`: the base model's tensors carry no
prefix (exactly the names of HRNet's / bearpaw's checkpoints) and the head's start with ``enhance.``. The
``base`` attribute would add a ``base.`` prefix; two state-dict hooks remove it on save and restore it on load,
so ``state_dict()`` / ``load_state_dict()`` speak canonical names while ``named_parameters()`` keeps the
module path (``base.conv1.weight``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_torch.models.ae_hourglass import AeHourglass
from enhancenet_torch.models.cpn import CPN
from enhancenet_torch.models.dlcm import Dlcm
from enhancenet_torch.models.head import EnhanceNet
from enhancenet_torch.models.hourglass import StackedHourglass
from enhancenet_torch.models.hrnet import HRNet
from enhancenet_torch.models.pretrained import load_backbone_weights
from enhancenet_torch.models.simple_baseline import SimpleBaseline

BASE_PREFIX = "base."
HEAD_ATTRIBUTE = "enhance"

#: Base model name -> constructor ``(BaseModelConfig, num_keypoints) -> nn.Module``.
BASE_MODELS: dict[BaseModelName, Any] = {
    BaseModelName.SIMPLE_BASELINE: SimpleBaseline,
    BaseModelName.HRNET: HRNet,
    BaseModelName.HOURGLASS: StackedHourglass,
    BaseModelName.CPN: CPN,
    BaseModelName.DLCM: Dlcm,
    BaseModelName.AE_HOURGLASS: AeHourglass,
}


class PoseModel(nn.Module):
    """Base model + optional EnhanceNet head.

    ``forward(images (N, 3, H, W))`` returns a dict:

    - ``"lr"``: M^LR (N, K, h, w) of the final stage;
    - ``"features"``: F^LR (N, C_F, h, w);
    - ``"hr"``: M^HR (N, K, r*h, r*w), only when the head is attached;
    - ``"intermediate"``: list of earlier-stage M^LR (N, K, h, w), only for multi-stage models (hourglass
      stacks before the last, CPN GlobalNet levels; DLCM: its stacks before the last, (N, P_l, h, w) of levels
      1, 2, 3, 2; the AE hourglass's earlier detection maps);
    - ``"tags"``: the AE hourglass's tag maps of every stack, a list of (N, K, h, w) (bottom-up only).
    """

    def __init__(self, base: nn.Module, enhance: EnhanceNet | None = None) -> None:
        super().__init__()
        for attr in ("feature_channels", "num_keypoints"):
            if not hasattr(base, attr):
                raise TypeError(f"PoseModel: the base model {type(base).__name__} has no attribute {attr!r}")
        self.base = base
        if enhance is not None:
            self.enhance = enhance
        self.register_state_dict_post_hook(_strip_base_prefix)
        self.register_load_state_dict_pre_hook(_add_base_prefix)

    @property
    def has_head(self) -> bool:
        """Whether the EnhanceNet head is attached."""
        return HEAD_ATTRIBUTE in self._modules

    def forward(self, images: Tensor) -> dict[str, Tensor | list[Tensor]]:
        """Images (N, 3, H, W) -> {"lr", "features"[, "hr"][, "intermediate"][, "tags"]} (see the class docstring)."""
        out = self.base(images)
        features, heatmaps = out[0], out[1]
        result: dict[str, Tensor | list[Tensor]] = {"lr": heatmaps, "features": features}
        if self.has_head:
            result["hr"] = self.enhance(features, heatmaps)
        if len(out) > 2:
            result["intermediate"] = list(out[2])
        if len(out) > 3:
            result.update(out[3])
        return result


def _strip_base_prefix(module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """``{prefix}base.X`` -> ``{prefix}X`` in place, keeping the order of the keys."""
    full = prefix + BASE_PREFIX
    keys = [k for k in state_dict if k.startswith(prefix)]
    items = [(k, state_dict.pop(k)) for k in keys]
    for k, v in items:
        state_dict[prefix + k[len(full):] if k.startswith(full) else k] = v


def _add_base_prefix(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
    missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str],
) -> None:
    """``{prefix}X`` -> ``{prefix}base.X`` for every key that is not a head key (in place)."""
    head = prefix + HEAD_ATTRIBUTE + "."
    keys = [k for k in state_dict if k.startswith(prefix) and not k.startswith(head)
            and not k.startswith(prefix + BASE_PREFIX)]
    for k in keys:
        state_dict[prefix + BASE_PREFIX + k[len(prefix):]] = state_dict.pop(k)


def attach_enhancenet(base: nn.Module, model_cfg: ModelConfig) -> PoseModel:
    """Wrap ``base`` (returns (F^LR, M^LR[, intermediates])) with the head of ``model_cfg`` if enabled."""
    head = None
    if model_cfg.head.enabled:
        head = EnhanceNet(model_cfg.head, base.feature_channels, base.num_keypoints)
    return PoseModel(base, head)


def build_base(model_cfg: ModelConfig) -> nn.Module:
    """The base model named by ``model_cfg.base.name`` with ``model_cfg.num_keypoints`` outputs."""
    name = BaseModelName(model_cfg.base.name)
    if model_cfg.num_keypoints < 1:
        raise ValueError(f"model.num_keypoints: expected >= 1, got {model_cfg.num_keypoints}")
    return BASE_MODELS[name](model_cfg.base, model_cfg.num_keypoints)


def build_model(model_cfg: ModelConfig) -> PoseModel:
    """Build the full model of ``model_cfg``: base model, EnhanceNet head (when enabled), pretrained backbone.

    ``model_cfg.base.pretrained`` is a local path to ImageNet weights of the backbone (a ``.safetensors``
    state dict with torchvision ResNet or HRNet ImageNet names; a ``.pth`` converts once with ``enhancenet-convert
    --trust-pickle``); it is never downloaded.
    """
    model = attach_enhancenet(build_base(model_cfg), model_cfg)
    if model_cfg.base.pretrained:
        load_backbone_weights(model.base, model_cfg.base.pretrained, model_cfg)
    return model


