"""Evaluation metrics: MPII PCKh, COCO keypoint AP/AR (ours and pycocotools), OKS-NMS, error types.

Modules:
    :mod:`~enhancenet_core.metrics.pckh`: MPII PCKh (official protocol, HRNet legacy value, PCKh-vs-α curve).
    :mod:`~enhancenet_core.metrics.oks`: OKS and the per-keypoint σ constants.
    :mod:`~enhancenet_core.metrics.coco`: COCO file reading/checking, atomic result writing, pycocotools wrapper.
    :mod:`~enhancenet_core.metrics.coco_eval`: our NumPy COCO keypoint evaluator (pycocotools' numbers).
    :mod:`~enhancenet_core.metrics.nms`: HRNet's OKS-NMS and rescoring for top-down evaluation.
    :mod:`~enhancenet_core.metrics.errors`: Ronchi & Perona keypoint error types (good/jitter/inversion/swap/miss).
"""

from enhancenet_core.metrics.coco import (
    STAT_NAMES,
    evaluate_with_pycocotools,
    format_stats,
    keypoint_results,
    load_keypoint_results,
    write_keypoint_results,
)
from enhancenet_core.metrics.coco_eval import CocoEvalResult, CocoKeypointEvaluator, evaluate_coco
from enhancenet_core.metrics.errors import (
    KeypointErrorType,
    analyze_keypoint_errors,
    compare_error_frequencies,
)
from enhancenet_core.metrics.nms import oks_nms, rescore_and_nms
from enhancenet_core.metrics.oks import (
    COCO_FLIP_INDEX,
    COCO_SIGMAS,
    CROWDPOSE_SIGMAS,
    keypoint_similarity,
    oks_matrix,
)
from enhancenet_core.metrics.pckh import CoordinateBase, TieRule, compute_pckh, evaluate_mpii_files

__all__ = [
    "COCO_FLIP_INDEX",
    "COCO_SIGMAS",
    "CROWDPOSE_SIGMAS",
    "STAT_NAMES",
    "CocoEvalResult",
    "CocoKeypointEvaluator",
    "CoordinateBase",
    "KeypointErrorType",
    "TieRule",
    "analyze_keypoint_errors",
    "compare_error_frequencies",
    "compute_pckh",
    "evaluate_coco",
    "evaluate_mpii_files",
    "evaluate_with_pycocotools",
    "format_stats",
    "keypoint_results",
    "keypoint_similarity",
    "load_keypoint_results",
    "oks_matrix",
    "oks_nms",
    "rescore_and_nms",
    "write_keypoint_results",
]
