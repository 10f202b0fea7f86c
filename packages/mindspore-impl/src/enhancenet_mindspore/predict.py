"""Predict poses in one image from person boxes and draw Fig. 1 of the paper (M^LR and M^HR side by side).

Crops, center/scale, flip merging and decoding (:mod:`enhancenet_runtime.engine.prediction`) and the picture
(:func:`enhancenet_runtime.engine.visualize.predict_picture`) are the runtime's, the same for every framework;
this module runs the network.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mindspore import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine import prediction
from enhancenet_runtime.engine.prediction import BoxPredictions, InferFn
from enhancenet_runtime.engine.visualize import predict_picture

__all__ = ["predict_boxes", "predict_image"]


def _infer(model: nn.Cell, cfg: Config) -> InferFn:
    """The ``infer`` hook: (N, 3, H_in, W_in) float32 NumPy crops -> the maps after the flip test."""
    from enhancenet_mindspore.evaluate import infer_heatmaps

    def infer(inputs: np.ndarray) -> dict[str, np.ndarray]:
        return infer_heatmaps(model, inputs, cfg)

    return infer


def predict_boxes(model: nn.Cell, image: np.ndarray, boxes: np.ndarray, cfg: Config) -> BoxPredictions:
    """Run ``model`` on the crops of ``boxes`` ((N, 4) x, y, w, h) in ``image`` ((H, W, 3) uint8, channel order
    per ``cfg.data.color_rgb``): :func:`enhancenet_runtime.engine.prediction.predict_boxes` (patches,
    center/scale, the maps after the flip test and ``preds`` {"lr"[, "hr"]} (N, K, 3) image (x, y, score))."""
    model.set_train(False)
    return prediction.predict_boxes(image, boxes, cfg, _infer(model, cfg))


def predict_image(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    image: str | os.PathLike[str],
    boxes: Sequence[Sequence[float]],
    out_path: str | os.PathLike[str],
    device: str | None = None,
    joint: int | None = None,
    score_threshold: float = 0.2,
) -> list[Path]:
    """Predict the poses of the persons in ``boxes`` ((x, y, w, h) image pixels) and write the Fig. 1-style picture
    to ``out_path`` and the keypoints to a ``.json`` beside it; returns both paths. A bottom-up config finds every
    person in the whole image instead (no boxes; :func:`enhancenet_runtime.engine.bottomup_picture.
    predict_bottomup_picture`, the people in the ``.json``).

    Raises:
        FileNotFoundError: a missing image or checkpoint. ValueError: a box outside the image, a bad ``joint``, a
        checkpoint of another architecture (:class:`~enhancenet_mindspore.checkpoint.CheckpointError`), boxes with
        a bottom-up config.
    """
    from enhancenet_mindspore.checkpoint import load_model_weights
    from enhancenet_mindspore.device import resolve_device
    from enhancenet_mindspore.models import build_model
    from enhancenet_runtime.engine.data import is_bottom_up

    bottom_up = is_bottom_up(cfg)
    if bottom_up and boxes:
        raise ValueError("--boxes: a bottom-up model finds every person in the whole image; leave --boxes out")
    resolve_device(device)
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    model.set_train(False)
    if bottom_up:
        from enhancenet_mindspore.evaluate import bottomup_forward
        from enhancenet_runtime.engine.bottomup_picture import predict_bottomup_picture

        return predict_bottomup_picture(cfg, image, out_path, bottomup_forward(model), joint=joint)
    return predict_picture(cfg, image, boxes, out_path, _infer(model, cfg), joint=joint,
                           score_threshold=score_threshold)
