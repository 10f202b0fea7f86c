"""ImageNet backbone initialisation (``model.base.pretrained``), for :func:`~enhancenet_torch.models.build_model`.

Lives under ``models`` (not ``weights``) so that building a model never imports the weight-file module, which
itself depends on the models (no import cycle). Reads ``.safetensors`` only: a ``.pth`` is converted once with
``enhancenet-convert --trust-pickle``; nothing is unpickled here.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor, nn

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.safetensors_io import check_not_pickle

__all__ = ["canonical_state_dict", "load_backbone_weights", "read_safetensors_state_dict"]


def canonical_state_dict(model: nn.Module) -> OrderedDict[str, Tensor]:
    """``model.state_dict()`` without BN ``num_batches_tracked``: exactly the canonical tensors."""
    return OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


def read_safetensors_state_dict(path: str | os.PathLike[str]) -> OrderedDict[str, Tensor]:
    """Tensors of a ``.safetensors`` file, a ``module.`` prefix (DataParallel) removed.

    Raises:
        FileNotFoundError: no such file.
        PickleRefusedError: a pickle file (nothing unpickled; the message says how to convert it).
        ValueError: any other kind of file, naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    if path.suffix != ".safetensors":
        check_not_pickle(path)
        raise ValueError(f"{path}: expected a .safetensors weight file")
    arrays, _ = canonical.read_safetensors(path)
    return OrderedDict(
        (k[len("module."):] if k.startswith("module.") else k, torch.from_numpy(v)) for k, v in arrays.items()
    )


def load_backbone_weights(base: nn.Module, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of the base model ``base`` from local ImageNet weights (never downloaded).

    ResNet (SimpleBaseline, CPN): torchvision / HRNet names ``conv1``, ``bn1``, ``layer1..4`` (``fc`` ignored).
    HRNet: the ImageNet HRNet names of the stem, ``layer1``, ``transition1..3`` and ``stage2..4`` (the
    classification-only layers are ignored), as HRNet's ``PRETRAINED_LAYERS``; mmpose's names are accepted too.
    Every backbone tensor must be in the file with the right shape, else ValueError lists them and nothing is
    loaded.
    """
    prefixes = canonical.backbone_prefixes(model_cfg)
    name = BaseModelName(model_cfg.base.name)
    source = os.fspath(path)
    found = read_safetensors_state_dict(path)
    target = base.resnet if canonical.pretrained_on_trunk(model_cfg) else base  # CPN's ImageNet trunk
    expected = {
        k: tuple(v.shape) for k, v in canonical_state_dict(target).items() if k.startswith(prefixes)
    }
    chosen = OrderedDict(foreign_names.pretrained_tensors(found, expected, model_cfg, source))  # mmpose names too
    canonical.check_tensors(chosen, expected, f"{source} (ImageNet {name.value} backbone)")
    target.load_state_dict(chosen, strict=False)
