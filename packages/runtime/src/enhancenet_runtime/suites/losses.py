"""The losses of every framework against hand-computed values and a literal per-joint loop written as HRNet's code
reads: JointsMSELoss (0.5 x MSE with target weights), JointsOHKMLoss (top-k per instance), EnhanceNetLoss (Eq. 8,
OHKM placed after EnhanceNet), the errors that name the tensor, and the gradient through the target weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.config import LossConfig
from enhancenet_core.conventions import HrReduction


class Binding(Protocol):
    """What :class:`LossSuite` needs from a framework."""

    #: the framework's ``losses`` module: JointsMSELoss, JointsOHKMLoss, EnhanceNetLoss, per_joint_mse
    losses: ModuleType

    def tensor(self, array: np.ndarray) -> Any:
        """A float32 framework tensor holding ``array``."""

    def numpy(self, tensor: Any) -> np.ndarray:
        """The values of a framework tensor."""

    def grad(self, fn: Callable[[Any], Any], array: np.ndarray) -> np.ndarray:
        """d fn(tensor(array)) / d array, for a scalar ``fn``."""


def _hand_maps() -> tuple[np.ndarray, np.ndarray]:
    """N=2, K=2, 2x2 maps with per-joint squared errors known by hand."""
    pred = np.zeros((2, 2, 2, 2), np.float32)
    gt = np.zeros((2, 2, 2, 2), np.float32)
    pred[0, 0, 0, 0] = 1.0  # sum sq 1 -> mean 0.25 -> 0.5 * 0.25 = 0.125
    pred[0, 1] = 2.0  # each 4 -> mean 4 -> 2.0
    gt[1, 0] = 1.0  # pred 0 vs gt 1 everywhere -> mean 1 -> 0.5
    pred[1, 1, 1, 1] = 3.0  # 9 / 4 = 2.25 -> 1.125
    return pred, gt


def _three_joint_maps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N=2, K=3, 2x2 maps and weights with a zero-weighted joint."""
    pred = np.zeros((2, 3, 2, 2), np.float32)
    gt = np.zeros((2, 3, 2, 2), np.float32)
    pred[0, 0] = 1.0  # per-pixel error 1 -> joint loss 0.5 * 1 = 0.5
    pred[0, 1, 0, 0] = 2.0  # one pixel of error 2 -> 0.5 * 4 / 4 = 0.5
    pred[1, 2] = 3.0  # 0.5 * 9 = 4.5
    weight = np.array([[1, 0, 1], [1, 1, 1]], np.float32)
    return pred, gt, weight


# per joint HRNet averages over (N, pixels): joint 0 = (0.125 + 0.5) / 2, joint 1 = (2 + 1.125) / 2
MSE_HAND = ((0.125 + 0.5) / 2 + (2.0 + 1.125) / 2) / 2


