"""ImageNet backbone initialisation (``model.base.pretrained``), for :func:`~enhancenet_mindspore.models.build_model`.

Lives under ``models`` (not ``weights``) so that building a model never imports the weight-file module, which
itself depends on the models (no import cycle). Reads ``.safetensors`` or MindSpore ``.ckpt`` (never pickle).
"""

from __future__ import annotations

import os
from collections import OrderedDict

from mindspore import nn

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_mindspore.models.names import assign_in_place, canonical_parameters, read_state_dict

__all__ = ["load_backbone_weights"]


def load_backbone_weights(base: nn.Cell, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of the base model ``base`` from local ImageNet weights (never downloaded).

    ResNet (SimpleBaseline, CPN's ``resnet`` trunk): torchvision / HRNet names ``conv1``, ``bn1``,
    ``layer1..4`` (``fc`` ignored). HRNet: the ImageNet HRNet names of the stem, ``layer1``,
    ``transition1..3`` and ``stage2..4`` (classification-only layers ignored), as HRNet's
    ``PRETRAINED_LAYERS``; mmpose's names too. Every backbone tensor of the model must be in the file with the
    right shape, else one ValueError names the file and lists each offending tensor, and nothing is loaded. The
    rest of the model (deconvolutions, final layer, head) keeps its initialisation. Values are written in place
    (:func:`~enhancenet_mindspore.models.names.assign_in_place`), cast to float32.
    """
    prefixes = canonical.backbone_prefixes(model_cfg)
    name = BaseModelName(model_cfg.base.name)
    source = os.fspath(path)
    found = read_state_dict(path)
    target = base.resnet if canonical.pretrained_on_trunk(model_cfg) else base  # CPN's ImageNet trunk
    own = OrderedDict((k, p) for k, p in canonical_parameters(target).items() if k.startswith(prefixes))
    shapes = {k: tuple(p.shape) for k, p in own.items()}
    chosen = foreign_names.pretrained_tensors(found, shapes, model_cfg, source)  # mmpose names too
    canonical.check_tensors(chosen, shapes, f"{source} (ImageNet {name.value} backbone)")
    for k, param in own.items():
        assign_in_place(param, chosen[k])
