"""Predict poses in one image from person boxes and draw Fig. 1 of the paper (M^LR and M^HR side by side).

Crops (:mod:`enhancenet_runtime.data.image`), center/scale, flip merging, decoding and the picture
(:func:`enhancenet_runtime.engine.visualize.draw_pose_figure`) are enhancenet-core's; this module runs the network.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mindspore import nn

from enhancenet_core.config import Config

__all__ = ["predict_boxes", "predict_image"]


def predict_boxes(model: nn.Cell, image: np.ndarray, boxes: np.ndarray, cfg: Config) -> dict[str, Any]:
    """Run ``model`` on the crops of ``boxes`` ((N, 4) x, y, w, h) in ``image`` ((H, W, 3) uint8, channel order
    per ``cfg.data.color_rgb``).

    Returns:
        ``patches`` (N, H_in, W_in, 3) uint8, ``center``/``scale`` (N, 2), ``maps`` ({"lr"[, "hr"]} float32 maps
        after the flip test) and ``preds`` ({"lr"[, "hr"]}: (N, K, 3) image (x, y, score)).
    """
    from enhancenet_core.transforms import box_to_center_scale
    from enhancenet_mindspore.evaluate import infer_heatmaps
    from enhancenet_runtime.data.image import crop_patch, normalize_image
    from enhancenet_runtime.engine.evaluation import decode_to_image

    w_in, h_in = cfg.model.input_size
    center, scale = box_to_center_scale(boxes, w_in / h_in, cfg.data.pixel_std, cfg.data.bbox_scale)
    patches = np.stack([crop_patch(image, c, s, 0.0, cfg.model.input_size, cfg.data.pixel_std)
                        for c, s in zip(center, scale, strict=True)])
    model.set_train(False)
    maps = infer_heatmaps(model, np.stack([normalize_image(p) for p in patches]), cfg)
    preds = {}
    for key, value in maps.items():
        xy, score = decode_to_image(value, center, scale, cfg, hr=key == "hr")
        preds[key] = np.concatenate([xy, score], axis=2)
    return {"patches": patches, "center": center, "scale": scale, "maps": maps, "preds": preds}


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
    to ``out_path`` and the keypoints to a ``.json`` beside it; returns both paths.

    Raises:
        FileNotFoundError: a missing image or checkpoint. ValueError: a box outside the image, a bad ``joint``, a
        checkpoint of another architecture (:class:`~enhancenet_mindspore.checkpoint.CheckpointError`).
    """
    from enhancenet_mindspore.checkpoint import load_model_weights
    from enhancenet_mindspore.models import build_model
    from enhancenet_mindspore.train import resolve_device
    from enhancenet_runtime.data.image import read_image
    from enhancenet_runtime.engine.visualize import check_boxes, draw_pose_figure

    k = cfg.model.num_keypoints
    if joint is not None and not 0 <= joint < k:
        raise ValueError(f"--joint: expected a keypoint index in [0, {k - 1}], got {joint}")
    rgb = read_image(image, color_rgb=True)
    arr = check_boxes(boxes, rgb.shape[1], rgb.shape[0])
    resolve_device(device)
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    res = predict_boxes(model, rgb if cfg.data.color_rgb else np.ascontiguousarray(rgb[..., ::-1]), arr, cfg)
    patches = res["patches"] if cfg.data.color_rgb else np.ascontiguousarray(res["patches"][..., ::-1])
    return draw_pose_figure(rgb, arr, patches, res["maps"], res["preds"], out_path, k, joint=joint,
                            score_threshold=score_threshold, image_name=os.fspath(image))
