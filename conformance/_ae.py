"""The tiny Associative Embedding case the conformance suite shares: configuration, synthetic scenes (whole test
images) and a collated training batch.

The model: pose-ae-train's hourglass at 2 stacks of 16 channels (+8 per level), K = 17 detection and 17 tag
channels per stack, 64×64 input, EnhanceNet r = 2 (16 channels). Scenes: :mod:`enhancenet_runtime.data.
synthetic_multi`, deterministic by seed. Everything here is NumPy (the frameworks see it through their adapters).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from enhancenet_core.bottomup.loss import AE_BATCH_KEYS, AE_HEAD_BATCH_KEYS
from enhancenet_core.config import Config, config_from_dict
from enhancenet_runtime.data.bottomup import BottomUpRecord, collate_bottomup, load_bottomup_records
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco

__all__ = ["AE_CFG", "AE_WEIGHT_SEED", "ae_batch", "ae_scenes"]

AE_CFG: Config = config_from_dict({
    "model": {"input_size": [64, 64], "num_keypoints": 17,
              "base": {"name": "ae_hourglass", "stages": 2, "hourglass_channels": 16, "hourglass_increase": 8,
                       "ae_output_channels": 34},
              "head": {"enabled": True, "channels": 16, "upscale": 2}},
    "loss": {"hr_weight": 1.0},
})  # fmt: skip
"""The full configuration (the batch's targets and the evaluator's grouping read more than the model section)."""
AE_WEIGHT_SEED = 11
SCENE_SEED = 3


@lru_cache(maxsize=2)
def ae_scenes(root: str) -> tuple[tuple[BottomUpRecord, ...], Path]:
    """3 synthetic 64×64 scenes of 2-3 people (crowd regions on), under ``root``: (records, annotation file).
    Drawn with OpenCV: compare only within one interpreter (the grouping check's reference runs in each)."""
    d = Path(root) / "ae_scenes"
    generate_multi_person_coco(d, 3, seed=SCENE_SEED, image_size=(64, 64), people_per_image=(2, 3),
                               crowd_prob=1.0, val_fraction=0.0, overwrite=True)  # fmt: skip
    ann = d / "annotations" / "person_keypoints_train.json"
    return tuple(load_bottomup_records(ann, d / "images" / "train")), ann


def ae_batch() -> dict[str, np.ndarray]:
    """One training batch through the runtime's :func:`~enhancenet_runtime.data.bottomup.collate_bottomup` (the
    targets and tag pixels every framework's loss reads), from samples drawn with NumPy alone: every
    implementation runs in its own virtualenv (OpenCV and NumPy versions differ: MindSpore's pins NumPy 1.26), and
    the training-step pairs need the bit-identical batch, so the samples do not go through the image generator or
    the augmentation. 3 images (pixels in [0, 1]) of 2 people, 80 % of the joints visible, one person partly
    outside the input, one crowd block masked in each LR mask.

    Returns ``images`` (3, 3, 64, 64) float32 and the loss's keys (:data:`AE_BATCH_KEYS` +
    :data:`AE_HEAD_BATCH_KEYS`; ``pixels`` int64, ``joint_mask`` bool, the rest float32).
    """
    rng = np.random.default_rng(SCENE_SEED)
    (w, h), k = AE_CFG.model.input_size, AE_CFG.model.num_keypoints
    mw, mh = AE_CFG.model.heatmap_size
    samples = []
    for i in range(3):
        centres = rng.uniform(12, 52, size=(2, 1, 2))
        xy = centres + rng.normal(0, 8, size=(2, k, 2))
        if i == 1:
            xy[1] += (40.0, 0.0)  # partly outside the input: those joints are not tagged
        vis = np.where(rng.random((2, k)) < 0.8, 2.0, 0.0)
        mask = np.ones((mh, mw), np.float32)
        y0, x0 = rng.integers(0, mh - 4), rng.integers(0, mw - 4)
        mask[y0:y0 + 4, x0:x0 + 4] = 0.0  # a crowd region
        samples.append({"image": rng.random((3, h, w)).astype(np.float32), "mask": mask,
                        "keypoints": np.concatenate([xy, vis[..., None]], axis=2), "meta": {"index": i}})
    batch = collate_bottomup(samples, AE_CFG)
    out = {"images": np.ascontiguousarray(batch["image"], dtype=np.float32)}
    for key in AE_BATCH_KEYS + AE_HEAD_BATCH_KEYS:
        value = np.asarray(batch[key])
        out[key] = value if key in ("pixels", "joint_mask") else value.astype(np.float32)
    return out
