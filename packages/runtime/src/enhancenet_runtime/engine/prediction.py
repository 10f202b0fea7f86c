"""One prediction path for every framework: the network runs in the framework, everything around it is here.

A framework supplies only hooks that run its network:

* ``forward(images) -> {"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` float32 NumPy maps of a batch of
  (N, 3, H_in, W_in) patches (a framework tensor or a NumPy array, whatever the framework's loader gives);
* ``flip(images) -> images`` mirrored left-right (the last axis), in the same type.

From them: :func:`infer_maps` (the flip test, merged by
:func:`enhancenet_runtime.engine.evaluation.merge_flip_test`), :func:`predict_dataset` (a test set batch by batch
-> :class:`~enhancenet_runtime.engine.evaluation.PredictionCollector` arrays, the input of
:func:`~enhancenet_runtime.engine.evaluation.finish_evaluation`) and :func:`predict_boxes` (person boxes in one
image -> :class:`BoxPredictions`, drawn by :func:`enhancenet_runtime.engine.visualize.predict_picture`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from enhancenet_core.config import Config
from enhancenet_runtime.engine.evaluation import PredictionCollector, decode_pose_maps, merge_flip_test
from enhancenet_runtime.engine.logs import progress_bar

__all__ = ["BoxPredictions", "InferFn", "crop_person_boxes", "infer_maps", "predict_boxes", "predict_dataset"]

T = TypeVar("T")
InferFn = Callable[[Any], Mapping[str, np.ndarray]]
"""A batch of (N, 3, H_in, W_in) patches -> ``{"lr"[, "hr"]}`` NumPy maps after the flip test."""


def infer_maps(
    forward: Callable[[T], Mapping[str, np.ndarray]], images: T, cfg: Config, flip: Callable[[T], T]
) -> dict[str, np.ndarray]:
    """The maps of a batch, with the flip test when ``cfg.test.flip_test``.

    Args:
        forward: the framework's network on a batch -> ``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` NumPy.
        images: (N, 3, H_in, W_in) patches in whatever type ``forward`` takes.
        cfg: ``test.flip_test``, ``test.flip_shift``, ``data.flip_pairs`` and the map geometry.
        flip: mirrors ``images`` left-right (last axis).

    Returns:
        float32 maps; with flip test, each averaged with the flipped patch's map flipped back and shifted by the
        ``test.flip_shift`` rule for that map's own stride
        (:func:`~enhancenet_runtime.engine.evaluation.merge_flip_test`).
    """
    maps = forward(images)
    flipped = forward(flip(images)) if cfg.test.flip_test else None
    return merge_flip_test(maps, flipped, cfg)


def predict_dataset(
    batches: Iterable[tuple[Any, Mapping[str, Any]]],
    infer: InferFn,
    cfg: Config,
    *,
    total: int | None = None,
    progress: bool = True,
    max_batches: int | None = None,
) -> dict[str, np.ndarray]:
    """Predict every instance of a test set.

    Args:
        batches: ``(images, meta)`` per batch: images for ``infer``, ``meta`` NumPy arrays ``center`` (B, 2),
            ``scale`` (B, 2), ``index``, ``image_id``, ``score``, ``area`` (B,).
        infer: the framework's :func:`infer_maps` on a batch.
        cfg: the experiment config.
        total: the number of batches (for the progress bar); 0 is refused (an empty test set).
        progress: a progress bar.
        max_batches: stop after this many batches (smoke tests).

    Returns:
        :meth:`~enhancenet_runtime.engine.evaluation.PredictionCollector.result`: ``preds`` (N, K, 3) image
        (x, y, score) from the decoded map (HR when used, else LR), ``preds_lr`` (N, K, 3) always from M^LR, and
        ``index``, ``image_id``, ``center``, ``scale``, ``score``, ``area`` per instance.
    """
    if total == 0:
        raise ValueError("test set: no instances to evaluate (check data.test_set and test.bbox_file)")
    collector = PredictionCollector(cfg)
    bar = progress_bar(batches, total=total, desc="eval", enabled=progress)
    try:
        for i, (images, meta) in enumerate(bar):
            if max_batches is not None and i >= max_batches:
                break
            collector.add(infer(images), meta)
    finally:
        bar.close()
    return collector.result()


def crop_person_boxes(image: np.ndarray, boxes: np.ndarray, cfg: Config) -> dict[str, np.ndarray]:
    """The network inputs for person ``boxes`` in ``image``, cropped as the test pipeline crops them.

    Args:
        image: (H, W, 3) uint8 in the channel order the model was trained on (``data.color_rgb``).
        boxes: (N, 4) person boxes (x, y, w, h) in image pixels (see :func:`check_boxes`).
        cfg: ``model.input_size``, ``data.pixel_std``, ``data.bbox_scale``, ``target.convention`` (the crop affine).

    Returns:
        ``patches`` (N, H_in, W_in, 3) uint8, ``inputs`` (N, 3, H_in, W_in) float32 normalised (ImageNet mean
        and std), ``center`` and ``scale`` (N, 2) (center/scale with ``pixel_std``, box scale ×``bbox_scale``).
    """
    from enhancenet_core.transforms import box_to_center_scale
    from enhancenet_runtime.data.image import crop_patch, normalize_image

    w_in, h_in = cfg.model.input_size
    center, scale = box_to_center_scale(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), w_in / h_in,
                                        cfg.data.pixel_std, cfg.data.bbox_scale)
    patches = np.stack([
        crop_patch(image, c, s, 0.0, cfg.model.input_size, cfg.data.pixel_std, cfg.target.convention)
        for c, s in zip(center, scale, strict=True)
    ])  # fmt: skip
    inputs = np.stack([normalize_image(p) for p in patches]).astype(np.float32, copy=False)
    return {"patches": patches, "inputs": inputs, "center": center, "scale": scale}


@dataclass(frozen=True)
class BoxPredictions:
    """Poses predicted for person boxes in one image (N boxes, K keypoints).

    Attributes:
        patches: (N, H_in, W_in, 3) uint8 crops, in the channel order fed to the network.
        center, scale: (N, 2) crop centres and scales (units of ``data.pixel_std``).
        maps: ``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` float32 maps after the flip test.
        preds: ``{"lr": (N, K, 3)[, "hr": (N, K, 3)]}`` image (x, y, score) decoded from each map.
    """

    patches: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    maps: Mapping[str, np.ndarray]
    preds: Mapping[str, np.ndarray]


def predict_boxes(image: np.ndarray, boxes: np.ndarray, cfg: Config, infer: InferFn) -> BoxPredictions:
    """Crop ``boxes`` ((N, 4) x, y, w, h) from ``image`` ((H, W, 3) uint8 in the network's channel order), run
    ``infer`` on the normalised (N, 3, H_in, W_in) float32 crops and decode each map to image keypoints."""
    crops = crop_person_boxes(image, boxes, cfg)
    maps = {key: np.asarray(v, dtype=np.float32) for key, v in infer(crops["inputs"]).items()}
    preds = decode_pose_maps(maps, crops["center"], crops["scale"], cfg)
    return BoxPredictions(crops["patches"], crops["center"], crops["scale"], maps, preds)
