"""DLCM (Deeply Learned Compositional Models, Tang, Yu & Wu, ECCV 2018) spec: hierarchy, bone-map targets,
flip, loss and the network's canonical names.

Follows the authors' public Lua Torch code; every choice where it is silent or where this spec departs from
it is listed in the README section "DLCM (compositional)".

* :mod:`~enhancenet_core.compositional.hierarchy`: the levels, children and partners (:data:`MPII_HIERARCHY`);
* :mod:`~enhancenet_core.compositional.bonemaps`: bone maps of composite parts (pure array functions);
* :mod:`~enhancenet_core.compositional.codec`: the scheme as a codec (:class:`BoneMapCodec`, :func:`dlcm_codecs`);
* :mod:`~enhancenet_core.compositional.flip`: mirror and swap partners at every level;
* :mod:`~enhancenet_core.compositional.loss`: every level's supervision plus η·L^HR;
* :mod:`~enhancenet_core.compositional.network`: :class:`DlcmConfig` and the canonical tensor names.
"""

from enhancenet_core.compositional.bonemaps import bone_map_ends, compose_maps, draw_bones, segment_distances
from enhancenet_core.compositional.codec import BoneMapCodec, CompositionalTargets, DlcmCodecs, dlcm_codecs
from enhancenet_core.compositional.flip import flip_levels, swap_partners
from enhancenet_core.compositional.hierarchy import MPII_HIERARCHY, Hierarchy, Level, out_levels
from enhancenet_core.compositional.loss import (
    dlcm_loss,
    dlcm_loss_terms,
    joints_mse,
    level_batch,
    level_target_keys,
)
from enhancenet_core.compositional.network import DlcmConfig, dlcm_config, dlcm_parameter_specs

__all__ = [
    "MPII_HIERARCHY",
    "BoneMapCodec",
    "CompositionalTargets",
    "DlcmCodecs",
    "DlcmConfig",
    "Hierarchy",
    "Level",
    "bone_map_ends",
    "compose_maps",
    "dlcm_codecs",
    "dlcm_config",
    "dlcm_loss",
    "dlcm_loss_terms",
    "dlcm_parameter_specs",
    "draw_bones",
    "flip_levels",
    "joints_mse",
    "level_batch",
    "level_target_keys",
    "out_levels",
    "segment_distances",
    "swap_partners",
]
