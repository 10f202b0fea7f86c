"""Checkpoints of other code bases (mmpose 1.x / 0.x, HRNet repository, bearpaw pytorch-pose) into a MindSpore
model's base model, from a ``.safetensors`` file holding their names (a trusted ``.pth`` is converted once with
``enhancenet-convert ... --trust-pickle``; MindSpore never reads a PyTorch pickle). Names are mapped by
:mod:`enhancenet_core.foreign_names`, shared with every framework; see the README's checkpoint table. Every tensor
is checked before anything is copied; the EnhanceNet head keeps its initialisation.
"""

from __future__ import annotations

import os

from enhancenet_core import canonical, foreign_names
from enhancenet_core.config import ModelConfig
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_mindspore.weights import assign_in_place, canonical_parameters

__all__ = ["load_foreign_checkpoint"]


def load_foreign_checkpoint(model, path: str | os.PathLike[str], model_cfg: ModelConfig,
                            layout: str | None = None) -> str:
    """Load a foreign ``.safetensors`` checkpoint into the base model of ``model``; returns the layout key.

    Raises:
        ForeignCheckpointError: one line naming the first tensor that does not fit; nothing loaded.
        ValueError: not a safetensors file, a non-floating or non-finite tensor.
    """
    source = os.fspath(path)
    arrays, _ = canonical.read_safetensors(path)
    own = {k: p for k, p in canonical_parameters(model).items() if not k.startswith(HEAD_PREFIX)}
    shapes = {k: tuple(int(d) for d in p.shape) for k, p in own.items()}
    mapped = foreign_names.to_canonical(arrays, model_cfg, source, expected=shapes, layout=layout)
    canonical.check_tensors(mapped, shapes, source)
    canonical.check_finite(mapped, source)
    for name, param in own.items():
        assign_in_place(param, mapped[name])
    return layout or foreign_names.detect_layout(arrays)
