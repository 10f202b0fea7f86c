"""Bottom-up (Associative Embedding) spec: multi-peak targets, AE losses and the grouping parser.

Follows pose-ae-train (``princeton-vl/pose-ae-train``), the code the paper used for its bottom-up rows; every
choice is listed in the README section "Bottom-up (Associative Embedding)".

* :mod:`~enhancenet_core.bottomup.targets`: multi-peak LR/HR targets, crowd loss masks, joint masks;
* :mod:`~enhancenet_core.bottomup.loss`: tag (push/pull) and detection losses;
* :mod:`~enhancenet_core.bottomup.candidates`: NMS, top-k, reading tags under LR or HR detections;
* :mod:`~enhancenet_core.bottomup.assignment`: the Hungarian step (munkres-compatible or SciPy);
* :mod:`~enhancenet_core.bottomup.grouping`: the parser and its :class:`GroupingParams`;
* :mod:`~enhancenet_core.bottomup.refine`: ``adjust`` and ``refine``;
* :mod:`~enhancenet_core.bottomup.codec`: the scheme as a codec (encode/decode);
* :mod:`~enhancenet_core.bottomup.geometry`: whole-image affine, test input sizes, back-projection.
"""

from enhancenet_core.bottomup.assignment import AssignmentSolver, min_cost_assignment
from enhancenet_core.bottomup.candidates import TagReading
from enhancenet_core.bottomup.codec import (
    MultiPeakCodecs,
    MultiPeakHeatmapCodec,
    MultiPeakTargets,
    multi_peak_codecs,
)
from enhancenet_core.bottomup.geometry import (
    ae_transform,
    affine_points,
    input_side_at_scale,
    invert_affine,
    whole_image_center_scale,
)
from enhancenet_core.bottomup.grouping import (
    COCO_AE_JOINT_ORDER,
    Grouping,
    GroupingParams,
    PersonKeying,
    group,
    group_batch,
)
from enhancenet_core.bottomup.loss import ae_total_loss, detection_loss, tag_loss
from enhancenet_core.bottomup.refine import RefineMode
from enhancenet_core.bottomup.targets import crowd_loss_mask, joint_mask, render_multi_peak, upsample_mask

__all__ = [
    "COCO_AE_JOINT_ORDER",
    "AssignmentSolver",
    "Grouping",
    "GroupingParams",
    "MultiPeakCodecs",
    "MultiPeakHeatmapCodec",
    "MultiPeakTargets",
    "PersonKeying",
    "RefineMode",
    "TagReading",
    "ae_total_loss",
    "ae_transform",
    "affine_points",
    "crowd_loss_mask",
    "detection_loss",
    "group",
    "group_batch",
    "input_side_at_scale",
    "invert_affine",
    "joint_mask",
    "min_cost_assignment",
    "multi_peak_codecs",
    "render_multi_peak",
    "tag_loss",
    "upsample_mask",
    "whole_image_center_scale",
]
