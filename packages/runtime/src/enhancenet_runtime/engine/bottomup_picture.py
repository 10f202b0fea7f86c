"""The bottom-up ``predict`` picture: every person the AE model finds, drawn on the whole image, beside M^LR and
(with the head) M^HR over the network's input.

Framework-free: a framework passes its ``forward`` (:data:`enhancenet_runtime.engine.bottomup_run.ForwardFn`);
the people come from :func:`enhancenet_runtime.engine.bottomup_eval.predict_people` (the evaluation's resize,
flip test, grouping and back-projection), the maps drawn are those of the un-flipped input at the first scale.
Drawing uses matplotlib (the ``plot`` extra), imported only here.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config
from enhancenet_runtime.data.bottomup import BottomUpRecord
from enhancenet_runtime.engine.bottomup_eval import predict_people
from enhancenet_runtime.engine.bottomup_run import ForwardFn, model_maps_fn
from enhancenet_runtime.engine.io import atomic_write_bytes
from enhancenet_runtime.engine.visualize import _draw_pose, _heat_panel, skeleton_for

__all__ = ["predict_bottomup_picture"]


def predict_bottomup_picture(
    cfg: Config,
    image: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    forward: ForwardFn,
    joint: int | None = None,
    score_threshold: float = 0.0,
) -> list[Path]:
    """Find every person in ``image`` and write the picture and a ``.json`` beside it (``people`` (P, K, 3) image
    (x, y, detection value), ``scores`` (P,)), both atomically.

    Args:
        cfg: a bottom-up config (``bottomup`` grouping and test settings, ``data.color_rgb``).
        image: the image file.
        out_path: the picture (format from the suffix, PNG by default).
        forward: the framework's network on NumPy inputs (:func:`~enhancenet_runtime.engine.bottomup_run.model_maps_fn`).
        joint: keypoint whose maps are drawn (default: the maximum over all keypoints).
        score_threshold: joints whose detection value is at or below this are not drawn.

    Raises:
        FileNotFoundError: no such image. ValueError: a bad ``joint`` (before the network runs).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from enhancenet_runtime.data.image import read_image

    k = cfg.model.num_keypoints
    if joint is not None and not 0 <= joint < k:
        raise ValueError(f"--joint: expected a keypoint index in [0, {k - 1}], got {joint}")
    img = read_image(image, color_rgb=True)
    model_img = img if cfg.data.color_rgb else img[..., ::-1].copy()
    seen: dict[str, Any] = {}

    def keep_first(images: np.ndarray) -> Any:
        out = forward(images)
        if not seen:  # the un-flipped input of the first scale and its maps
            seen.update(input=images[0], maps={k: np.asarray(out[k])[0] for k in ("lr", "hr") if k in out})
        return out

    record = BottomUpRecord(Path(image), 0, img.shape[1], img.shape[0], np.zeros((0, k, 3)))
    people, scores = predict_people(model_img, record, model_maps_fn(keep_first, cfg), cfg)
    inp = np.clip(np.asarray(seen["input"]).transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8)
    if not cfg.data.color_rgb:
        inp = inp[..., ::-1]
    maps = seen["maps"]
    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(4 * (1 + len(maps)), 4), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(img)
    skeleton = skeleton_for(k)
    for person in people:
        _draw_pose(ax, person[:, :3], skeleton, score_threshold)
    ax.set_title(f"{len(people)} people", fontsize=8)
    ax.axis("off")
    for i, name in enumerate(m for m in ("lr", "hr") if m in maps):
        _heat_panel(axes[0, 1 + i], inp, maps[name], joint, f"M^{name.upper()}")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format=out.suffix.lstrip(".").lower() or "png")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    record_json = {"image": os.fspath(image), "people": np.asarray(people)[..., :3].tolist(),
                   "scores": np.asarray(scores).tolist()}  # fmt: skip
    js = out.with_suffix(".json")
    atomic_write_bytes(js, json.dumps(record_json).encode("utf-8"))
    return [out, js]
