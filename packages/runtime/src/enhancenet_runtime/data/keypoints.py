"""Keypoint sets of the data sets we read, as named constants: names, skeletons, flip pairs and the
upper/lower-body split of half-body augmentation (HRNet's ``upper_body_ids`` / ``lower_body_ids``).

All of them are views of the spec's data-set table (:data:`enhancenet_core.datasets.DATASETS`), the one
place they are written; code that has a config asks the table for its row
(``dataset_info(cfg.data.dataset)``) instead of using these names.
"""

from __future__ import annotations

from enhancenet_core.datasets import DatasetName, dataset_info, info_for_num_keypoints

__all__ = [
    "COCO_FLIP_PAIRS",
    "COCO_KEYPOINT_NAMES",
    "COCO_LOWER_BODY_IDS",
    "COCO_SKELETON",
    "COCO_UPPER_BODY_IDS",
    "MPII_FLIP_PAIRS",
    "MPII_KEYPOINT_NAMES",
    "MPII_LOWER_BODY_IDS",
    "MPII_UPPER_BODY_IDS",
    "body_parts_for",
]

_COCO = dataset_info(DatasetName.COCO)
_MPII = dataset_info(DatasetName.MPII)

COCO_KEYPOINT_NAMES: tuple[str, ...] = _COCO.keypoint_names
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = _COCO.flip_pairs
# COCO's category "skeleton": 1-based keypoint index pairs, exactly as in person_keypoints_*.json.
COCO_SKELETON: tuple[tuple[int, int], ...] = tuple((a + 1, b + 1) for a, b in _COCO.skeleton)
COCO_UPPER_BODY_IDS: tuple[int, ...] = _COCO.upper_body_ids
COCO_LOWER_BODY_IDS: tuple[int, ...] = _COCO.lower_body_ids

# MPII joint order of HRNet's JSON annotations (0-based).
MPII_KEYPOINT_NAMES: tuple[str, ...] = _MPII.keypoint_names
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = _MPII.flip_pairs
MPII_UPPER_BODY_IDS: tuple[int, ...] = _MPII.upper_body_ids
MPII_LOWER_BODY_IDS: tuple[int, ...] = _MPII.lower_body_ids


def body_parts_for(num_joints: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(upper_body_ids, lower_body_ids) of the table's first row with K = ``num_joints`` (17 = COCO, 16 = MPII).
    The sample pipeline takes them from ``data.dataset``'s row instead.

    Raises:
        ValueError: for any other joint count (pass the sets explicitly to the augmentation instead).
    """
    info = info_for_num_keypoints(num_joints)
    if info is None:
        raise ValueError(
            f"num_joints={num_joints}: no known upper/lower body split (17 = COCO, 16 = MPII); "
            "pass upper_body_ids/lower_body_ids explicitly"
        )
    return info.upper_body_ids, info.lower_body_ids
