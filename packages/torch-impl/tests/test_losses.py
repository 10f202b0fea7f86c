"""Losses against hand-computed values and against a literal per-joint loop written as HRNet's code reads."""

from __future__ import annotations

import pytest
import torch

from enhancenet_core.config import LossConfig
from enhancenet_torch.losses import EnhanceNetLoss, JointsMSELoss, JointsOHKMLoss


def _maps() -> tuple[torch.Tensor, torch.Tensor]:
    """N=2, K=2, 2x2 maps with per-joint squared errors known by hand."""
    pred = torch.zeros(2, 2, 2, 2)
    gt = torch.zeros(2, 2, 2, 2)
    pred[0, 0, 0, 0] = 1.0  # sum sq 1 -> mean 0.25 -> 0.5 * 0.25 = 0.125
    pred[0, 1] = 2.0  # each 4 -> mean 4 -> 2.0
    gt[1, 0] = 1.0  # pred 0 vs gt 1 everywhere -> mean 1 -> 0.5
    pred[1, 1, 1, 1] = 3.0  # 9 / 4 = 2.25 -> 1.125
    return pred, gt


def test_mse_hand_computed() -> None:
    pred, gt = _maps()
    ones = torch.ones(2, 2)
    # per joint HRNet averages over (N, pixels): joint 0 = (0.125 + 0.5) / 2, joint 1 = (2 + 1.125) / 2
    expected = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    assert JointsMSELoss()(pred, gt, ones).item() == pytest.approx(expected)
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected_w = ((0.125 + 0.0) / 2 + (0.0 + 1.125) / 2) / 2
    assert JointsMSELoss()(pred, gt, weights).item() == pytest.approx(expected_w)
    assert JointsMSELoss()(pred, gt, weights.unsqueeze(-1)).item() == pytest.approx(expected_w)
    # use_target_weight=False ignores the weights
    assert JointsMSELoss(False)(pred, gt, weights).item() == pytest.approx(expected)


def test_mse_matches_literal_hrnet_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 5, 6, 4, generator=gen)
    gt = torch.rand(3, 5, 6, 4, generator=gen)
    w = (torch.rand(3, 5, 1, generator=gen) > 0.3).float()
    crit = torch.nn.MSELoss(reduction="mean")
    ref = 0.0
    for k in range(5):
        p = pred[:, k].reshape(3, -1)
        g = gt[:, k].reshape(3, -1)
        ref += 0.5 * crit(p * w[:, k], g * w[:, k])
    ref = ref / 5
    assert JointsMSELoss()(pred, gt, w).item() == pytest.approx(float(ref), rel=1e-6)


def test_ohkm_hand_computed() -> None:
    pred, gt = _maps()
    ones = torch.ones(2, 2)
    # instance 0: joint losses (0.125, 2.0) -> top-1 = 2.0; instance 1: (0.5, 1.125) -> 1.125
    assert JointsOHKMLoss(topk=1)(pred, gt, ones).item() == pytest.approx((2.0 + 1.125) / 2)
    # top-2 of 2 = the mean of both joints per instance
    assert JointsOHKMLoss(topk=2)(pred, gt, ones).item() == pytest.approx(((0.125 + 2) / 2 + (0.5 + 1.125) / 2) / 2)
    # a zero weight removes a joint before mining: instance 0 keeps 0.125 as its hardest
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert JointsOHKMLoss(topk=1)(pred, gt, w).item() == pytest.approx((0.125 + 1.125) / 2)


def test_ohkm_bad_topk() -> None:
    pred, gt = _maps()
    with pytest.raises(ValueError, match="ohkm_topk"):
        JointsOHKMLoss(topk=3)(pred, gt, torch.ones(2, 2))
    with pytest.raises(ValueError, match="ohkm_topk"):
        JointsOHKMLoss(topk=0)


def test_shape_errors_name_the_tensor() -> None:
    pred, gt = _maps()
    with pytest.raises(ValueError, match="same shape"):
        JointsMSELoss()(pred, gt[:, :1], torch.ones(2, 2))
    with pytest.raises(ValueError, match="target_weight"):
        JointsMSELoss()(pred, gt, torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"\(N, K, H, W\)"):
        JointsMSELoss()(pred[0], gt[0], torch.ones(2, 2))


def test_enhancenet_total_eq8_with_intermediate() -> None:
    pred, gt = _maps()
    ones = torch.ones(2, 2)
    hr_pred = torch.zeros(2, 2, 4, 4)
    hr_gt = torch.zeros(2, 2, 4, 4)
    hr_pred[:, :, 0, 0] = 4.0  # per map: 16 / 16 = 1 -> 0.5 per joint and instance
    mse_lr = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    cfg = LossConfig(lr_weight=2.0, hr_weight=0.25)
    loss = EnhanceNetLoss(cfg, head_enabled=True)
    outputs = {"lr": pred, "hr": hr_pred, "intermediate": [torch.zeros_like(pred)]}
    batch = {"target_lr": gt, "target_weight_lr": ones, "target_hr": hr_gt, "target_weight_hr": ones}
    res = loss(outputs, batch)
    # intermediate zeros vs gt: only instance 1 joint 0 is off (0.5) -> (0.5/2 + 0) / 2 = 0.125
    lr_total = mse_lr + 0.125
    assert res["loss_lr"].item() == pytest.approx(lr_total)
    assert res["loss_hr"].item() == pytest.approx(0.5)
    assert res["loss"].item() == pytest.approx(2.0 * lr_total + 0.25 * 0.5)


def test_ohkm_is_placed_after_enhancenet() -> None:
    pred, gt = _maps()
    ones = torch.ones(2, 2)
    mse_lr = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2
    ohkm_lr = (2.0 + 1.125) / 2
    cfg = LossConfig(ohkm=True, ohkm_topk=1)
    # head on: LR maps get plain MSE, the HR maps (here: the same numbers upsampled 1x) get OHKM
    with_head = EnhanceNetLoss(cfg, head_enabled=True)(
        {"lr": pred, "hr": pred}, {"target_lr": gt, "target_weight_lr": ones, "target_hr": gt, "target_weight_hr": ones}
    )
    assert with_head["loss_lr"].item() == pytest.approx(mse_lr)
    assert with_head["loss_hr"].item() == pytest.approx(ohkm_lr)
    # head off: the final LR maps get OHKM (CPN's RefineNet)
    without = EnhanceNetLoss(cfg, head_enabled=False)({"lr": pred}, {"target_lr": gt, "target_weight_lr": ones})
    assert without["loss"].item() == pytest.approx(ohkm_lr)
    assert "loss_hr" not in without


def test_missing_outputs_are_named() -> None:
    pred, gt = _maps()
    loss = EnhanceNetLoss(LossConfig(), head_enabled=True)
    with pytest.raises(ValueError, match="'hr'"):
        loss({"lr": pred}, {"target_lr": gt, "target_weight_lr": torch.ones(2, 2), "target_hr": gt, "target_weight_hr": torch.ones(2, 2)})
    with pytest.raises(ValueError, match="target_hr"):
        loss({"lr": pred, "hr": pred}, {"target_lr": gt, "target_weight_lr": torch.ones(2, 2)})


def test_gradient_flows_only_through_weighted_joints() -> None:
    pred, gt = _maps()
    pred.requires_grad_(True)
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    JointsMSELoss()(pred, gt, w).backward()
    assert torch.all(pred.grad[0, 1] == 0)
    assert torch.any(pred.grad[0, 0] != 0)
