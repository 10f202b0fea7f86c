"""Predict poses in one image from person boxes and draw them, M^LR and M^HR side by side (paper Fig. 1).

Crops (:mod:`enhancenet_runtime.data.image`), flip-test merging and decoding (:mod:`enhancenet_runtime.engine.evaluation`)
and the picture (:func:`enhancenet_runtime.engine.visualize.draw_pose_figure`) are enhancenet-core's; this module
runs the Paddle network on the crops.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import Config

__all__ = ["predict_boxes", "predict_image"]


def predict_boxes(model: nn.Layer, image: np.ndarray, boxes: np.ndarray, cfg: Config) -> dict[str, Any]:
    """Run ``model`` on the crops of ``boxes`` ((N, 4) x, y, w, h) in ``image`` ((H, W, 3) uint8, channel order
    per ``cfg.data.color_rgb``) on Paddle's current device.

    Returns:
        ``patches`` (N, H_in, W_in, 3) uint8, ``center``/``scale`` (N, 2), ``maps`` ({"lr"[, "hr"]} float32 maps
        after the flip test) and ``preds`` ({"lr"[, "hr"]}: (N, K, 3) image (x, y, score) decoded from each).
    """
    from enhancenet_core.transforms import box_to_center_scale
    from enhancenet_paddle.evaluate import infer_heatmaps
    from enhancenet_runtime.data.image import crop_patch, normalize_image
    from enhancenet_runtime.engine.evaluation import decode_to_image

    w_in, h_in = cfg.model.input_size
    center, scale = box_to_center_scale(boxes, w_in / h_in, cfg.data.pixel_std, cfg.data.bbox_scale)
    patches = np.stack([crop_patch(image, c, s, 0.0, cfg.model.input_size, cfg.data.pixel_std)
                        for c, s in zip(center, scale, strict=True)])
    batch = paddle.to_tensor(np.stack([normalize_image(p) for p in patches]))
    model.eval()
    maps = infer_heatmaps(model, batch, cfg)
    preds = {}
    for key, m in maps.items():
        xy, maxvals = decode_to_image(m, center, scale, cfg, hr=key == "hr")
        preds[key] = np.concatenate([xy, maxvals], axis=2)
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
    """Predict the poses of the persons in ``boxes`` and write the Fig. 1-style picture to ``out_path``.

    Args:
        cfg: the experiment config.
        checkpoint: ``.pdckpt`` training checkpoint, ``.pdparams`` or ``.safetensors`` weights.
        image: the image file.
        boxes: person boxes ``(x, y, w, h)`` in image pixels (checked against the image size).
        out_path: the picture (PNG/JPG by suffix); a ``.json`` beside it holds the keypoints.
        device: default a GPU when available.
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.

    Returns:
        The files written (picture, keypoints JSON).
    """
    from enhancenet_paddle.checkpoint import load_model_weights
    from enhancenet_paddle.models import build_model
    from enhancenet_paddle.train import resolve_device
    from enhancenet_runtime.data.image import read_image
    from enhancenet_runtime.engine.visualize import check_boxes, draw_pose_figure

    k = cfg.model.num_keypoints
    if joint is not None and not 0 <= joint < k:
        raise ValueError(f"--joint: expected a keypoint index in [0, {k - 1}], got {joint}")
    img = read_image(image, color_rgb=True)
    arr = check_boxes(boxes, img.shape[1], img.shape[0])
    paddle.set_device(resolve_device(device))
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    model_img = img if cfg.data.color_rgb else np.ascontiguousarray(img[..., ::-1])
    res = predict_boxes(model, model_img, arr, cfg)
    patches = res["patches"] if cfg.data.color_rgb else res["patches"][..., ::-1]
    return draw_pose_figure(img, arr, patches, res["maps"], res["preds"], out_path, k, joint=joint,
                            score_threshold=score_threshold, image_name=str(image))
