"""The DLCM network's shape as data: its configuration and canonical tensor names (for every implementation).

DLCM stacks ``2L - 1`` hourglasses (five for three levels): a bottom-up pass predicting levels ``1 .. L``, then a
top-down pass predicting ``L-1 .. 1`` (:func:`~enhancenet_core.compositional.hierarchy.out_levels`); the last
stack's level-1 maps are M^LR and its ``fc`` output is F^LR. Per stack ``s`` of level ``l``:

* top-down stacks only: ``skip.{s}``, a pre-activation bottleneck ``C -> C - P_l``, and the input becomes
  ``concat(bottom-up prediction of level l, skip(x))`` (C channels: prediction first), as the authors' code;
* ``hg.{s}``: an hourglass of ``depth`` poolings (``hg.{s}.hg.{d}.{j}.{b}``, bearpaw's names);
* ``fc.{s}``: 1x1 conv + BN + ReLU; ``score.{s}``: 1x1 conv to ``P_l`` maps;
* all but the last stack: ``x = x + fc_.{s}(y) + score_.{s}(score)`` (``x`` the stack's input).

The stem is the stacked hourglass's (``conv1`` 7x7/2, ``bn1``, ``layer1``, max pool, ``layer2``, ``layer3``) and
every residual module is bearpaw's pre-activation bottleneck (expansion 2), so DLCM shares its blocks with
the hourglass base model. Choices where the public code differs or is silent are listed in the README
(section "DLCM (compositional)").
"""

from __future__ import annotations

from dataclasses import dataclass

from enhancenet_core.architecture import HOURGLASS_DEPTH
from enhancenet_core.compositional.hierarchy import MPII_HIERARCHY, Hierarchy, out_levels
from enhancenet_core.config import BaseModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.tensor_specs import HOURGLASS_EXPANSION, TensorSpec
from enhancenet_core.tensor_specs import SpecCollector as _Specs
from enhancenet_core.tensor_specs import hourglass_block as _hg_block

__all__ = ["DlcmConfig", "dlcm_config", "dlcm_parameter_specs"]


@dataclass(frozen=True)
class DlcmConfig:
    """The DLCM network's size.

    Attributes:
        channels: feature channels of every hourglass (the authors' ``nFeats``, 256); even, and
            ``channels - P_l`` must be even and positive for every level (the top-down ``skip`` output).
        blocks: residual modules per hourglass position (``nResidual``, 1).
        depth: poolings per hourglass (4); the input must be divisible by ``4 · 2^depth``.
        hierarchy: the compositional structure (its level sizes are the output channels).
    """

    channels: int = 256
    blocks: int = 1
    depth: int = HOURGLASS_DEPTH
    hierarchy: Hierarchy = MPII_HIERARCHY

    def __post_init__(self) -> None:
        for name in ("channels", "blocks", "depth"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"DLCM {name}: expected a positive integer, got {v!r}")
        if self.channels % HOURGLASS_EXPANSION:
            raise ValueError(f"DLCM channels: expected an even number, got {self.channels}")
        for lv, p in enumerate(self.hierarchy.num_parts, start=1):
            rest = self.channels - p
            if rest < HOURGLASS_EXPANSION or rest % HOURGLASS_EXPANSION:
                raise ValueError(
                    f"DLCM channels: channels - parts of level {lv} ({self.channels} - {p}) must be even and positive"
                )

    @property
    def levels(self) -> tuple[int, ...]:
        """The level each stack predicts, e.g. ``(1, 2, 3, 2, 1)``."""
        return out_levels(self.hierarchy.num_levels)

    @property
    def stride(self) -> int:
        """Input pixels per map pixel (4) and the divisor the input size must meet (``4 · 2^depth``)."""
        return 4

    def check_input(self, height: int, width: int) -> None:
        """Raise ValueError unless an input of this size fits the hourglasses."""
        unit = 4 * 2**self.depth
        if height % unit or width % unit:
            raise ValueError(
                f"DLCM input: H and W must be divisible by {unit} (depth {self.depth}), got {(height, width)}"
            )


def dlcm_config(base: BaseModelConfig) -> DlcmConfig:
    """The DLCM network of a config's ``model.base`` (``name: dlcm``): ``hourglass_channels`` -> ``channels``,
    ``hourglass_blocks`` -> ``blocks``; the depth is the stacked hourglass's 4 (the authors'), the hierarchy MPII's.

    Raises ValueError naming the field when ``base`` is no DLCM or its sizes do not fit the hierarchy.
    """
    if BaseModelName(base.name) is not BaseModelName.DLCM:
        raise ValueError(f"model.base.name: expected 'dlcm', got {BaseModelName(base.name).value!r}")
    try:
        return DlcmConfig(channels=base.hourglass_channels, blocks=base.hourglass_blocks)
    except ValueError as exc:
        field = "hourglass_blocks" if "blocks" in str(exc).split(":")[0] else "hourglass_channels"
        raise ValueError(f"model.base.{field}: {exc}") from None


def dlcm_parameter_specs(cfg: DlcmConfig) -> dict[str, TensorSpec]:
    """Every canonical tensor of the DLCM network (no head), name -> :class:`TensorSpec`, in module order: the
    stem, then ``skip``, ``hg``, ``fc``, ``score``, ``fc_``, ``score_``, each over its stacks (one module list
    per name, registered in that order, as the stacked hourglass's)."""
    s = _Specs()
    ch, feats = cfg.channels, cfg.channels // HOURGLASS_EXPANSION
    s.conv("conv1", 3, 64, 7, True)
    s.bn("bn1", 64)
    c = _hg_block(s, "layer1.0", 64, 64)
    c = _hg_block(s, "layer2.0", c, c)
    _hg_block(s, "layer3.0", c, feats)
    parts = cfg.hierarchy.num_parts
    levels = cfg.levels
    top = cfg.hierarchy.num_levels
    for i, lv in enumerate(levels):
        p = parts[lv - 1]
        if i >= top:
            _hg_block(s, f"skip.{i}", ch, (ch - p) // HOURGLASS_EXPANSION)
        for d in range(cfg.depth):
            for j in range(4 if d == 0 else 3):
                for blk in range(cfg.blocks):
                    _hg_block(s, f"hg.{i}.hg.{d}.{j}.{blk}", ch, feats)
        s.conv(f"fc.{i}.0", ch, ch, 1, True)
        s.bn(f"fc.{i}.1", ch)
        s.conv(f"score.{i}", ch, p, 1, True)
        if i < len(levels) - 1:
            s.conv(f"fc_.{i}", ch, ch, 1, True)
            s.conv(f"score_.{i}", p, ch, 1, True)
    order = ("conv1", "bn1", "layer1", "layer2", "layer3", "skip", "hg", "fc", "score", "fc_", "score_")
    return {n: spec for top in order for n, spec in s.specs.items() if n.split(".", 1)[0] == top}
