"""The data set of a split, as every framework's training and evaluation opens it.

A config whose base model is bottom-up (``model.base.name: ae_hourglass``, :func:`is_bottom_up`) opens the
whole-image pipeline (:class:`~enhancenet_runtime.data.bottomup.BottomUpDataset`: one sample per image, every
person, collated with the multi-peak targets of the AE loss); every other config the top-down
:class:`~enhancenet_runtime.data.pipeline.PoseDataset` (one sample per person box).
"""

from __future__ import annotations

from typing import Any

from enhancenet_core.config import Config
from enhancenet_core.conventions import BaseModelName

__all__ = ["is_bottom_up", "open_bottomup_split", "open_split"]

BOTTOM_UP_MODELS = (BaseModelName.AE_HOURGLASS,)


def is_bottom_up(cfg: Config) -> bool:
    """Whether ``cfg``'s model is a bottom-up one (whole images, AE loss, grouping at test time)."""
    return cfg.model.base.name in BOTTOM_UP_MODELS


def open_split(cfg: Config, train: bool) -> Any:
    """The core data set of the training (``train=True``) or test split: :func:`open_bottomup_split` for a
    bottom-up config, else the top-down :class:`~enhancenet_runtime.data.pipeline.PoseDataset`.

    A framework wraps it (a torch ``Dataset``, a Paddle ``io.Dataset``, a MindSpore generator); the samples,
    their per-index RNG and the targets are the core's.

    Raises:
        FileNotFoundError: a missing annotation, detection or image file (named by enhancenet-core).
        ValueError: the split has no usable person instance (e.g. no annotation with keypoints), naming the
            config field, the split, the file and the counted reasons every annotation was skipped for.
    """
    if is_bottom_up(cfg):
        return open_bottomup_split(cfg, train)
    from enhancenet_runtime.data import PoseDataset, load_records

    loaded = load_records(cfg, train)
    if len(loaded.records) == 0:
        field = "train_set" if train else "test_set"
        reasons = ", ".join(f"{k}: {v}" for k, v in dict(loaded.skipped).items()) or "the file lists none"
        raise ValueError(
            f"data.{field}={getattr(cfg.data, field)!r}: no usable person instance in {loaded.source} "
            f"(skipped: {reasons})"
        )
    return PoseDataset(loaded, cfg, train)


def open_bottomup_split(cfg: Config, train: bool) -> Any:
    """The whole-image :class:`~enhancenet_runtime.data.bottomup.BottomUpDataset` of a split of a COCO-format
    data set (``data.train``/``data.test`` files or HRNet's layout under ``data.root``); training keeps only the
    images with a person (pose-ae-train), testing every image. ``ann_file`` on the result is the annotation
    file (the ground truth bottom-up AP is computed against).

    Raises:
        ValueError: a data set whose row is not read as COCO files (e.g. MPII: no whole-image people), or a
            split without an image to use (naming the field and the file).
        FileNotFoundError: a missing annotation file.
    """
    from enhancenet_core.datasets import RecordLoader, dataset_info
    from enhancenet_runtime.data.bottomup import BottomUpDataset, load_bottomup_records
    from enhancenet_runtime.data.coco import coco_split_paths

    loader = dataset_info(cfg.data.dataset).loader
    if loader is not RecordLoader.COCO:
        raise ValueError(f"data.dataset={cfg.data.dataset!r}: bottom-up models need COCO-format files (whole "
                         f"images with every person), this data set is read by the {loader.value!r} loader")  # fmt: skip
    ann_file, image_dir = coco_split_paths(cfg, train)
    if not ann_file.is_file():
        raise FileNotFoundError(f"data.{'train' if train else 'test'}: annotation file {ann_file} not found")
    records = load_bottomup_records(ann_file, image_dir, cfg.model.num_keypoints, skip_empty=train)
    if not records:
        field = "train_set" if train else "test_set"
        what = "no image with a person" if train else "no image"
        raise ValueError(f"data.{field}={getattr(cfg.data, field)!r}: {what} in {ann_file}")
    return BottomUpDataset(records, cfg, train, ann_file=ann_file)
