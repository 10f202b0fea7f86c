"""(c) Training-step parity, per implementation: one float32 step (train-mode BN, Adam) of the head alone, of
SimpleBaseline-R18 + head at small input, and of the tiny AE hourglass + head (``conformance._ae``: 2 stacks,
16 channels, 64×64, r = 2) on a collated batch of synthetic multi-person scenes with the AE loss, and of a tiny DLCM
+ head (``conformance._dlcm``: 18 channels, 256×256, r = 2, every level's targets and η·L^HR). Each framework writes its
loss, every gradient and every tensor
after the step to ``<artifacts>/<impl>/train_<case>.npz``; ``conformance/report.py`` compares every pair of
implementations. Independently, the head's gradient is checked here against float64 finite differences of
numpy-ref's forward (numpy-ref has no backward)."""

from __future__ import annotations

import numpy as np
import pytest

from conformance._ae import AE_CFG, AE_WEIGHT_SEED, ae_batch
from conformance._dlcm import DLCM_CFG, dlcm_batch, dlcm_weights, numpy_dlcm_loss
from conformance.adapters import NotSupportedError
from enhancenet_core.bottomup.loss import ae_total_loss, detection_loss, tag_loss
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, LossConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights

LR = 1e-3
LOSS = LossConfig(hr_weight=1.0, lr_weight=1.0, use_target_weight=True)
HEAD_CFG = ModelConfig(head=EnhanceNetConfig(channels=8, upscale=2), num_keypoints=3)
HEAD_FC = 5
R18_CFG = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18, deconv_channels=32),
                      head=EnhanceNetConfig(channels=16, upscale=2), num_keypoints=3, input_size=(32, 64))
#: finite differences vs float32 autograd: |g - g_fd| <= FD_RTOL * max |g_fd| (central differences, h=1e-6)
FD_RTOL = 1e-3


def _head_batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    n, h, w, k, r = 2, 4, 3, 3, 2
    return {
        "features": rng.standard_normal((n, HEAD_FC, h, w)),
        "heatmaps": rng.random((n, k, h, w)),
        "target_hr": rng.random((n, k, r * h, r * w)),
        "target_weight_hr": np.array([[[1.0], [0.0], [1.0]], [[1.0], [1.0], [1.0]]]),
    }


def _r18_batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(6)
    n, k = 2, 3
    (w, h), (hw, hh) = R18_CFG.heatmap_size, R18_CFG.hr_heatmap_size
    return {
        "images": rng.standard_normal((n, 3, R18_CFG.input_size[1], R18_CFG.input_size[0])),
        "target_lr": rng.random((n, k, h, w)),
        "target_weight_lr": np.array([[[1.0], [1.0], [0.0]], [[1.0], [1.0], [1.0]]]),
        "target_hr": rng.random((n, k, hh, hw)),
        "target_weight_hr": np.array([[[1.0], [1.0], [0.0]], [[1.0], [1.0], [1.0]]]),
    }


def _save(artifacts_dir, impl, case: str, loss: float, grads: dict, new: dict) -> None:
    d = artifacts_dir / impl.name
    d.mkdir(parents=True, exist_ok=True)
    arrays = {"loss": np.array(loss)}
    if getattr(impl, "adam_update", ""):  # an adapter may state its optimizer's update rule (for the report)
        arrays["adam_update"] = np.array(impl.adam_update)
    arrays.update({f"grad/{k}": v for k, v in grads.items()})
    arrays.update({f"new/{k}": v for k, v in new.items()})
    np.savez(d / f"train_{case}.npz", **arrays)


