"""The tiny DLCM case of the training-step checks: configuration, one batch and the float64 loss reference.

The model: the shipped ``mpii_dlcm_256x256_enhancenet`` at its own 256×256 input, 18 channels (the narrowest the
hierarchy allows: ``channels - 16`` joints must stay even and positive), the authors' depth 4, the EnhanceNet head at
r = 2 with 8 channels, MPII's 16 joints, η = 2 (so that a dropped or doubled factor shows). Five stacks predict levels
(1, 2, 3, 2, 1), each supervised against its level's target.

Conditioning (train-mode BN makes float32 gradients sensitive; measured as torch float32 vs torch float64 on the same
weights and batch, ``conformance/README.md``):

- :func:`dlcm_weights` zeroes every conv bias that a train-mode BN cancels (every base conv but ``score.{i}``: their
  outputs reach the loss only through BN after shift-equivariant sums, pools and upsamplings; their float64 gradient
  is <= 2e-15 of the largest). The train-mode loss does not change; random ones only shift BN inputs' means.
- the images are normalised low-frequency content (noise at every scale 2..256, per channel zero mean, unit std):
  i.i.d. pixel noise carries nothing at the innermost map (1/64 of the input), so its channels there were nearly
  constant over the batch (|mean|/std up to 9, float32 cancellation in the batch variance).
- 256×256 (innermost map 4×4) rather than 128×128 (2×2, where BN amplified float32 rounding most): the largest
  float32-vs-float64 gradient error (the stem conv's) is 7.9e-4 of the largest gradient with 2 images here, 2.6e-3
  at 128×128 with 4. 2 images keep the step's cost near the 128×128 one (BN sees 32 values per channel innermost).
  Even so a float32 DLCM step is not exact to 1e-3 per tensor (see ``conformance/README.md``).

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
from enhancenet_numpy.weights import init_weights
from enhancenet_runtime.data.pipeline import render_targets

__all__ = ["DLCM_BATCH_KEYS", "DLCM_CFG", "DLCM_WEIGHT_SEED", "dlcm_batch", "dlcm_weights", "numpy_dlcm_loss"]

DLCM_CFG: Config = load_config(shipped_config_path("mpii_dlcm_256x256_enhancenet"), [
    "model.base.hourglass_channels=18", "model.head.channels=8",
    "model.head.upscale=2", "loss.hr_weight=2.0",
])  # fmt: skip
"""The full configuration (the targets read ``target`` and the model section)."""
DLCM_WEIGHT_SEED = 13
BATCH_SEED = 7
BATCH_SIZE = 2
NUM_LEVELS = dlcm_config(DLCM_CFG.model.base).hierarchy.num_levels
#: the loss's batch keys beyond ``images``: every level's target and weight, then M^HR's
DLCM_BATCH_KEYS: tuple[str, ...] = (
    *(key for lv in range(1, NUM_LEVELS + 1) for key in level_target_keys(lv)), "target_hr", "target_weight_hr",
)


def dlcm_weights() -> dict[str, np.ndarray]:
    """The case's float32 canonical weights: :func:`~enhancenet_numpy.weights.init_weights` with every conv bias a
    train-mode BN cancels set to zero (all but the head's and the score convs': see the module docstring)."""
    params = init_weights(DLCM_CFG.model, DLCM_WEIGHT_SEED, np.float32)
    for name, value in params.items():
        if _bn_cancelled_bias(name):
            params[name] = np.zeros_like(value)
    return params


def _bn_cancelled_bias(name: str) -> bool:
    """Whether ``name`` is the bias of a base conv (the stem's, the bottlenecks' conv1-3 and downsample, ``skip``,
    ``fc.{i}.0``, ``fc_``, ``score_``): BN tensors end in ``bn{k}.bias`` / ``fc.{i}.1.bias``."""
    parts = name.split(".")
    if parts[-1] != "bias" or parts[0] in ("enhance", "score"):
        return False
    layer = parts[-2]
    return not (layer.startswith("bn") or (parts[0] == "fc" and layer == "1"))


def _multiscale_images(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """(n, 3, h, w) float64: standard-normal noise at every scale 2, 4, .., h (nearest-upsampled, summed), then per
    channel zero mean and unit std over the batch (as normalised crops)."""
    img = np.zeros((n, 3, h, w))
    s = 2
    while s <= min(h, w):
        img += np.repeat(np.repeat(rng.standard_normal((n, 3, s, s)), h // s, axis=2), w // s, axis=3)
        s *= 2
    return (img - img.mean(axis=(0, 2, 3), keepdims=True)) / img.std(axis=(0, 2, 3), keepdims=True)


def dlcm_batch() -> dict[str, np.ndarray]:
    """2 images (normalised multi-scale noise, :func:`_multiscale_images`) and their targets from NumPy-drawn joints: 80 % of the
    joints visible, in image 1 two joints outside the input (their bones are empty, weight 0).

    Returns ``images`` (2, 3, 256, 256) and :data:`DLCM_BATCH_KEYS` (``target_lr`` (2, 16, 64, 64), ``target_level2``
    (2, 12, 64, 64), ``target_level3`` (2, 6, 64, 64), their weights (2, P_l), ``target_hr`` (2, 16, 128, 128),
    ``target_weight_hr`` (2, 16)), every array float32.
    """
    rng = np.random.default_rng(BATCH_SEED)
    (w, h), k = DLCM_CFG.model.input_size, DLCM_CFG.model.num_keypoints
    n = BATCH_SIZE
    joints = rng.uniform(8.0, w - 8.0, size=(n, k, 2))
    vis = np.where(rng.random((n, k)) < 0.8, 1.0, 0.0)
    joints[1, :2] += (w + 16.0, 0.0)  # right ankle and knee outside the input
    out = {"images": _multiscale_images(rng, n, h, w).astype(np.float32)}
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
