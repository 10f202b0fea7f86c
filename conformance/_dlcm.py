"""The tiny DLCM case of the training-step checks: configuration, one batch and the float64 loss reference.

The model: the shipped ``mpii_dlcm_256x256_enhancenet`` at 128×128 input, 18 channels (the narrowest the hierarchy
allows: ``channels - 16`` joints must stay even and positive), the authors' depth 4, the EnhanceNet head at r = 2 with
8 channels, MPII's 16 joints, η = 2 (so that a dropped or doubled factor shows). Five stacks predict levels
(1, 2, 3, 2, 1), each supervised against its level's target.

Why 128×128 and a batch of 4: train-mode BN at the innermost hourglass map normalises each channel over N·h·w
values, and float32 rounding is amplified where that variance is small next to the mean (|mean|/std reaches 12
here). At 64×64 the map is 1×1 (3 values for a batch of 3): numpy-ref's own float32 loss missed its float64 one by up
to 7e-4 relative over 4 weight seeds. At 128×128 (2×2) with 3 images MindSpore's train-mode BN kernel (a little less
exact than torch's) still came to 9.5e-6 relative, at the 1e-5 tolerance; with 4 images (16 values) it is <= 2.6e-6
over 3 weight seeds.

The batch: joints drawn with NumPy alone (bit-identical in every virtualenv; MindSpore's pins NumPy 1.26) and the
targets rendered by the runtime's :func:`~enhancenet_runtime.data.pipeline.render_targets`, the function the
training pipeline collates with: joint Gaussians (level 1), bone maps of levels 2 and 3 with their weights, and the
HR joint Gaussians at r·σ.

DLCM has BatchNorm, and the frameworks step in train mode (batch statistics): the reference runs numpy-ref's
float64 forward inside :func:`enhancenet_numpy.models.batch_statistics` (every BN on the batch's own statistics)
and applies the spec's :func:`enhancenet_core.compositional.dlcm_loss`.
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.compositional import dlcm_config, dlcm_loss, level_target_keys
from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_numpy.models import batch_statistics, dlcm
from enhancenet_runtime.data.pipeline import render_targets

__all__ = ["DLCM_BATCH_KEYS", "DLCM_CFG", "DLCM_WEIGHT_SEED", "dlcm_batch", "numpy_dlcm_loss"]

DLCM_CFG: Config = load_config(shipped_config_path("mpii_dlcm_256x256_enhancenet"), [
    "model.input_size=[128,128]", "model.base.hourglass_channels=18", "model.head.channels=8",
    "model.head.upscale=2", "loss.hr_weight=2.0",
])  # fmt: skip
"""The full configuration (the targets read ``target`` and the model section)."""
DLCM_WEIGHT_SEED = 13
BATCH_SEED = 7
BATCH_SIZE = 4
NUM_LEVELS = dlcm_config(DLCM_CFG.model.base).hierarchy.num_levels
#: the loss's batch keys beyond ``images``: every level's target and weight, then M^HR's
DLCM_BATCH_KEYS: tuple[str, ...] = (
    *(key for lv in range(1, NUM_LEVELS + 1) for key in level_target_keys(lv)), "target_hr", "target_weight_hr",
)


def dlcm_batch() -> dict[str, np.ndarray]:
    """4 images (standard normal, as normalised crops) and their targets from NumPy-drawn joints: 80 % of the
    joints visible, in image 1 two joints outside the input (their bones are empty, weight 0).

    Returns ``images`` (4, 3, 128, 128) and :data:`DLCM_BATCH_KEYS` (``target_lr`` (4, 16, 32, 32), ``target_level2``
    (4, 12, 32, 32), ``target_level3`` (4, 6, 32, 32), their weights (4, P_l), ``target_hr`` (4, 16, 64, 64),
    ``target_weight_hr`` (4, 16)), every array float32.
    """
    rng = np.random.default_rng(BATCH_SEED)
    (w, h), k = DLCM_CFG.model.input_size, DLCM_CFG.model.num_keypoints
    n = BATCH_SIZE
    joints = rng.uniform(8.0, w - 8.0, size=(n, k, 2))
    vis = np.where(rng.random((n, k)) < 0.8, 1.0, 0.0)
    joints[1, :2] += (w + 16.0, 0.0)  # right ankle and knee outside the input
    out = {"images": rng.standard_normal((n, 3, h, w)).astype(np.float32)}
    targets = render_targets(joints, vis, DLCM_CFG)
    out.update({key: np.ascontiguousarray(targets[key], dtype=np.float32) for key in DLCM_BATCH_KEYS})
    return out


def numpy_dlcm_loss(params: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> float:
    """The spec's DLCM total (every stack against its level, ``lr_weight`` times their sum, plus η·L^HR) on
    numpy-ref's float64 forward with train-mode BN (batch statistics), as the frameworks' step computes it."""
    p = {name: np.asarray(v, np.float64) for name, v in params.items()}
    net = dlcm_config(DLCM_CFG.model.base)
    with batch_statistics():
        stacks, hr = dlcm.full_forward(p, batch["images"].astype(np.float64), net, DLCM_CFG.model.head)
    keys = [level_target_keys(lv) for lv in range(1, NUM_LEVELS + 1)]
    b = {"targets": [batch[t] for t, _ in keys], "target_weights": [batch[w] for _, w in keys],
         "target_hr": batch["target_hr"], "target_weight_hr": batch["target_weight_hr"]}
    return float(dlcm_loss({"stacks": stacks, "hr": hr}, b, net.levels, DLCM_CFG.loss, True)["loss"])
