"""Framework-free data handling: annotation readers, the top-down sample pipeline, augmentation and a
synthetic COCO-format data set. Written once here; torch, paddle and mindspore wrap :class:`PoseDataset`.

Modules:
    records       :class:`PoseRecord`, one person instance (image, center/scale, joints, box, score, area).
    coco          COCO keypoints (GT boxes, detector results) -> records, with counted skips (HRNet rules).
    mpii          HRNet-style MPII JSON -> records (HRNet's centre/scale adjustments).
    keypoints     keypoint names, skeletons, flip pairs, half-body joint sets.
    augmentation  HRNet's scale / rotation / flip / half-body decisions over an explicit Generator.
    image         read_image, crop_patch (affine warp), normalize_image.            [needs OpenCV]
    pipeline      build_train_sample, build_test_sample, PoseDataset, collate (targets per batch). [OpenCV]
    synthetic     generate_synthetic_coco (+ CLI).                                  [needs OpenCV, tqdm]
    synthetic_multi  generate_multi_person_coco: multi-person scenes, crowds (+ CLI). [needs OpenCV]
    segmentation  COCO polygons / RLE <-> masks (crowd regions).                  [needs OpenCV]
    bottomup      whole-image multi-person samples, pose-ae-train's affine, batch targets. [needs OpenCV]

OpenCV comes with the ``enhancenet-core[data]`` extra. The readers and the augmentation import without it;
the names of the OpenCV modules are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from enhancenet_runtime.data.augmentation import (
    AugmentationParams,
    apply_flip,
    half_body_center_scale,
    no_augmentation,
    sample_augmentation,
)
from enhancenet_runtime.data.coco import (
    LoadResult,
    coco_paths,
    load_coco_det_records,
    load_coco_gt_records,
    load_coco_records,
)
from enhancenet_runtime.data.mpii import load_mpii_records, load_mpii_records_from_config, mpii_paths
from enhancenet_runtime.data.records import PoseRecord, check_image_files

_LAZY = {
    "IMAGENET_MEAN": "image",
    "IMAGENET_STD": "image",
    "crop_patch": "image",
    "normalize_image": "image",
    "read_image": "image",
    "PoseDataset": "pipeline",
    "build_sample": "pipeline",
    "build_test_sample": "pipeline",
    "build_train_sample": "pipeline",
    "collate_samples": "pipeline",
    "load_records": "pipeline",
    "render_targets": "pipeline",
    "SyntheticDataset": "synthetic",
    "generate_synthetic_coco": "synthetic",
    "MultiPersonDataset": "synthetic_multi",
    "generate_multi_person_coco": "synthetic_multi",
    "decode_segmentation": "segmentation",
    "encode_rle": "segmentation",
    "BottomUpDataset": "bottomup",
    "BottomUpRecord": "bottomup",
    "build_bottomup_sample": "bottomup",
    "collate_bottomup": "bottomup",
    "load_bottomup_records": "bottomup",
}

__all__ = [
    "AugmentationParams",
    "LoadResult",
    "PoseRecord",
    "apply_flip",
    "check_image_files",
    "coco_paths",
    "half_body_center_scale",
    "load_coco_det_records",
    "load_coco_gt_records",
    "load_coco_records",
    "load_mpii_records",
    "load_mpii_records_from_config",
    "mpii_paths",
    "no_augmentation",
    "sample_augmentation",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'enhancenet_runtime.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"enhancenet_runtime.data.{module}"), name)
