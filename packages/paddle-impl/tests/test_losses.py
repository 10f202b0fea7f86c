"""Losses against hand-computed values and against a literal per-joint loop written as HRNet's code reads
(the same cases as enhancenet-torch's tests, so both packages are held to the same numbers)."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from enhancenet_core.config import LossConfig
from enhancenet_paddle.losses import EnhanceNetLoss, JointsMSELoss, JointsOHKMLoss


def _maps() -> tuple[paddle.Tensor, paddle.Tensor]:
    """N=2, K=2, 2x2 maps with per-joint squared errors known by hand."""
    pred = np.zeros((2, 2, 2, 2), np.float32)
    gt = np.zeros((2, 2, 2, 2), np.float32)
    pred[0, 0, 0, 0] = 1.0  # sum sq 1 -> mean 0.25 -> 0.5 * 0.25 = 0.125
    pred[0, 1] = 2.0  # each 4 -> mean 4 -> 2.0
    gt[1, 0] = 1.0  # pred 0 vs gt 1 everywhere -> mean 1 -> 0.5
    pred[1, 1, 1, 1] = 3.0  # 9 / 4 = 2.25 -> 1.125
    return paddle.to_tensor(pred), paddle.to_tensor(gt)


def _t(a: list) -> paddle.Tensor:
    return paddle.to_tensor(np.asarray(a, np.float32))


def test_mse_hand_computed() -> None:
    pred, gt = _maps()
    ones = paddle.ones([2, 2])
    # per joint HRNet averages over (N, pixels): joint 0 = (0.125 + 0.5) / 2, joint 1 = (2 + 1.125) / 2
    expected = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    assert JointsMSELoss()(pred, gt, ones).item() == pytest.approx(expected)
    weights = _t([[1.0, 0.0], [0.0, 1.0]])
    expected_w = ((0.125 + 0.0) / 2 + (0.0 + 1.125) / 2) / 2
    assert JointsMSELoss()(pred, gt, weights).item() == pytest.approx(expected_w)
    assert JointsMSELoss()(pred, gt, weights.unsqueeze(-1)).item() == pytest.approx(expected_w)
    assert JointsMSELoss(False)(pred, gt, weights).item() == pytest.approx(expected)


def test_mse_matches_literal_hrnet_loop() -> None:
    rng = np.random.default_rng(0)
    pred, gt = rng.random((3, 5, 6, 4)), rng.random((3, 5, 6, 4))
    w = (rng.random((3, 5, 1)) > 0.3).astype(np.float64)
    ref = 0.0
    for k in range(5):  # HRNet: 0.5 * MSELoss(mean)(pred_k * w_k, gt_k * w_k), summed over joints, / K
        p, g = pred[:, k].reshape(3, -1), gt[:, k].reshape(3, -1)
        ref += 0.5 * np.mean((p * w[:, k] - g * w[:, k]) ** 2)
    ref /= 5
    got = JointsMSELoss()(*(paddle.to_tensor(a.astype(np.float32)) for a in (pred, gt, w))).item()
    assert got == pytest.approx(ref, rel=1e-6)


def test_ohkm_hand_computed() -> None:
    pred, gt = _maps()
    ones = paddle.ones([2, 2])
    # instance 0: joint losses (0.125, 2.0) -> top-1 = 2.0; instance 1: (0.5, 1.125) -> 1.125
    assert JointsOHKMLoss(topk=1)(pred, gt, ones).item() == pytest.approx((2.0 + 1.125) / 2)
    assert JointsOHKMLoss(topk=2)(pred, gt, ones).item() == pytest.approx(((0.125 + 2) / 2 + (0.5 + 1.125) / 2) / 2)
    w = _t([[1.0, 0.0], [1.0, 1.0]])  # a zero weight removes a joint before mining
    assert JointsOHKMLoss(topk=1)(pred, gt, w).item() == pytest.approx((0.125 + 1.125) / 2)


def test_ohkm_bad_topk_and_shape_errors() -> None:
    pred, gt = _maps()
    with pytest.raises(ValueError, match="ohkm_topk"):
        JointsOHKMLoss(topk=3)(pred, gt, paddle.ones([2, 2]))
    with pytest.raises(ValueError, match="ohkm_topk"):
        JointsOHKMLoss(topk=0)
    with pytest.raises(ValueError, match="same shape"):
        JointsMSELoss()(pred, gt[:, :1], paddle.ones([2, 2]))
    with pytest.raises(ValueError, match="target_weight"):
        JointsMSELoss()(pred, gt, paddle.ones([2, 3]))
    with pytest.raises(ValueError, match=r"\(N, K, H, W\)"):
        JointsMSELoss()(pred[0], gt[0], paddle.ones([2, 2]))


def test_enhancenet_total_eq8_with_intermediate() -> None:
    pred, gt = _maps()
    ones = paddle.ones([2, 2])
    hr_pred = np.zeros((2, 2, 4, 4), np.float32)
    hr_pred[:, :, 0, 0] = 4.0  # per map: 16 / 16 = 1 -> 0.5 per joint and instance
    mse_lr = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    loss = EnhanceNetLoss(LossConfig(lr_weight=2.0, hr_weight=0.25), head_enabled=True)
    outputs = {"lr": pred, "hr": paddle.to_tensor(hr_pred), "intermediate": [paddle.zeros_like(pred)]}
    batch = {"target_lr": gt, "target_weight_lr": ones, "target_hr": paddle.zeros([2, 2, 4, 4]),
             "target_weight_hr": ones}
    res = loss(outputs, batch)
    lr_total = mse_lr + 0.125  # intermediate zeros vs gt: only instance 1 joint 0 is off -> (0.5/2 + 0) / 2
    assert res["loss_lr"].item() == pytest.approx(lr_total)
    assert res["loss_hr"].item() == pytest.approx(0.5)
    assert res["loss"].item() == pytest.approx(2.0 * lr_total + 0.25 * 0.5)


def test_ohkm_is_placed_after_enhancenet() -> None:
    pred, gt = _maps()
    ones = paddle.ones([2, 2])
    mse_lr = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    ohkm_lr = (2.0 + 1.125) / 2
    cfg = LossConfig(ohkm=True, ohkm_topk=1)
    with_head = EnhanceNetLoss(cfg, head_enabled=True)(
        {"lr": pred, "hr": pred}, {"target_lr": gt, "target_weight_lr": ones, "target_hr": gt, "target_weight_hr": ones}
    )
    assert with_head["loss_lr"].item() == pytest.approx(mse_lr)
    assert with_head["loss_hr"].item() == pytest.approx(ohkm_lr)
    without = EnhanceNetLoss(cfg, head_enabled=False)({"lr": pred}, {"target_lr": gt, "target_weight_lr": ones})
    assert without["loss"].item() == pytest.approx(ohkm_lr)
    assert "loss_hr" not in without


def test_missing_outputs_are_named() -> None:
    pred, gt = _maps()
    ones = paddle.ones([2, 2])
    loss = EnhanceNetLoss(LossConfig(), head_enabled=True)
    with pytest.raises(ValueError, match="'hr'"):
        loss({"lr": pred}, {"target_lr": gt, "target_weight_lr": ones, "target_hr": gt, "target_weight_hr": ones})
    with pytest.raises(ValueError, match="target_hr"):
        loss({"lr": pred, "hr": pred}, {"target_lr": gt, "target_weight_lr": ones})


def test_gradient_flows_only_through_weighted_joints() -> None:
    pred, gt = _maps()
    pred.stop_gradient = False
    JointsMSELoss()(pred, gt, _t([[1.0, 0.0], [1.0, 1.0]])).backward()
    grad = pred.grad.numpy()
    assert np.all(grad[0, 1] == 0) and np.any(grad[0, 0] != 0)
