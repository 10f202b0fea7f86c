"""One-call top-down inference, the same in every framework: an image (and person boxes) -> one result per person.

Every framework exposes ``inference_topdown(model, image, boxes=None, return_maps=False, *, channel_order="rgb")``
and ``init_model(config, weights=None)``; both are thin: the framework builds its network and supplies the
``infer`` hook (crops -> maps after the flip test, :func:`enhancenet_runtime.engine.prediction.infer_maps`), and
everything else is here, once:

* :func:`load_image`: a path (read in RGB) or an ``(H, W, 3)`` uint8 array whose channel order the caller states
  (:class:`ChannelOrder`, RGB by default: PIL, imageio, matplotlib; OpenCV's ``cv2.imread`` gives BGR);
* :func:`person_boxes`: the boxes checked against the image (:func:`enhancenet_runtime.engine.inputs.check_boxes`),
  or the whole image ``(0, 0, W, H)`` when none are given;
* :func:`inference_topdown`: crop, run ``infer``, decode (:func:`enhancenet_runtime.engine.prediction.predict_boxes`)
  and return a :class:`PoseResult` per box;
* :func:`model_config` / :func:`check_weights_path`: the config a model is built from and the weight file it reads.

``PoseResult.keypoints`` come from the map evaluation uses (M^HR when ``test.use_hr`` and the head is enabled, else
M^LR), decoded by that map's codec (``test.decoder``, σ or r·σ) and mapped back through the crop's center/scale.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.engine.evaluation import use_hr
from enhancenet_runtime.engine.inputs import person_boxes
from enhancenet_runtime.engine.prediction import InferFn, predict_boxes

__all__ = [
    "CONFIG_ATTRIBUTE",
    "ChannelOrder",
    "PoseResult",
    "check_weights_path",
    "config_of",
    "inference_topdown",
    "load_image",
    "model_config",
    "person_boxes",
]

#: The attribute under which ``init_model`` stores the experiment :class:`Config` on the model it builds
#: (mmpose's name); ``inference_topdown`` reads it unless a ``cfg`` is passed.
CONFIG_ATTRIBUTE = "cfg"


class ChannelOrder(str, Enum):
    """Channel order of an image array handed to ``inference_topdown`` (files are always read as RGB)."""

    RGB = "rgb"  # PIL, imageio, matplotlib, skimage
    BGR = "bgr"  # OpenCV (cv2.imread, cv2.VideoCapture)


@dataclass(frozen=True)
class PoseResult:
    """The pose of one person (K keypoints). Arrays are float64 NumPy; image coordinates are pixels of the image as
    given (pixel centre at integer coordinates, as HRNet and COCO).

    Attributes:
        keypoints: ``(K, 2)`` image (x, y), decoded from :attr:`decoded_from`'s map.
        scores: ``(K,)`` the maxima of that map (the keypoint confidences).
        box: ``(4,)`` the person box (x, y, w, h) in image pixels that was cropped (the whole image when no boxes
            were given), before the ``data.bbox_scale`` enlargement.
        decoded_from: ``"hr"`` (M^HR) or ``"lr"`` (M^LR).
        heatmaps_lr: ``(K, h, w)`` float32 M^LR after the flip test, only with ``return_maps=True``.
        heatmaps_hr: ``(K, r·h, r·w)`` float32 M^HR after the flip test, only with ``return_maps=True`` and a head.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray
    decoded_from: str
    heatmaps_lr: np.ndarray | None = None
    heatmaps_hr: np.ndarray | None = None


