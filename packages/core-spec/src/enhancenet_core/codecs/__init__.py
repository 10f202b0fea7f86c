"""Codecs: one object per heat-map scheme, joints -> target maps (encode) and maps -> keypoints (decode).

The mmpose ``codecs/`` idea in this project's vocabulary: a codec holds the sizes, σ and conventions of one kind
of map and calls the spec's pure functions (:mod:`~enhancenet_core.targets`, :mod:`~enhancenet_core.decoders`,
:mod:`~enhancenet_core.coordinates`, :mod:`~enhancenet_core.flip`). :func:`heatmap_codecs` builds the LR and HR
codecs of an experiment from its config and is the one place where r·σ, the HR map size, the decoder and the
flip-shift rule are derived.

Schemes today: :class:`GaussianHeatmapCodec` (top-down Gaussian maps, LEGACY, UNBIASED or DARKPOSE convention),
used for M^LR and M^HR. Further schemes (bottom-up multi-peak, DLCM bone maps) will be further codecs here.
"""

from enhancenet_core.codecs.gaussian import (
    GaussianHeatmapCodec,
    HeatmapCodecs,
    generate_lr_hr_targets,
    heatmap_codecs,
)

__all__ = ["GaussianHeatmapCodec", "HeatmapCodecs", "generate_lr_hr_targets", "heatmap_codecs"]