class LossSuite:
    """The loss tests, run by each framework with its ``binding`` fixture."""

    def _value(self, binding: Binding, tensor: Any) -> float:
        return float(binding.numpy(tensor))

    def test_mse_hand_computed(self, binding: Binding) -> None:
        L, T = binding.losses, binding.tensor
        pred, gt = (T(a) for a in _hand_maps())
        ones = T(np.ones((2, 2), np.float32))
        assert self._value(binding, L.JointsMSELoss()(pred, gt, ones)) == pytest.approx(MSE_HAND)
        weights = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        expected_w = ((0.125 + 0.0) / 2 + (0.0 + 1.125) / 2) / 2
        assert self._value(binding, L.JointsMSELoss()(pred, gt, T(weights))) == pytest.approx(expected_w)
        assert self._value(binding, L.JointsMSELoss()(pred, gt, T(weights[..., None]))) == pytest.approx(expected_w)
        # use_target_weight=False ignores the weights
        assert self._value(binding, L.JointsMSELoss(False)(pred, gt, T(weights))) == pytest.approx(MSE_HAND)

    def test_mse_matches_literal_hrnet_loop(self, binding: Binding) -> None:
        rng = np.random.default_rng(0)
        pred, gt = rng.random((3, 5, 6, 4)), rng.random((3, 5, 6, 4))
        w = (rng.random((3, 5, 1)) > 0.3).astype(np.float64)
        ref = 0.0
        for k in range(5):  # HRNet: 0.5 * MSELoss(mean)(pred_k * w_k, gt_k * w_k), summed over joints, / K
            p, g = pred[:, k].reshape(3, -1), gt[:, k].reshape(3, -1)
            ref += 0.5 * np.mean((p * w[:, k] - g * w[:, k]) ** 2)
        ref /= 5
        got = binding.losses.JointsMSELoss()(*(binding.tensor(a.astype(np.float32)) for a in (pred, gt, w)))
        assert self._value(binding, got) == pytest.approx(ref, rel=1e-6)

    def test_per_joint_mse_by_hand(self, binding: Binding) -> None:
        pred, gt, weight = (binding.tensor(a) for a in _three_joint_maps())
        got = binding.numpy(binding.losses.per_joint_mse(pred, gt, weight))
        np.testing.assert_allclose(got, [[0.5, 0.0, 0.0], [0.0, 0.0, 4.5]])
        weight_n_k_1 = binding.tensor(_three_joint_maps()[2][..., None])  # (N, K, 1) weights
        got = binding.numpy(binding.losses.per_joint_mse(pred, gt, weight_n_k_1))
        np.testing.assert_allclose(got, [[0.5, 0.0, 0.0], [0.0, 0.0, 4.5]])

    def test_mse_and_ohkm_by_hand(self, binding: Binding) -> None:
        L = binding.losses
        pred, gt, weight = (binding.tensor(a) for a in _three_joint_maps())
        assert self._value(binding, L.JointsMSELoss(True)(pred, gt, weight)) == pytest.approx(5.0 / 6)
        assert self._value(binding, L.JointsMSELoss(False)(pred, gt, weight)) == pytest.approx(5.5 / 6)
        # top-1 per instance: 0.5 and 4.5 -> mean 2.5; top-2: (0.5 + 0) / 2, (4.5 + 0) / 2 -> 1.25
        assert self._value(binding, L.JointsOHKMLoss(True, 1)(pred, gt, weight)) == pytest.approx(2.5)
        assert self._value(binding, L.JointsOHKMLoss(True, 2)(pred, gt, weight)) == pytest.approx(1.25)
        assert self._value(binding, L.JointsOHKMLoss(False, 1)(pred, gt, weight)) == pytest.approx((0.5 + 4.5) / 2)

    def test_ohkm_hand_computed(self, binding: Binding) -> None:
        L, T = binding.losses, binding.tensor
        pred, gt = (T(a) for a in _hand_maps())
        ones = T(np.ones((2, 2), np.float32))
        # instance 0: joint losses (0.125, 2.0) -> top-1 = 2.0; instance 1: (0.5, 1.125) -> 1.125
        assert self._value(binding, L.JointsOHKMLoss(topk=1)(pred, gt, ones)) == pytest.approx((2.0 + 1.125) / 2)
        # top-2 of 2 = the mean of both joints per instance
        assert self._value(binding, L.JointsOHKMLoss(topk=2)(pred, gt, ones)) == pytest.approx(
            ((0.125 + 2) / 2 + (0.5 + 1.125) / 2) / 2)
        # a zero weight removes a joint before mining: instance 0 keeps 0.125 as its hardest
        w = T(np.array([[1.0, 0.0], [1.0, 1.0]], np.float32))
        assert self._value(binding, L.JointsOHKMLoss(topk=1)(pred, gt, w)) == pytest.approx((0.125 + 1.125) / 2)

    def test_ohkm_bad_topk(self, binding: Binding) -> None:
        L, T = binding.losses, binding.tensor
        pred, gt = (T(a) for a in _hand_maps())
        with pytest.raises(ValueError, match="ohkm_topk"):
            L.JointsOHKMLoss(topk=3)(pred, gt, T(np.ones((2, 2), np.float32)))
        with pytest.raises(ValueError, match="ohkm_topk"):
            L.JointsOHKMLoss(topk=0)
        p3, g3, w3 = (T(a) for a in _three_joint_maps())
        with pytest.raises(ValueError, match="at most K"):
            L.JointsOHKMLoss(True, 4)(p3, g3, w3)

    def test_shape_errors_name_the_tensor(self, binding: Binding) -> None:
        L, T = binding.losses, binding.tensor
        pred, gt = _hand_maps()
        ones = T(np.ones((2, 2), np.float32))
        with pytest.raises(ValueError, match="same shape"):
            L.JointsMSELoss()(T(pred), T(gt[:, :1]), ones)
        with pytest.raises(ValueError, match="target_weight"):
            L.JointsMSELoss()(T(pred), T(gt), T(np.ones((2, 3), np.float32)))
        with pytest.raises(ValueError, match=r"\(N, K, H, W\)"):
            L.JointsMSELoss()(T(pred[0]), T(gt[0]), ones)

    def test_enhancenet_total_eq8_with_intermediate(self, binding: Binding) -> None:
        T = binding.tensor
        pred, gt = _hand_maps()
        ones = T(np.ones((2, 2), np.float32))
        hr_pred = np.zeros((2, 2, 4, 4), np.float32)
        hr_pred[:, :, 0, 0] = 4.0  # per map: 16 / 16 = 1 -> 0.5 per joint and instance
        loss = binding.losses.EnhanceNetLoss(LossConfig(lr_weight=2.0, hr_weight=0.25), head_enabled=True)
        outputs = {"lr": T(pred), "hr": T(hr_pred), "intermediate": [T(np.zeros_like(pred))]}
        batch = {"target_lr": T(gt), "target_weight_lr": ones, "target_hr": T(np.zeros((2, 2, 4, 4), np.float32)),
                 "target_weight_hr": ones}
        res = loss(outputs, batch)
        lr_total = MSE_HAND + 0.125  # intermediate zeros vs gt: only instance 1 joint 0 is off -> (0.5/2 + 0) / 2
        assert self._value(binding, res["loss_lr"]) == pytest.approx(lr_total)
        assert self._value(binding, res["loss_hr"]) == pytest.approx(0.5)
        assert self._value(binding, res["loss"]) == pytest.approx(2.0 * lr_total + 0.25 * 0.5)

    def test_hr_reduction_sum_weighs_the_hr_term_r_squared(self, binding: Binding) -> None:
        # Eq. 7 as sums: M^HR (4x4) has r² = 4 times the pixels of M^LR (2x2), so against the per-pixel mean the
        # HR term weighs η·r² = 0.25 * 4; the logged loss_hr stays the mean (0.5 here, as in the test above)
        T = binding.tensor
        pred, gt = _hand_maps()
        ones = T(np.ones((2, 2), np.float32))
        hr_pred = np.zeros((2, 2, 4, 4), np.float32)
        hr_pred[:, :, 0, 0] = 4.0
        outputs = {"lr": T(pred), "hr": T(hr_pred)}
        batch = {"target_lr": T(gt), "target_weight_lr": ones, "target_hr": T(np.zeros((2, 2, 4, 4), np.float32)),
                 "target_weight_hr": ones}
        cfg = LossConfig(lr_weight=2.0, hr_weight=0.25, hr_reduction=HrReduction.SUM)
        res = binding.losses.EnhanceNetLoss(cfg, head_enabled=True, upscale=2)(outputs, batch)
        assert self._value(binding, res["loss_hr"]) == pytest.approx(0.5)
        assert self._value(binding, res["loss"]) == pytest.approx(2.0 * MSE_HAND + 0.25 * 4 * 0.5)
        mean = binding.losses.EnhanceNetLoss(replace(cfg, hr_reduction=HrReduction.MEAN), head_enabled=True,
                                             upscale=2)(outputs, batch)
        assert self._value(binding, mean["loss"]) == pytest.approx(2.0 * MSE_HAND + 0.25 * 0.5)
        with pytest.raises(ValueError, match="hr_reduction=sum needs the head's upscale"):
            binding.losses.EnhanceNetLoss(cfg, head_enabled=True)

    def test_ohkm_is_placed_after_enhancenet(self, binding: Binding) -> None:
        T = binding.tensor
        pred, gt = (T(a) for a in _hand_maps())
        ones = T(np.ones((2, 2), np.float32))
        ohkm_lr = (2.0 + 1.125) / 2
        cfg = LossConfig(ohkm=True, ohkm_topk=1)
        # head on: LR maps get plain MSE, the HR maps (here: the same numbers upsampled 1x) get OHKM
        with_head = binding.losses.EnhanceNetLoss(cfg, head_enabled=True)(
            {"lr": pred, "hr": pred},
            {"target_lr": gt, "target_weight_lr": ones, "target_hr": gt, "target_weight_hr": ones},
        )
        assert self._value(binding, with_head["loss_lr"]) == pytest.approx(MSE_HAND)
        assert self._value(binding, with_head["loss_hr"]) == pytest.approx(ohkm_lr)
        # head off: the final LR maps get OHKM (CPN's RefineNet)
        without = binding.losses.EnhanceNetLoss(cfg, head_enabled=False)(
            {"lr": pred}, {"target_lr": gt, "target_weight_lr": ones})
        assert self._value(binding, without["loss"]) == pytest.approx(ohkm_lr)
        assert "loss_hr" not in without

    def test_ohkm_on_final_lr_without_head(self, binding: Binding) -> None:
        pred, gt, weight = (binding.tensor(a) for a in _three_joint_maps())
        loss = binding.losses.EnhanceNetLoss(LossConfig(ohkm=True, ohkm_topk=1), head_enabled=False)
        out = loss({"lr": pred}, {"target_lr": gt, "target_weight_lr": weight})
        assert self._value(binding, out["loss"]) == pytest.approx(2.5) and "loss_hr" not in out

    def test_missing_outputs_are_named(self, binding: Binding) -> None:
        T = binding.tensor
        pred, gt = (T(a) for a in _hand_maps())
        ones = T(np.ones((2, 2), np.float32))
        loss = binding.losses.EnhanceNetLoss(LossConfig(), head_enabled=True)
        with pytest.raises(ValueError, match="'hr'"):
            loss({"lr": pred}, {"target_lr": gt, "target_weight_lr": ones, "target_hr": gt, "target_weight_hr": ones})
        with pytest.raises(ValueError, match="target_hr"):
            loss({"lr": pred, "hr": pred}, {"target_lr": gt, "target_weight_lr": ones})

    def test_gradient_flows_only_through_weighted_joints(self, binding: Binding) -> None:
        pred, gt = _hand_maps()
        w = binding.tensor(np.array([[1.0, 0.0], [1.0, 1.0]], np.float32))
        grad = binding.grad(lambda p: binding.losses.JointsMSELoss()(p, binding.tensor(gt), w), pred)
        assert np.all(grad[0, 1] == 0)
        assert np.any(grad[0, 0] != 0)


