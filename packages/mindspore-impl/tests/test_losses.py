"""The shared loss suites (:mod:`enhancenet_runtime.suites.losses`) with MindSpore's binding (conftest.py), and the
total losses of Eq. 8 and of DLCM compiled in GRAPH_MODE (as a training step runs them) as well as in
PYNATIVE_MODE."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from enhancenet_core.bottomup.loss import ae_total_loss, detection_loss, tag_loss
from enhancenet_core.compositional import dlcm_loss, level_batch, out_levels
from enhancenet_core.config import LossConfig
from enhancenet_mindspore.losses import AssociativeEmbeddingLoss, DlcmLoss, EnhanceNetLoss
from enhancenet_runtime.suites.losses import DlcmLossSuite, LossSuite

T = ms.Tensor


class TestLosses(LossSuite):
    """Hand-computed values, HRNet's per-joint loop, Eq. 8, OHKM placement, errors, gradients."""


class TestDlcmLoss(DlcmLossSuite):
    """DLCM's multi-level loss against the spec's NumPy formula on bone-map targets of every level."""


def _maps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.zeros((2, 3, 2, 2), np.float32)
    gt = np.zeros((2, 3, 2, 2), np.float32)
    pred[0, 0] = 1.0  # per-pixel error 1 -> joint loss 0.5 * 1 = 0.5
    pred[0, 1, 0, 0] = 2.0  # one pixel of error 2 -> 0.5 * 4 / 4 = 0.5
    pred[1, 2] = 3.0  # 0.5 * 9 = 4.5
    weight = np.array([[1, 0, 1], [1, 1, 1]], np.float32)
    return pred, gt, weight


class _Total(nn.Cell):
    """Builds the dicts inside construct (as a training step does) so GRAPH_MODE compiles the whole loss."""

    def __init__(self, cfg: LossConfig, head: bool) -> None:
        super().__init__()
        self.loss = EnhanceNetLoss(cfg, head)

    def construct(self, lr, hr, inter, t_lr, w_lr, t_hr, w_hr):
        out = self.loss({"lr": lr, "hr": hr, "intermediate": [inter]},
                        {"target_lr": t_lr, "target_weight_lr": w_lr, "target_hr": t_hr, "target_weight_hr": w_hr})
        return out["loss"], out["loss_lr"], out["loss_hr"]


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_total_loss_eq8(mode: str) -> None:
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    pred, gt, weight = _maps()
    inter = np.full_like(pred, 0.5)  # intermediate stage: 0.5 * 0.25 = 0.125 per weighted joint
    hr = np.repeat(np.repeat(pred, 2, axis=2), 2, axis=3)
    t_hr = np.zeros_like(hr)
    cfg = LossConfig(hr_weight=2.0, lr_weight=0.5, ohkm=True, ohkm_topk=1)
    total, lr, hrl = _Total(cfg, True)(T(pred), T(hr), T(inter), T(gt), T(weight), T(t_hr), T(weight))
    want_lr = 5.0 / 6 + 0.125 * 5 / 6  # plain MSE on the LR maps (OHKM goes to M^HR), plus the intermediate
    want_hr = 2.5  # OHKM top-1 on M^HR (same per-joint losses as the LR maps)
    assert float(lr.asnumpy()) == pytest.approx(want_lr, rel=1e-6)
    assert float(hrl.asnumpy()) == pytest.approx(want_hr, rel=1e-6)
    assert float(total.asnumpy()) == pytest.approx(0.5 * want_lr + 2.0 * want_hr, rel=1e-6)
    ms.set_context(mode=ms.PYNATIVE_MODE)


