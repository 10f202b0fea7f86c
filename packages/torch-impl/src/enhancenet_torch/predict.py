"""Predict poses in one image from person boxes and draw them, with M^LR and M^HR side by side (paper Fig. 1).

The picture has, per person box, a row of panels: the patch with the LR heat map(s) overlaid, the patch with the
HR heat map(s) (when the model has the EnhanceNet head), and the skeleton decoded from M^LR and from M^HR drawn
on the image crop, as in Fig. 1 (top: belief maps, bottom: poses). Crops, decoding and the map back to the
image are enhancenet-core's; drawing uses matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enhancenet_core.config import Config

__all__ = ["check_boxes", "predict_boxes", "predict_image", "skeleton_for"]

# MPII limbs (0-based, HRNet joint order): legs, pelvis-thorax-neck-head, arms.
_MPII_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15),
)  # fmt: skip


def skeleton_for(num_keypoints: int) -> tuple[tuple[int, int], ...]:
    """0-based limb pairs: COCO (17, the annotation file's skeleton), MPII (16); none for other skeletons."""
    if num_keypoints == 17:
        from enhancenet_core.data.keypoints import COCO_SKELETON

        return tuple((a - 1, b - 1) for a, b in COCO_SKELETON)
    if num_keypoints == 16:
        return _MPII_SKELETON
    return ()


def check_boxes(boxes: Sequence[Sequence[float]], width: int, height: int) -> np.ndarray:
    """Validate ``(x, y, w, h)`` person boxes against an image of ``width × height`` pixels.

    Returns:
        (N, 4) float64 boxes.

    Raises:
        ValueError: a box with a non-positive size, a non-finite value, or no overlap with the image (naming
            the box and the image size). Boxes that only partly leave the image are kept (as detector boxes).
    """
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for i, (x, y, w, h) in enumerate(arr.tolist()):
        if not np.all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
            raise ValueError(f"box #{i} {[x, y, w, h]}: expected finite x, y and positive w, h")
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise ValueError(f"box #{i} {[x, y, w, h]} lies outside the image ({width}x{height} pixels)")
    return arr


@torch.no_grad()
def predict_boxes(
    model: torch.nn.Module, image: np.ndarray, boxes: np.ndarray, cfg: Config, device: torch.device
) -> dict[str, Any]:
    """Run ``model`` on the crops of ``boxes`` in ``image`` ((H, W, 3) uint8, channel order per config).

    Returns:
        ``patches`` (N, H_in, W_in, 3) uint8, ``center``/``scale`` (N, 2), ``maps`` ({"lr", ["hr"]} float32
        heat maps after the flip test), ``preds_lr`` and, with the head, ``preds_hr``: (N, K, 3) image
        (x, y, score).
    """
    from enhancenet_core.data.image import crop_patch, normalize_image
    from enhancenet_core.transforms import box_to_center_scale
    from enhancenet_torch.evaluate import decode_heatmaps_to_image, infer_heatmaps

    w_in, h_in = cfg.model.input_size
    center, scale = box_to_center_scale(boxes, w_in / h_in, cfg.data.pixel_std, cfg.data.bbox_scale)
    patches = np.stack([
        crop_patch(image, c, s, 0.0, cfg.model.input_size, cfg.data.pixel_std) for c, s in zip(center, scale, strict=True)
    ])  # fmt: skip
    batch = torch.from_numpy(np.stack([normalize_image(p) for p in patches])).to(device)
    model.eval()
    maps = infer_heatmaps(model, batch, cfg)
    out: dict[str, Any] = {"patches": patches, "center": center, "scale": scale, "maps": maps}
    for key in maps:
        preds, maxvals = decode_heatmaps_to_image(maps[key], center, scale, cfg, hr=key == "hr")
        out[f"preds_{key}"] = np.concatenate([preds, maxvals], axis=2)
    return out


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
    """Predict the poses of the persons in ``boxes`` and write the Fig. 1-style picture to ``out_path``.

    Args:
        cfg: the experiment config.
        checkpoint: ``.pt`` training checkpoint or ``.safetensors`` canonical weights.
        image: the image file.
        boxes: person boxes ``(x, y, w, h)`` in image pixels.
        out_path: the picture (PNG/JPG by suffix); a ``.json`` beside it holds the keypoints.
        device: default CUDA when available.
        joint: keypoint whose heat maps are drawn (default: the maximum over all keypoints).
        score_threshold: keypoints scoring at or below this are not drawn.

    Returns:
        The files written (picture, keypoints JSON).
    """
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from enhancenet_core.data.image import read_image
    from enhancenet_torch.checkpoint import load_model_weights
    from enhancenet_torch.models import build_model
    from enhancenet_torch.train import resolve_device
    from enhancenet_torch.weights import atomic_write_bytes

    k = cfg.model.num_keypoints
    if joint is not None and not 0 <= joint < k:
        raise ValueError(f"--joint: expected a keypoint index in [0, {k - 1}], got {joint}")
    img = read_image(image, color_rgb=True)
    arr = check_boxes(boxes, img.shape[1], img.shape[0])
    dev = resolve_device(device)
    model = build_model(cfg.model)
    load_model_weights(model, checkpoint, cfg.model)
    model.to(dev)
    model_img = img if cfg.data.color_rgb else img[..., ::-1].copy()
    res = predict_boxes(model, model_img, arr, cfg, dev)
    patches = res["patches"] if cfg.data.color_rgb else res["patches"][..., ::-1]
    has_hr = "hr" in res["maps"]
    skeleton = skeleton_for(k)

    n = arr.shape[0]
    cols = 4 if has_hr else 2
    fig, axes = plt.subplots(n, cols, figsize=(3 * cols, 3.4 * n), squeeze=False)
    for i in range(n):
        x, y, w, h = arr[i]
        _heat_panel(axes[i, 0], patches[i], res["maps"]["lr"][i], joint, "M^LR")
        pose_panels = [("LR", res["preds_lr"][i])]
        if has_hr:
            _heat_panel(axes[i, 1], patches[i], res["maps"]["hr"][i], joint, "M^HR")
            pose_panels.append(("HR", res["preds_hr"][i]))
        for j, (name, kp) in enumerate(pose_panels):
            ax = axes[i, cols - len(pose_panels) + j]
            ax.imshow(img)
            _draw_pose(ax, kp, skeleton, score_threshold)
            pad = 0.15 * max(w, h)
            ax.set_xlim(max(x - pad, 0), min(x + w + pad, img.shape[1]))
            ax.set_ylim(min(y + h + pad, img.shape[0]), max(y - pad, 0))
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
        "image": str(image),
        "boxes": arr.tolist(),
        "keypoints_lr": res["preds_lr"].tolist(),
        "keypoints_hr": res["preds_hr"].tolist() if has_hr else None,
    }
    js = out.with_suffix(".json")
    atomic_write_bytes(js, json.dumps(keypoints).encode("utf-8"))
    return [out, js]