class DlcmLossSuite:
    """DLCM's multi-level loss (the framework's ``losses.DlcmLoss``) against the spec's NumPy formula
    :func:`enhancenet_core.compositional.dlcm_loss` on real bone-map targets of every level."""

    @staticmethod
    def _case(head: bool) -> tuple[dict[str, Any], dict[str, Any], list[np.ndarray]]:
        from enhancenet_core.compositional import BoneMapCodec, level_target_keys
        from enhancenet_core.conventions import CoordinateConvention, Decoder, FlipShiftRule

        rng = np.random.default_rng(3)
        codec = BoneMapCodec((32, 32), (8, 8), 1.0, CoordinateConvention.UNBIASED, Decoder.ARGMAX_QUARTER,
                             FlipShiftRule.HRNET)
        joints = rng.uniform(2, 30, (2, 16, 2))
        vis = (rng.uniform(size=(2, 16)) > 0.2).astype(np.float64)
        t = codec.encode(joints, vis)
        batch: dict[str, Any] = {}
        for lv, (m, w) in enumerate(zip(t.maps, t.weights, strict=True), start=1):
            tk, wk = level_target_keys(lv)
            batch[tk], batch[wk] = m, w
        stacks = [rng.normal(0, 0.3, (2, m.shape[1], 8, 8)).astype(np.float32) for m in t.for_stacks(codec.levels)[0]]
        outputs: dict[str, Any] = {"intermediate": stacks[:-1], "lr": stacks[-1]}
        if head:
            outputs["hr"] = rng.normal(0, 0.3, (2, 16, 16, 16)).astype(np.float32)
            batch["target_hr"] = rng.uniform(0, 1, (2, 16, 16, 16)).astype(np.float32)
            batch["target_weight_hr"] = t.weights[0]
        return outputs, batch, stacks

    @pytest.mark.parametrize(("head", "use_weight"), [(True, True), (False, True), (True, False)])
    def test_dlcm_loss_matches_the_spec(self, binding: Binding, head: bool, use_weight: bool) -> None:
        from enhancenet_core.compositional import dlcm_loss, level_batch, out_levels

        outputs, batch, _ = self._case(head)
        cfg = LossConfig(lr_weight=0.7, hr_weight=1.3, use_target_weight=use_weight)
        out, b = level_batch(outputs, batch, 3)
        want = dlcm_loss(out, b, out_levels(3), cfg, head_enabled=head)
        T = binding.tensor
        got = binding.losses.DlcmLoss(cfg, head)(
            {k: [T(x) for x in v] if isinstance(v, list) else T(v) for k, v in outputs.items()},
            {k: T(v) for k, v in batch.items()},
        )
        assert want["loss"] > 0 and len(got["loss_stacks"]) == 5
        for key in ("loss", "loss_lr", *(("loss_hr",) if head else ())):
            assert abs(float(binding.numpy(got[key])) - want[key]) <= 1e-6 * max(1.0, abs(want[key])), key
        for g, w in zip(got["loss_stacks"], want["loss_stacks"], strict=True):
            assert abs(float(binding.numpy(g)) - w) <= 1e-6 * max(1.0, abs(w))
        # every level is supervised: a wrong level-3 target changes the loss
        batch["target_level3"] = batch["target_level3"] + 0.5
        moved = binding.losses.DlcmLoss(cfg, head)(
            {k: [T(x) for x in v] if isinstance(v, list) else T(v) for k, v in outputs.items()},
            {k: T(v) for k, v in batch.items()},
        )
        assert float(binding.numpy(moved["loss"])) > float(binding.numpy(got["loss"]))

    def test_dlcm_loss_refusals(self, binding: Binding) -> None:
        outputs, batch, _ = self._case(False)
        T = binding.tensor
        del batch["target_weight_level2"]
        with pytest.raises(ValueError, match="target_weight_level2"):
            binding.losses.DlcmLoss(LossConfig(), False)(
                {k: [T(x) for x in v] if isinstance(v, list) else T(v) for k, v in outputs.items()},
                {k: T(v) for k, v in batch.items()},
            )
        with pytest.raises(ValueError, match=r"loss\.ohkm"):
            binding.losses.DlcmLoss(LossConfig(ohkm=True), False)