def _numpy_head_loss(params: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> float:
    out = head_forward(params, batch["features"], batch["heatmaps"], HEAD_CFG.head)
    w = batch["target_weight_hr"].reshape(out.shape[0], out.shape[1], 1, 1)
    per_joint = 0.5 * ((out * w - batch["target_hr"] * w) ** 2).mean(axis=(2, 3))  # HRNet JointsMSELoss
    return float(LOSS.hr_weight * per_joint.mean())


def test_head_step(impl, record, artifacts_dir) -> None:
    params = init_weights(HEAD_CFG, 3, np.float64, HEAD_FC)
    batch = _head_batch()
    try:
        loss, grads, new = impl.train_step({k: v.astype(np.float32) for k, v in params.items()}, HEAD_CFG, LOSS,
                                           batch, LR, feature_channels=HEAD_FC)
    except NotSupportedError as exc:
        pytest.skip(str(exc))
    _save(artifacts_dir, impl, "head", loss, grads, new)
    assert set(grads) == set(params) and set(new) == set(params)
    ref_loss = _numpy_head_loss(params, batch)
    ok = record("train_step.head.loss_vs_numpy_float64", abs(loss - ref_loss), 1e-5 * max(1.0, abs(ref_loss)))
    # finite differences on a few entries of every tensor
    rng = np.random.default_rng(0)
    worst, scale = 0.0, 0.0
    for name, value in params.items():
        for flat in rng.choice(value.size, size=min(3, value.size), replace=False):
            idx = np.unravel_index(flat, value.shape)
            plus, minus = dict(params), dict(params)
            plus[name] = value.copy()
            minus[name] = value.copy()
            plus[name][idx] += 1e-6
            minus[name][idx] -= 1e-6
            g_fd = (_numpy_head_loss(plus, batch) - _numpy_head_loss(minus, batch)) / 2e-6
            worst = max(worst, abs(float(grads[name][idx]) - g_fd))
            scale = max(scale, abs(g_fd))
    ok &= record("train_step.head.grad_vs_finite_differences", worst, FD_RTOL * scale,
                 f"float64 central differences, {scale:.3g} max |g|")
    assert ok


def test_simple_baseline_r18_step(impl, record, artifacts_dir) -> None:
    params = init_weights(R18_CFG, 4, np.float32)
    try:
        loss, grads, new = impl.train_step(params, R18_CFG, LOSS, _r18_batch(), LR)
    except NotSupportedError as exc:
        pytest.skip(str(exc))
    _save(artifacts_dir, impl, "r18", loss, grads, new)
    learnable = {k for k in params if not k.endswith(("running_mean", "running_var"))}
    assert set(grads) == learnable and set(new) == set(params)
    moved = max(float(np.max(np.abs(new[k] - params[k]))) for k in learnable)
    assert record("train_step.r18.written", None, None, f"loss {loss:.6g}, max |Δw| {moved:.3g}")
    assert np.isfinite(loss) and 0 < moved <= 1.01 * LR * 1.0 + 1e-7  # Adam's first step moves <= lr


def _numpy_ae_loss(params: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> float:
    """The spec's AE total (+ η·L^HR) on numpy-ref's float64 forward (every stack's detections and tags)."""
    from conformance.adapters.numpy_ref import NumpyRefAdapter

    out = NumpyRefAdapter().model_forward(params, AE_CFG.model, batch["images"].astype(np.float64), np.float64)
    dets = np.stack([*out["intermediate"], out["lr"]], axis=1)  # (B, S, K, h, w)
    pp = [tag_loss(t, batch["pixels"], batch["joint_mask"]) for t in out["tags"]]
    return ae_total_loss(np.stack([a for a, _ in pp], 1), np.stack([b for _, b in pp], 1),
                         detection_loss(dets, batch["target_lr"], batch["mask_lr"]),
                         detection_loss(out["hr"], batch["target_hr"], batch["mask_hr"]), AE_CFG.loss.hr_weight)


def test_ae_hourglass_step(impl, record, artifacts_dir) -> None:
    params = init_weights(AE_CFG.model, AE_WEIGHT_SEED, np.float32)
    batch = ae_batch()
    assert batch["joint_mask"].sum() > 0 and batch["mask_lr"].min() == 0  # people tagged, a crowd masked
    assert batch["joint_mask"].sum() < batch["joint_mask"].size  # invisible and outside joints untagged
    try:
        loss, grads, new = impl.train_step(params, AE_CFG.model, AE_CFG.loss, batch, LR)
    except NotSupportedError as exc:
        pytest.skip(str(exc))
    _save(artifacts_dir, impl, "ae", loss, grads, new)
    assert set(grads) == set(params) and set(new) == set(params)  # no BN in pose-ae-train's hourglass
    ref = _numpy_ae_loss({k: v.astype(np.float64) for k, v in params.items()}, batch)
    ok = record("train_step.ae.loss_vs_numpy_float64", abs(loss - ref), 1e-5 * max(1.0, abs(ref)),
                f"spec AE total on numpy-ref's float64 forward: {ref:.6g}")
    moved = max(float(np.max(np.abs(new[k] - params[k]))) for k in params)
    ok &= record("train_step.ae.written", None, None, f"loss {loss:.6g}, max |Δw| {moved:.3g}")
    assert ok and np.isfinite(loss) and 0 < moved <= 1.01 * LR + 1e-7


def test_dlcm_step(impl, record, artifacts_dir) -> None:
    """DLCM + head: five stacks against their levels' targets (bone maps) plus η·L^HR, train-mode BN, Adam."""
    params = dlcm_weights()  # the conv biases a train-mode BN cancels are zero (conformance/_dlcm.py)
    batch = dlcm_batch()
    for key in ("target_weight_lr", "target_weight_level2", "target_weight_level3"):
        assert 0 < batch[key].sum() < batch[key].size, key  # every level supervised, some parts empty
    try:
        loss, grads, new = impl.train_step(params, DLCM_CFG.model, DLCM_CFG.loss, batch, LR)
    except NotSupportedError as exc:
        pytest.skip(str(exc))
    _save(artifacts_dir, impl, "dlcm", loss, grads, new)
    learnable = {k for k in params if not k.endswith(("running_mean", "running_var"))}
    assert set(grads) == learnable and set(new) == set(params)
    ref = numpy_dlcm_loss(params, batch)
    ok = record("train_step.dlcm.loss_vs_numpy_float64", abs(loss - ref), 1e-5 * max(1.0, abs(ref)),
                f"spec DLCM loss on numpy-ref's float64 forward, train-mode BN: {ref:.6g}")
    moved = max(float(np.max(np.abs(new[k] - params[k]))) for k in learnable)
    stats = max(float(np.max(np.abs(new[k] - params[k]))) for k in set(params) - learnable)
    ok &= record("train_step.dlcm.written", None, None, f"loss {loss:.6g}, max |Δw| {moved:.3g}, max |Δstat| {stats:.3g}")
    assert ok and np.isfinite(loss) and 0 < moved <= 1.01 * LR + 1e-7 and stats > 0  # BN statistics updated
