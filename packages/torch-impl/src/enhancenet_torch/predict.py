"""Predict poses in one image from person boxes and draw them, with M^LR and M^HR side by side (paper Fig. 1).

The picture (per person box: the patch with the LR and HR heat maps overlaid, and the skeletons decoded from
M^LR and from M^HR on the image crop) and the box checks are :mod:`enhancenet_runtime.engine.visualize`'s, the
crops, flip test and decoding :mod:`enhancenet_runtime.engine.prediction`'s; this module only runs the PyTorch
network on the crops.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from enhancenet_core.config import Config
from enhancenet_runtime.engine import prediction
from enhancenet_runtime.engine.prediction import BoxPredictions, InferFn
from enhancenet_runtime.engine.visualize import predict_picture

__all__ = ["predict_boxes", "predict_image"]


def predict_boxes(
    model: torch.nn.Module, image: np.ndarray, boxes: np.ndarray, cfg: Config, device: torch.device
) -> BoxPredictions:
    """Run ``model`` on the crops of ``boxes`` ((N, 4) x, y, w, h) in ``image`` ((H, W, 3) uint8, channel order
    per config): :func:`enhancenet_runtime.engine.prediction.predict_boxes` (patches, center/scale, the maps
    after the flip test and ``preds`` {"lr"[, "hr"]} (N, K, 3) image (x, y, score))."""
    model.eval()
    return prediction.predict_boxes(image, boxes, cfg, _infer(model, cfg, device))


def _infer(model: torch.nn.Module, cfg: Config, device: torch.device) -> InferFn:
    """The ``infer`` hook: (N, 3, H_in, W_in) float32 NumPy crops -> the maps after the flip test."""
    from enhancenet_torch.evaluate import infer_heatmaps

    def infer(inputs: np.ndarray) -> dict[str, np.ndarray]:
        return infer_heatmaps(model, torch.from_numpy(inputs).to(device), cfg)

    return infer


def predict_image(
    cfg: Config,
    checkpoint: str | os.PathLike[str],
    image: str | os.PathLike[str],
    boxes: Sequence[Sequence[float]],
    out_path: str | os.PathLike[str],
    device: str | torch.device | None = None,
    joint: int | None = None,
    score_threshold: float = 0.2,
) -> list[Path]:
    """Predict the poses of the persons in ``boxes`` and write the Fig. 1-style picture to ``out_path``; a
    bottom-up config finds every person in the whole image instead (no boxes;
    :func:`enhancenet_runtime.engine.bottomup_picture.predict_bottomup_picture`).

    Args:
        cfg: the experiment config.
        checkpoint: a ``.safetensors`` training checkpoint or canonical weights (pickle files are refused).
        image: the image file.
        boxes: person boxes ``(x, y, w, h)`` in image pixels.
        out_path: the picture (PNG/JPG by suffix); a ``.json`` beside it holds the keypoints.
        device: default CUDA when available.
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.

    Returns:
        The files written (picture, keypoints JSON).
    """
    from enhancenet_runtime.engine.data import is_bottom_up
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.device import resolve_device
    from enhancenet_torch.models import build_model

    bottom_up = is_bottom_up(cfg)
    if bottom_up and boxes:
        raise ValueError("--boxes: a bottom-up model finds every person in the whole image; leave --boxes out")
    dev = resolve_device(device)
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    model.to(dev).eval()
    if bottom_up:
        from enhancenet_runtime.engine.bottomup_picture import predict_bottomup_picture
        from enhancenet_torch.evaluate import bottomup_forward

        return predict_bottomup_picture(cfg, image, out_path, bottomup_forward(model, dev), joint=joint)
    return predict_picture(cfg, image, boxes, out_path, _infer(model, cfg, dev), joint=joint,
                           score_threshold=score_threshold)
