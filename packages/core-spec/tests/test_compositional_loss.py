"""DLCM loss composition by hand on tiny maps."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.compositional import dlcm_loss, joints_mse
from enhancenet_core.config import LossConfig


def _m(*values):
    """A (1, P, 1, 1) map from P values."""
    return np.array(values, dtype=np.float64).reshape(1, -1, 1, 1)


def test_joints_mse_by_hand():
    pred, target = np.array([1.0, 3.0]).reshape(1, 1, 1, 2), np.array([0.0, 1.0]).reshape(1, 1, 1, 2)
    assert joints_mse(pred, target, np.ones((1, 1))) == pytest.approx(0.5 * (1 + 4) / 2)
    assert joints_mse(pred, target, np.full((1, 1), 0.5)) == pytest.approx(0.5 * (0.25 + 1) / 2)
    assert joints_mse(pred, target, np.zeros((1, 1)), use_target_weight=False) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        joints_mse(pred, target[..., :1], np.ones((1, 1)))


def _case():
    levels = (1, 2, 3, 2, 1)
    # level sizes 2, 1, 1 on 1x1 maps
    targets = [_m(1.0, 0.0), _m(1.0), _m(0.5)]
    weights = [np.array([[1.0, 1.0]]), np.array([[1.0]]), np.array([[0.0]])]
    stacks = [_m(0.0, 0.0), _m(3.0), _m(9.0), _m(1.0), _m(1.0, 2.0)]
    return levels, {"stacks": stacks}, {"targets": targets, "target_weights": weights}


def test_every_level_and_stack_is_supervised_by_hand():
    levels, outputs, batch = _case()
    # stack terms: 0.5*mean([1, 0]) = 0.25; 0.5*4 = 2; level 3 weight 0 -> 0; 0.5*0 = 0; 0.5*mean([0, 4]) = 1
    result = dlcm_loss(outputs, batch, levels, LossConfig(lr_weight=2.0), head_enabled=False)
    assert result["loss_stacks"] == pytest.approx([0.25, 2.0, 0.0, 0.0, 1.0])
    assert result["loss_lr"] == pytest.approx(3.25)
    assert result["loss"] == pytest.approx(6.5)
    assert "loss_hr" not in result


def test_hr_term_is_added_with_eta():
    levels, outputs, batch = _case()
    outputs["hr"] = np.array([2.0, 0.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
    batch["target_hr"] = np.zeros((1, 1, 2, 2))
    batch["target_weight_hr"] = np.ones((1, 1))
    result = dlcm_loss(outputs, batch, levels, LossConfig(hr_weight=0.5), head_enabled=True)
    assert result["loss_hr"] == pytest.approx(0.5 * 4 / 4)
    assert result["loss"] == pytest.approx(3.25 + 0.5 * 0.5)


def test_without_target_weight_the_empty_level_counts():
    levels, outputs, batch = _case()
    result = dlcm_loss(outputs, batch, levels, LossConfig(use_target_weight=False), head_enabled=False)
    assert result["loss_stacks"][2] == pytest.approx(0.5 * 8.5**2)


def test_bad_outputs_and_batches():
    levels, outputs, batch = _case()
    with pytest.raises(ValueError, match="5 stack outputs"):
        dlcm_loss({"stacks": outputs["stacks"][:4]}, batch, levels, LossConfig(), False)
    with pytest.raises(ValueError, match="level 1"):
        dlcm_loss({"stacks": outputs["stacks"][:4]}, batch, levels[:4], LossConfig(), False)
    with pytest.raises(ValueError, match="targets"):
        dlcm_loss(outputs, {"targets": batch["targets"][:2], "target_weights": batch["target_weights"]}, levels,
                  LossConfig(), False)  # fmt: skip
    with pytest.raises(ValueError, match="no 'hr'"):
        dlcm_loss(outputs, batch, levels, LossConfig(), True)
