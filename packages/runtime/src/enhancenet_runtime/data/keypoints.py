"""Keypoint sets of the data sets we read: names, skeletons and the upper/lower-body split of half-body
augmentation (HRNet's ``upper_body_ids`` / ``lower_body_ids``). Flip pairs live in :mod:`enhancenet_core.config`
(``COCO_FLIP_PAIRS``, ``MPII_FLIP_PAIRS``) and are re-exported here.
"""

from __future__ import annotations

from enhancenet_core.config import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS

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

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# COCO's category "skeleton": 1-based keypoint index pairs, exactly as in person_keypoints_*.json.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
COCO_UPPER_BODY_IDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
COCO_LOWER_BODY_IDS: tuple[int, ...] = (11, 12, 13, 14, 15, 16)

# MPII joint order of HRNet's JSON annotations (0-based).
MPII_KEYPOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip
MPII_UPPER_BODY_IDS: tuple[int, ...] = (7, 8, 9, 10, 11, 12, 13, 14, 15)
MPII_LOWER_BODY_IDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


def body_parts_for(num_joints: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(upper_body_ids, lower_body_ids) for a skeleton of ``num_joints`` joints: 17 = COCO, 16 = MPII.

    Raises:
        ValueError: for any other joint count (pass the sets explicitly to the augmentation instead).
    """
    if num_joints == len(COCO_KEYPOINT_NAMES):
        return COCO_UPPER_BODY_IDS, COCO_LOWER_BODY_IDS
    if num_joints == len(MPII_KEYPOINT_NAMES):
        return MPII_UPPER_BODY_IDS, MPII_LOWER_BODY_IDS
    raise ValueError(
        f"num_joints={num_joints}: no known upper/lower body split (17 = COCO, 16 = MPII); "
        "pass upper_body_ids/lower_body_ids explicitly"
    )