class _AeTotal(nn.Cell):
    """The AE loss with its dicts built inside construct, two stacks and the head, for GRAPH_MODE."""

    def __init__(self) -> None:
        super().__init__()
        self.loss = AssociativeEmbeddingLoss(LossConfig(hr_weight=0.5), True)

    def construct(self, det0, det1, tag0, tag1, hr, t_lr, m_lr, pixels, joint_mask, t_hr, m_hr):
        out = self.loss({"lr": det1, "intermediate": [det0], "tags": [tag0, tag1], "hr": hr},
                        {"target_lr": t_lr, "mask_lr": m_lr, "pixels": pixels, "joint_mask": joint_mask,
                         "target_hr": t_hr, "mask_hr": m_hr})
        return out["loss"], out["loss_push"], out["loss_pull"]


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_ae_loss_compiles_in_graph_mode(mode: str) -> None:
    """The AE total (push, pull, detection, η · HR detection) equals the spec's in both modes."""
    rng = np.random.default_rng(7)
    n, k = 2, 3
    dets = [rng.random((n, k, 8, 8)).astype(np.float32) for _ in range(2)]
    tags = [rng.standard_normal((n, k, 8, 8)).astype(np.float32) for _ in range(2)]
    hr, t_hr = rng.random((2, n, k, 16, 16)).astype(np.float32)
    t_lr, m_lr = rng.random((n, k, 8, 8)).astype(np.float32), (rng.random((n, 8, 8)) > 0.2).astype(np.float32)
    m_hr = np.repeat(np.repeat(m_lr, 2, axis=1), 2, axis=2)
    pixels = rng.integers(0, 8, (n, 3, k, 2)).astype(np.float32)
    mask = (rng.random((n, 3, k)) > 0.3).astype(np.float32)
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    try:
        loss, push, pull = _AeTotal()(*(T(a) for a in (*dets, *tags, hr, t_lr, m_lr, pixels, mask, t_hr, m_hr)))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    pp = [tag_loss(t, pixels.astype(np.int64), mask) for t in tags]
    want_push, want_pull = np.stack([a for a, _ in pp], 1), np.stack([b for _, b in pp], 1)
    det = detection_loss(np.stack(dets, 1), t_lr, m_lr)
    want = ae_total_loss(want_push, want_pull, det, detection_loss(hr, t_hr, m_hr), eta=0.5)
    assert float(loss.asnumpy()) == pytest.approx(want, rel=1e-5)
    assert float(push.asnumpy()) == pytest.approx(float(want_push.mean()), rel=1e-5)
    assert float(pull.asnumpy()) == pytest.approx(float(want_pull.mean()), rel=1e-5)


class _DlcmTotal(nn.Cell):
    """DLCM's loss with the dicts built inside construct, so GRAPH_MODE compiles the whole loss."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.loss = DlcmLoss(cfg, True)

    def construct(self, s0, s1, s2, s3, lr, hr, t1, w1, t2, w2, t3, w3, t_hr, w_hr):
        out = self.loss({"intermediate": [s0, s1, s2, s3], "lr": lr, "hr": hr},
                        {"target_lr": t1, "target_weight_lr": w1, "target_level2": t2, "target_weight_level2": w2,
                         "target_level3": t3, "target_weight_level3": w3, "target_hr": t_hr, "target_weight_hr": w_hr})
        return out["loss"], out["loss_lr"], out["loss_hr"]


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_dlcm_loss_compiles(mode: str) -> None:
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    outputs, batch, stacks = DlcmLossSuite._case(head=True)
    cfg = LossConfig(lr_weight=0.7, hr_weight=1.3)
    out, b = level_batch(outputs, batch, 3)
    want = dlcm_loss(out, b, out_levels(3), cfg, head_enabled=True)
    keys = ("target_lr", "target_weight_lr", "target_level2", "target_weight_level2", "target_level3",
            "target_weight_level3", "target_hr", "target_weight_hr")
    got = _DlcmTotal(cfg)(*(T(s) for s in stacks), T(outputs["hr"]), *(T(batch[k]) for k in keys))
    for g, key in zip(got, ("loss", "loss_lr", "loss_hr"), strict=True):
        assert float(g.asnumpy()) == pytest.approx(want[key], rel=1e-6), key
    ms.set_context(mode=ms.PYNATIVE_MODE)
