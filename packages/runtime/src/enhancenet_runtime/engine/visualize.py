"""The Fig. 1-style picture: per person, M^LR and M^HR over the patch, and the poses decoded from each.

Framework-free: a framework runs its network on the crops and passes NumPy arrays here. Drawing uses
matplotlib (the ``plot`` extra), imported only when a picture is drawn.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config
from enhancenet_core.datasets import DatasetName, dataset_info, info_for_num_keypoints
from enhancenet_runtime.engine.inputs import MAX_BOX_TO_IMAGE, check_boxes, person_boxes
from enhancenet_runtime.engine.io import atomic_write_bytes
from enhancenet_runtime.engine.prediction import InferFn, crop_person_boxes, predict_boxes

__all__ = ["MAX_BOX_TO_IMAGE", "MPII_SKELETON", "check_boxes", "crop_person_boxes", "draw_pose_figure", "predict_picture", "skeleton_for"]

MPII_SKELETON: tuple[tuple[int, int], ...] = dataset_info(DatasetName.MPII).skeleton
"""MPII limbs (0-based, HRNet joint order): legs, pelvis-thorax-neck-head, arms (the data-set table's)."""


def skeleton_for(num_keypoints: int) -> tuple[tuple[int, int], ...]:
    """0-based limb pairs of the data-set table's first row with K = ``num_keypoints``: COCO (17, the
    annotation file's skeleton), MPII (16); none for other skeletons."""
    info = info_for_num_keypoints(num_keypoints)
    return info.skeleton if info is not None else ()


#: A person box may leave the image partly (a detector box) but be at most this many times its width/height.
def _draw_pose(ax: Any, keypoints: np.ndarray, skeleton: Sequence[tuple[int, int]], thr: float) -> None:
    ok = keypoints[:, 2] > thr
    for a, b in skeleton:
        if ok[a] and ok[b]:
            ax.plot(keypoints[[a, b], 0], keypoints[[a, b], 1], "-", color="lime", linewidth=2)
    ax.scatter(keypoints[ok, 0], keypoints[ok, 1], s=12, c="red", zorder=3)


def _heat_panel(ax: Any, patch: np.ndarray, maps: np.ndarray, joint: int | None, title: str) -> None:
    hm = maps.max(axis=0) if joint is None else maps[joint]
    h, w = patch.shape[:2]
    ax.imshow(patch)
    ax.imshow(np.clip(hm, 0, None), cmap="jet", alpha=0.5, extent=(-0.5, w - 0.5, h - 0.5, -0.5),
              interpolation="nearest")
    ax.set_title(f"{title} {hm.shape[1]}x{hm.shape[0]}", fontsize=8)
    ax.axis("off")


def draw_pose_figure(
    image: np.ndarray,
    boxes: np.ndarray,
    patches: np.ndarray,
    maps: Mapping[str, np.ndarray],
    preds: Mapping[str, np.ndarray],
    out_path: str | os.PathLike[str],
    num_keypoints: int,
    joint: int | None = None,
    score_threshold: float = 0.2,
    image_name: str = "",
) -> list[Path]:
    """Write the picture and a ``.json`` of the keypoints beside it (both atomically).

    Args:
        image: (H, W, 3) uint8 RGB image.
        boxes: (N, 4) person boxes (x, y, w, h).
        patches: (N, H_in, W_in, 3) uint8 RGB crops fed to the network.
        maps: ``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` heat maps after the flip test.
        preds: ``{"lr": (N, K, 3)[, "hr": (N, K, 3)]}`` image (x, y, score) decoded from each map.
        out_path: the picture (format from the suffix, PNG by default).
        num_keypoints: K (chooses the skeleton).
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.

    Returns:
        The files written (picture, keypoints JSON).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if joint is not None and not 0 <= joint < num_keypoints:
        raise ValueError(f"--joint: expected a keypoint index in [0, {num_keypoints - 1}], got {joint}")
    has_hr = "hr" in maps
    skeleton = skeleton_for(num_keypoints)
    n = boxes.shape[0]
    cols = 4 if has_hr else 2
    fig, axes = plt.subplots(n, cols, figsize=(3 * cols, 3.4 * n), squeeze=False)
    for i in range(n):
        x, y, w, h = boxes[i]
        _heat_panel(axes[i, 0], patches[i], maps["lr"][i], joint, "M^LR")
        pose_panels = [("LR", preds["lr"][i])]
        if has_hr:
            _heat_panel(axes[i, 1], patches[i], maps["hr"][i], joint, "M^HR")
            pose_panels.append(("HR", preds["hr"][i]))
        for j, (name, kp) in enumerate(pose_panels):
            ax = axes[i, cols - len(pose_panels) + j]
            ax.imshow(image)
            _draw_pose(ax, kp, skeleton, score_threshold)
            pad = 0.15 * max(w, h)
            ax.set_xlim(max(x - pad, 0), min(x + w + pad, image.shape[1]))
            ax.set_ylim(min(y + h + pad, image.shape[0]), max(y - pad, 0))
            ax.set_title(f"pose from M^{name}", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format=out.suffix.lstrip(".").lower() or "png")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    keypoints = {
        "image": image_name,
        "boxes": boxes.tolist(),
        "keypoints_lr": np.asarray(preds["lr"]).tolist(),
        "keypoints_hr": np.asarray(preds["hr"]).tolist() if has_hr else None,
    }
    js = out.with_suffix(".json")
    atomic_write_bytes(js, json.dumps(keypoints).encode("utf-8"))
    return [out, js]


def predict_picture(
    cfg: Config,
    image: str | os.PathLike[str],
    boxes: Sequence[Sequence[float]] | None,
    out_path: str | os.PathLike[str],
    infer: InferFn,
    joint: int | None = None,
    score_threshold: float = 0.2,
) -> list[Path]:
    """Read ``image``, predict the poses in ``boxes`` (:func:`enhancenet_runtime.engine.prediction.predict_boxes`)
    and write the Fig. 1 picture (:func:`draw_pose_figure`).

    Args:
        cfg: the experiment config (``data.color_rgb`` says the channel order the network expects).
        image: the image file.
        boxes: person boxes ``(x, y, w, h)`` in image pixels (checked with :func:`check_boxes`); ``None``: the
            whole image (:func:`enhancenet_runtime.engine.inputs.person_boxes`).
        out_path: the picture; a ``.json`` of the keypoints is written beside it.
        infer: the framework's network: (N, 3, H_in, W_in) float32 inputs -> ``{"lr"[, "hr"]}`` NumPy maps
            after the flip test (:func:`enhancenet_runtime.engine.prediction.infer_maps`).
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.

    Returns:
        The files written (picture, keypoints JSON).

    Raises:
        FileNotFoundError: no such image. ValueError: a bad box or ``joint`` (checked before ``infer`` runs).
    """
    from enhancenet_runtime.data.image import read_image

    k = cfg.model.num_keypoints
    if joint is not None and not 0 <= joint < k:
        raise ValueError(f"--joint: expected a keypoint index in [0, {k - 1}], got {joint}")
    img = read_image(image, color_rgb=True)
    if boxes is None:

        arr = person_boxes(None, img.shape[1], img.shape[0])
    else:
        arr = check_boxes(boxes, img.shape[1], img.shape[0])
    model_img = img if cfg.data.color_rgb else img[..., ::-1].copy()
    res = predict_boxes(model_img, arr, cfg, infer)
    patches = res.patches if cfg.data.color_rgb else res.patches[..., ::-1]
    return draw_pose_figure(img, arr, patches, res.maps, res.preds, out_path, k, joint=joint,
                            score_threshold=score_threshold, image_name=os.fspath(image))
