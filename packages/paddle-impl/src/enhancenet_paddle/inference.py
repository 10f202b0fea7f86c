"""One-call inference in PaddlePaddle: ``init_model`` and ``inference_topdown``, the same signature and result in every
framework (:mod:`enhancenet_runtime.engine.inference` holds everything but the network).

    from enhancenet_paddle import init_model, inference_topdown
    model = init_model("coco_simplebaseline_r50_256x192_enhancenet", weights="model.safetensors")
    people = inference_topdown(model, "person.jpg")  # whole image; or boxes=[[x, y, w, h], ...]
    people[0].keypoints  # (K, 2) image (x, y) pixels; .scores (K,); .box; .heatmaps_lr/_hr with return_maps=True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine import inference
from enhancenet_runtime.engine.inference import CONFIG_ATTRIBUTE, ChannelOrder, PoseResult
from enhancenet_runtime.engine.prediction import InferFn

__all__ = ["PoseResult", "inference_topdown", "init_model"]


def init_model(
    config: Config | str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    device: str | None = None,
    overrides: Sequence[str] = (),
) -> nn.Layer:
    """Build the model of ``config`` in eval mode, load ``weights`` and attach the config (``model.cfg``).

    Args:
        config: a :class:`Config`, a YAML file or a shipped config's name
            (:func:`enhancenet_runtime.engine.inference.model_config`).
        weights: canonical ``.safetensors`` weights (checked against the architecture before any tensor is
            copied; no pickle); ``None`` keeps the initialisation (and ``model.base.pretrained`` if set).
        device: Paddle's device for the process (``paddle.set_device``): default a GPU when available, else CPU.
        overrides: ``a.b=c`` config overrides (with a file or name).
    """
    from enhancenet_paddle.checkpoint import load_model_weights
    from enhancenet_paddle.models import build_model
    from enhancenet_paddle.train import resolve_device

    cfg = inference.model_config(config, overrides)
    path = inference.check_weights_path(weights) if weights is not None else None
    paddle.set_device(resolve_device(device))
    model = build_model(cfg.model)
    if path is not None:
        load_model_weights(model, path, cfg.model)
    model.eval()
    setattr(model, CONFIG_ATTRIBUTE, cfg)
    return model


def _infer(model: nn.Layer, cfg: Config) -> InferFn:
    from enhancenet_paddle.evaluate import infer_heatmaps

    def infer(inputs: np.ndarray) -> dict[str, np.ndarray]:
        return infer_heatmaps(model, paddle.to_tensor(inputs), cfg)

    return infer


def inference_topdown(
    model: nn.Layer,
    image: str | os.PathLike[str] | np.ndarray,
    boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
    return_maps: bool = False,
    *,
    channel_order: ChannelOrder | str = ChannelOrder.RGB,
    cfg: Config | None = None,
) -> list[PoseResult]:
    """The pose of each person in ``image``: :func:`enhancenet_runtime.engine.inference.inference_topdown` with this
    model as the network (on Paddle's current device, in eval mode).

    Args:
        model: a model from :func:`init_model` (or any with ``cfg`` given).
        image: an image file, or an ``(H, W, 3)`` uint8 array in ``channel_order`` (RGB by default; ``"bgr"`` for
            ``cv2.imread``).
        boxes: ``(N, 4)`` person boxes (x, y, w, h) in image pixels; ``None``: the whole image is one person.
        return_maps: also return each person's M^LR / M^HR.
        cfg: the experiment config (default: ``model.cfg`` from :func:`init_model`).

    Returns:
        One :class:`~enhancenet_runtime.engine.inference.PoseResult` per box: ``keypoints`` (K, 2) image (x, y),
        ``scores`` (K,), ``box``, and the maps on request.
    """
    cfg = inference.config_of(model, cfg)
    model.eval()
    return inference.inference_topdown(cfg, _infer(model, cfg), image, boxes, return_maps, channel_order)
