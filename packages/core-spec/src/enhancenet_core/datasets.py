"""The data sets we know, as data: one row of keypoint metadata per data set, in one table.

``data.dataset`` in a config file is a string (``coco``, ``mpii``, ``synthetic``); the config decodes it once
into :class:`DatasetName`, and everything downstream asks :func:`dataset_info` for the row instead of comparing
names. A row (:class:`DatasetInfo`) holds

- the keypoints: names (their order is the channel order of the heat maps), K, left/right ``flip_pairs``,
  the ``skeleton`` (0-based limbs, for pictures), the ``upper_body_ids`` / ``lower_body_ids`` of HRNet's
  half-body augmentation;
- the evaluation: ``metric`` (COCO keypoint AP through OKS, or MPII PCKh) and the per-keypoint ``oks_sigmas``
  the AP needs (COCO's are pycocotools' ``Params.kpt_oks_sigmas``; MPII has none, its metric is PCKh);
- ``loader``: which record reader the runtime opens the annotation files with (the HRNet COCO layout or
  HRNet's MPII JSON);
- ``checks_num_keypoints``: whether config validation requires ``model.num_keypoints == K``.

Every row is checked when it is built (:meth:`DatasetInfo.__post_init__`), so a row read from a user's file
later gets the same checks as the shipped ones. This module imports nothing else of the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetName",
    "Metric",
    "RecordLoader",
    "dataset_info",
    "info_for_num_keypoints",
]


class DatasetName(StrEnum):
    """The shipped data sets; the values are the strings of ``data.dataset`` in config files."""

    COCO = "coco"  # COCO person keypoints (HRNet directory layout)
    MPII = "mpii"  # MPII Human Pose (HRNet's JSON annotations)
    SYNTHETIC = "synthetic"  # the generated COCO-format stand-in (enhancenet_runtime.data.synthetic)


class Metric(StrEnum):
    """How predictions are scored."""

    COCO_AP = "coco_ap"  # OKS-based keypoint AP (pycocotools and ours), with the row's oks_sigmas
    PCKH = "pckh"  # MPII PCKh from the head boxes of the records


class RecordLoader(StrEnum):
    """Which annotation reader of the runtime (``enhancenet_runtime.data``) turns files into records."""

    COCO = "coco"  # person_keypoints_<set>.json (+ detections) under data.root, HRNet's COCO layout
    MPII = "mpii"  # annot/<set>.json under data.root, HRNet's MPII layout


Pair = tuple[int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """Keypoint and evaluation metadata of one data set. All indices are 0-based keypoint indices.

    Raises (when built):
        ValueError: naming the field, when names repeat, a pair or limb leaves ``[0, K)``, a keypoint appears
            in two flip pairs, ``oks_sigmas`` are not K positive numbers, or the COCO AP has no sigmas.
    """

    name: str  # the data.dataset value
    keypoint_names: tuple[str, ...]  # channel order of the heat maps; K = len(keypoint_names)
    flip_pairs: tuple[Pair, ...]  # (left, right) keypoints swapped by a horizontal flip
    skeleton: tuple[Pair, ...]  # limbs drawn between keypoints
    upper_body_ids: tuple[int, ...]  # HRNet's half-body augmentation: the upper body
    lower_body_ids: tuple[int, ...]  # ... and the lower body
    metric: Metric  # how predictions are scored
    loader: RecordLoader  # which record reader opens the annotation files
    oks_sigmas: tuple[float, ...] | None = None  # per-keypoint OKS σ (needed by Metric.COCO_AP)
    checks_num_keypoints: bool = True  # config validation requires model.num_keypoints == K

    @property
    def num_keypoints(self) -> int:
        """K."""
        return len(self.keypoint_names)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """``flip_index[k]``: the keypoint that ``k`` becomes in the mirror image (``k`` itself when unpaired)."""
        out = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            out[a], out[b] = b, a
        return tuple(out)

    def __post_init__(self) -> None:
        k = self.num_keypoints
        where = f"dataset {self.name!r}"
        if k < 1:
            raise ValueError(f"{where}: keypoint_names: expected at least one keypoint")
        if len(set(self.keypoint_names)) != k:
            dup = sorted({n for n in self.keypoint_names if self.keypoint_names.count(n) > 1})
            raise ValueError(f"{where}: keypoint_names: expected unique names, {dup} repeat")
        seen: dict[int, int] = {}
        for i, pair in enumerate(self.flip_pairs):
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"{where}: flip_pairs[{i}]: expected two different keypoints, got {pair}")
            for idx in pair:
                _check_index(idx, k, f"{where}: flip_pairs[{i}]")
                if idx in seen:
                    raise ValueError(f"{where}: flip_pairs[{i}]: keypoint {idx} already in flip_pairs[{seen[idx]}]")
                seen[idx] = i
        for i, limb in enumerate(self.skeleton):
            if len(limb) != 2:
                raise ValueError(f"{where}: skeleton[{i}]: expected two keypoints, got {limb}")
            for idx in limb:
                _check_index(idx, k, f"{where}: skeleton[{i}]")
        for field_name in ("upper_body_ids", "lower_body_ids"):
            ids = getattr(self, field_name)
            for idx in ids:
                _check_index(idx, k, f"{where}: {field_name}")
            if len(set(ids)) != len(ids):
                raise ValueError(f"{where}: {field_name}: expected unique keypoints, got {list(ids)}")
        if self.oks_sigmas is not None:
            if len(self.oks_sigmas) != k or not all(s > 0 for s in self.oks_sigmas):
                raise ValueError(
                    f"{where}: oks_sigmas: expected {k} positive numbers (one per keypoint), "
                    f"got {list(self.oks_sigmas)}"
                )
        elif self.metric is Metric.COCO_AP:
            raise ValueError(f"{where}: oks_sigmas: the COCO keypoint AP needs one σ per keypoint, got none")


def _check_index(idx: int, k: int, where: str) -> None:
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < k:
        raise ValueError(f"{where}: expected a keypoint index in [0, {k - 1}] (K={k}), got {idx!r}")


_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_COCO_FLIP_PAIRS: tuple[Pair, ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# The "skeleton" of COCO's person category (person_keypoints_*.json, 1-based there), 0-based.
_COCO_SKELETON: tuple[Pair, ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
# pycocotools' Params.kpt_oks_sigmas: np.array([.26, .25, ...]) / 10.0 (the same float64 division here).
_COCO_SIGMAS = tuple(
    s / 10.0
    for s in (0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89)
)
_COCO_UPPER = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
_COCO_LOWER = (11, 12, 13, 14, 15, 16)

# HRNet's MPII joint order.
_MPII_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip
# Legs, pelvis-thorax-neck-head, arms.
_MPII_SKELETON: tuple[Pair, ...] = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15),
)  # fmt: skip


def _coco_like(name: str, checks_num_keypoints: bool) -> DatasetInfo:
    return DatasetInfo(
        name=name, keypoint_names=_COCO_NAMES, flip_pairs=_COCO_FLIP_PAIRS, skeleton=_COCO_SKELETON,
        upper_body_ids=_COCO_UPPER, lower_body_ids=_COCO_LOWER, metric=Metric.COCO_AP, loader=RecordLoader.COCO,
        oks_sigmas=_COCO_SIGMAS, checks_num_keypoints=checks_num_keypoints,
    )  # fmt: skip


#: The table: one row per shipped data set. Rows differ in data only; no code branches on the names.
DATASETS: Mapping[DatasetName, DatasetInfo] = MappingProxyType({
    DatasetName.COCO: _coco_like("coco", checks_num_keypoints=True),
    DatasetName.MPII: DatasetInfo(
        name="mpii", keypoint_names=_MPII_NAMES,
        flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)), skeleton=_MPII_SKELETON,
        upper_body_ids=(7, 8, 9, 10, 11, 12, 13, 14, 15), lower_body_ids=(0, 1, 2, 3, 4, 5, 6),
        metric=Metric.PCKH, loader=RecordLoader.MPII, oks_sigmas=None,
    ),
    # COCO's keypoints; K is not bound by the config (as before the table: a wrong K is reported by the
    # flip-pair check or when the generated records are read).
    DatasetName.SYNTHETIC: _coco_like("synthetic", checks_num_keypoints=False),
})  # fmt: skip


def dataset_info(name: DatasetName | str) -> DatasetInfo:
    """The row of ``name`` (a :class:`DatasetName` or its string).

    Raises:
        ValueError: ``data.dataset: expected one of [...]`` for an unknown name.
    """
    try:
        return DATASETS[DatasetName(name)]
    except ValueError:
        raise ValueError(
            f"data.dataset: expected one of {[d.value for d in DatasetName]}, got {name!r}"
        ) from None


def info_for_num_keypoints(num_keypoints: int) -> DatasetInfo | None:
    """The first row (table order) with K = ``num_keypoints``, or None: for code that only knows K (e.g. a
    picture of a model's output without its config)."""
    for info in DATASETS.values():
        if info.num_keypoints == num_keypoints:
            return info
    return None