def model_config(config: Config | str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """A :class:`Config` from a Config (``overrides`` must then be empty), a YAML file or a shipped config's name
    (e.g. ``"coco_simplebaseline_r50_256x192_enhancenet"``), with ``a.b=c`` overrides applied.

    Raises:
        FileNotFoundError: a path that does not exist (a name with a suffix or a ``/`` is a path).
        ValueError: an invalid config (naming the field); ``TypeError``: another type.
    """
    if isinstance(config, Config):
        if overrides:
            raise ValueError("overrides: apply them when loading the config (pass its file or name instead)")
        return config
    if not isinstance(config, str | os.PathLike):
        raise TypeError(f"config: expected a Config, a YAML file or a shipped config's name, got {type(config).__name__}")
    path = Path(config)
    if not path.is_file():
        text = os.fspath(config)
        if path.suffix or "/" in text or os.sep in text:
            raise FileNotFoundError(f"config file {text} not found")
        path = shipped_config_path(text)
    return load_config(path, list(overrides))


def check_weights_path(weights: str | os.PathLike[str]) -> Path:
    """The weight file ``init_model`` reads: an existing canonical ``.safetensors`` file (read without pickle).

    Raises:
        FileNotFoundError: no such file. ValueError: another format (naming the converter that makes one).
    """
    path = Path(weights)
    if path.suffix != ".safetensors":
        raise ValueError(
            f"weights {path}: init_model reads canonical .safetensors weights only (no pickle); convert a checkpoint "
            "with `enhancenet-convert SRC DST.safetensors` first"
        )
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    return path


def config_of(model: Any, cfg: Config | None) -> Config:
    """``cfg``, or the :class:`Config` ``init_model`` attached to ``model`` (:data:`CONFIG_ATTRIBUTE`)."""
    if cfg is not None:
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg: expected an enhancenet_core.config.Config, got {type(cfg).__name__}")
        return cfg
    found = getattr(model, CONFIG_ATTRIBUTE, None)
    if not isinstance(found, Config):
        raise ValueError(
            f"model: no experiment config attached (model.{CONFIG_ATTRIBUTE}); build it with init_model(config, "
            "weights) or pass cfg=..."
        )
    return found


def load_image(image: str | os.PathLike[str] | np.ndarray, channel_order: ChannelOrder | str = ChannelOrder.RGB) -> np.ndarray:
    """``image`` as an ``(H, W, 3)`` uint8 RGB array.

    Args:
        image: an image file (PNG, JPEG, ...; checked before decoding: existence, size within
            :data:`~enhancenet_runtime.engine.inputs.MAX_IMAGE_PIXELS`), or an ``(H, W, 3)`` uint8 array.
        channel_order: the order of an array's channels (:class:`ChannelOrder`); ignored for files.

    Raises:
        FileNotFoundError: no such file. ValueError: an unreadable file, or an array of another shape or dtype.
    """
    order = ChannelOrder(channel_order)
    if isinstance(image, str | os.PathLike):
        from enhancenet_runtime.data.image import read_image
        from enhancenet_runtime.engine.inputs import check_image_file

        check_image_file(image)
        return read_image(image, color_rgb=True)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a file path or an (H, W, 3) uint8 array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: expected an (H, W, 3) array, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8 (0..255), got {image.dtype}")
    return np.ascontiguousarray(image[..., ::-1] if order is ChannelOrder.BGR else image)


def inference_topdown(
    cfg: Config,
    infer: InferFn,
    image: str | os.PathLike[str] | np.ndarray,
    boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
    return_maps: bool = False,
    channel_order: ChannelOrder | str = ChannelOrder.RGB,
) -> list[PoseResult]:
    """The poses of the persons in ``boxes`` (default: the whole image is one person), one :class:`PoseResult`
    each, in the order of ``boxes``.

    Args:
        cfg: the experiment config (input size, ``data.color_rgb``, flip test, decoder, codecs).
        infer: the framework's network: (N, 3, H_in, W_in) float32 crops -> ``{"lr"[, "hr"]}`` NumPy maps after the
            flip test.
        image, channel_order: see :func:`load_image`.
        boxes: see :func:`person_boxes`; checked before the network runs.
        return_maps: also return each person's heat maps.
    """
    img = load_image(image, channel_order)
    arr = person_boxes(boxes, img.shape[1], img.shape[0])
    if arr.shape[0] == 0:
        return []
    model_img = img if cfg.data.color_rgb else np.ascontiguousarray(img[..., ::-1])
    res = predict_boxes(model_img, arr, cfg, infer)
    return _results(res.maps, res.preds, arr, cfg, return_maps)


def _results(
    maps: Mapping[str, np.ndarray], preds: Mapping[str, np.ndarray], boxes: np.ndarray, cfg: Config, return_maps: bool
) -> list[PoseResult]:
    key = "hr" if use_hr(cfg, maps) else "lr"
    out = []
    for i in range(boxes.shape[0]):
        kp = np.asarray(preds[key][i], dtype=np.float64)
        hr = maps.get("hr")
        out.append(PoseResult(
            keypoints=kp[:, :2].copy(), scores=kp[:, 2].copy(), box=boxes[i].copy(), decoded_from=key,
            heatmaps_lr=np.array(maps["lr"][i]) if return_maps else None,
            heatmaps_hr=np.array(hr[i]) if return_maps and hr is not None else None,
        ))  # fmt: skip
    return out
