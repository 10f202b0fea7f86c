"""The data set of a split, as every framework's training and evaluation opens it."""

from __future__ import annotations

from typing import Any

from enhancenet_core.config import Config

__all__ = ["open_split"]


def open_split(cfg: Config, train: bool) -> Any:
    """The core :class:`~enhancenet_runtime.data.pipeline.PoseDataset` of the training (``train=True``) or test split.

    A framework wraps it (a torch ``Dataset``, a Paddle ``io.Dataset``, a MindSpore generator); the samples,
    their per-index RNG and the targets are the core's.

    Raises:
        FileNotFoundError: a missing annotation, detection or image file (named by enhancenet-core).
        ValueError: the split has no usable person instance (e.g. no annotation with keypoints), naming the
            config field, the split, the file and the counted reasons every annotation was skipped for.
    """
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
