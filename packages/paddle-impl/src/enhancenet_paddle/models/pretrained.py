"""ImageNet backbone initialisation (``model.base.pretrained``), for :func:`~enhancenet_paddle.models.build_model`.

Lives under ``models`` (not ``weights``) so that building a model never imports the weight-file module, which
itself depends on the models (no import cycle). Reads ``.safetensors`` only; nothing is unpickled here.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
from paddle import nn

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.safetensors_io import check_not_pickle
from enhancenet_paddle.models.names import assign_arrays, base_state_dict, canonical_name, tensor_shapes

__all__ = ["load_backbone_weights", "read_safetensors_arrays"]


def read_safetensors_arrays(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """Arrays of a ``.safetensors`` file under canonical names (Paddle BN names mapped, ``module.`` removed).

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
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, v in arrays.items():
        out[canonical_name(k[len("module."):] if k.startswith("module.") else k, strip_base=False)] = v
    return out


def load_backbone_weights(base: nn.Layer, path: str | os.PathLike[str], model_cfg: ModelConfig) -> None:
    """Initialise the backbone of the base model ``base`` from local ImageNet weights (never downloaded).

    ResNet (SimpleBaseline, CPN): torchvision / HRNet names ``conv1``, ``bn1``, ``layer1..4`` (``fc`` ignored).
    HRNet: the ImageNet HRNet names of the stem, ``layer1``, ``transition1..3`` and ``stage2..4``; mmpose's
    names are accepted too. Every backbone tensor must be in the file with the right shape, else ValueError
    lists them and nothing is loaded.
    """
    prefixes = canonical.backbone_prefixes(model_cfg)
    name = BaseModelName(model_cfg.base.name)
    source = os.fspath(path)
    found = read_safetensors_arrays(path)
    target = base.resnet if canonical.pretrained_on_trunk(model_cfg) else base  # CPN's ImageNet trunk
    own = {k: v for k, v in base_state_dict(target).items() if k.startswith(prefixes)}
    chosen = OrderedDict(foreign_names.pretrained_tensors(found, tensor_shapes(own), model_cfg, source))
    canonical.check_tensors(chosen, tensor_shapes(own), f"{source} (ImageNet {name.value} backbone)")
    assign_arrays(own, chosen)
