"""Predict poses in one image from person boxes and draw them, M^LR and M^HR side by side (paper Fig. 1).

Crops, flip-test merging and decoding (:mod:`enhancenet_runtime.engine.prediction`) and the picture
(:func:`enhancenet_runtime.engine.visualize.predict_picture`) are the runtime's, the same for every framework;
this module runs the Paddle network on the crops.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine import prediction
from enhancenet_runtime.engine.prediction import BoxPredictions, InferFn
from enhancenet_runtime.engine.visualize import predict_picture

__all__ = ["predict_boxes", "predict_image"]


def _infer(model: nn.Layer, cfg: Config, engine: str | None = None) -> InferFn:
    """The ``infer`` hook: (N, 3, H_in, W_in) float32 NumPy crops -> the maps after the flip test, on Paddle's
    current device, through ``engine`` (:func:`enhancenet_paddle.predictor.select_infer`)."""
    from enhancenet_paddle.predictor import select_infer

    return select_infer(model, cfg, engine)


def predict_boxes(
    model: nn.Layer, image: np.ndarray, boxes: np.ndarray, cfg: Config, engine: str | None = None
) -> BoxPredictions:
    """Run ``model`` on the crops of ``boxes`` ((N, 4) x, y, w, h) in ``image`` ((H, W, 3) uint8, channel order
    per ``cfg.data.color_rgb``) on Paddle's current device:
    :func:`enhancenet_runtime.engine.prediction.predict_boxes` (patches, center/scale, the maps after the flip test
    and ``preds`` {"lr"[, "hr"]} (N, K, 3) image (x, y, score))."""
    model.eval()
    return prediction.predict_boxes(image, boxes, cfg, _infer(model, cfg, engine))


def predict_image(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    image: str | os.PathLike[str],
    boxes: Sequence[Sequence[float]],
    out_path: str | os.PathLike[str],
    device: str | None = None,
    joint: int | None = None,
    score_threshold: float = 0.2,
    engine: str | None = None,
) -> list[Path]:
    """Predict the poses of the persons in ``boxes`` and write the Fig. 1-style picture to ``out_path``; a
    bottom-up config finds every person in the whole image instead (no boxes; the dygraph model, whose input side
    follows ``bottomup.scales``;
    :func:`enhancenet_runtime.engine.bottomup_picture.predict_bottomup_picture`).

    Args:
        cfg: the experiment config.
        checkpoint: a ``.safetensors`` training checkpoint or canonical weights (pickle files are refused).
        image: the image file.
        boxes: person boxes ``(x, y, w, h)`` in image pixels (checked against the image size).
        out_path: the picture (PNG/JPG by suffix); a ``.json`` beside it holds the keypoints.
        device: default a GPU when available.
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.
        engine: ``auto`` (default: Paddle Inference on the CPU), ``inference`` or ``dygraph`` (bottom-up:
            ``auto`` or ``dygraph``).

    Returns:
        The files written (picture, keypoints JSON).
    """
    from enhancenet_paddle.checkpoint import load_model_weights
    from enhancenet_paddle.device import resolve_device
    from enhancenet_paddle.models import build_model
    from enhancenet_runtime.engine.data import is_bottom_up

    bottom_up = is_bottom_up(cfg)
    if bottom_up and boxes:
        raise ValueError("--boxes: a bottom-up model finds every person in the whole image; leave --boxes out")
    if bottom_up and engine not in (None, "auto", "dygraph"):
        raise ValueError(f"engine: a bottom-up model runs in dygraph (its input side varies with the scales), "
                         f"got {engine!r}")
    paddle.set_device(resolve_device(device))
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    model.eval()
    if bottom_up:
        from enhancenet_paddle.evaluate import bottomup_forward
        from enhancenet_runtime.engine.bottomup_picture import predict_bottomup_picture

        return predict_bottomup_picture(cfg, image, out_path, bottomup_forward(model), joint=joint)
    return predict_picture(cfg, image, boxes, out_path, _infer(model, cfg, engine), joint=joint,
                           score_threshold=score_threshold)
