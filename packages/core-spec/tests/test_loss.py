"""Composition of the EnhanceNet loss (Eq. 8) from per-map losses: enhancenet_core.loss."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.config import LossConfig
from enhancenet_core.conventions import HrReduction
from enhancenet_core.loss import enhancenet_loss_terms, hr_term_weight

RNG = np.random.default_rng(0)
N, K, H, W, R = 2, 5, 6, 4, 3


def per_joint(pred: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(N, K) HRNet per-joint losses 0.5 * mean_pixels((w * (pred - gt)) ** 2)."""
    diff = (pred - target) * weight.reshape(pred.shape[0], pred.shape[1], 1, 1)
    return 0.5 * (diff**2).reshape(pred.shape[0], pred.shape[1], -1).mean(axis=2)


def mse(pred: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    return float(per_joint(pred, target, weight).mean())


def ohkm(pred: np.ndarray, target: np.ndarray, weight: np.ndarray, topk: int = 2) -> float:
    return float(np.sort(per_joint(pred, target, weight), axis=1)[:, -topk:].mean())


class Detached(float):
    """A float marked as passed through ``detach``."""


def maps(h: int = H, w: int = W) -> np.ndarray:
    return RNG.random((N, K, h, w))


@pytest.fixture()
def batch() -> dict[str, np.ndarray]:
    weight = np.ones((N, K, 1))
    weight[0, 1] = 0.0
    return {"target_lr": maps(), "target_weight_lr": weight,
            "target_hr": maps(R * H, R * W), "target_weight_hr": weight}


def terms(outputs, batch, head: bool, use_ohkm: bool = False, lr_weight: float = 1.0, hr_weight: float = 1.0):
    cfg = LossConfig(lr_weight=lr_weight, hr_weight=hr_weight, ohkm=use_ohkm, ohkm_topk=2)
    return enhancenet_loss_terms(outputs, batch, cfg, head, mse, ohkm if use_ohkm else None, detach=Detached)


def test_eq8_total_is_weighted_lr_plus_eta_hr(batch) -> None:
    out = {"lr": maps(), "hr": maps(R * H, R * W)}
    got = terms(out, batch, head=True, lr_weight=0.5, hr_weight=2.0)
    lr = mse(out["lr"], batch["target_lr"], batch["target_weight_lr"])
    hr = mse(out["hr"], batch["target_hr"], batch["target_weight_hr"])
    assert got["loss_lr"] == pytest.approx(lr) and got["loss_hr"] == pytest.approx(hr)
    assert got["loss"] == pytest.approx(0.5 * lr + 2.0 * hr)
    assert isinstance(got["loss_lr"], Detached) and isinstance(got["loss_hr"], Detached)
    assert not isinstance(got["loss"], Detached)  # the total keeps its graph


def test_without_head_there_is_no_hr_term_and_hr_maps_are_ignored(batch) -> None:
    out = {"lr": maps(), "hr": maps(R * H, R * W)}
    got = terms(out, batch, head=False, hr_weight=7.0)
    assert set(got) == {"loss", "loss_lr"}
    assert got["loss"] == pytest.approx(mse(out["lr"], batch["target_lr"], batch["target_weight_lr"]))


def test_intermediate_stages_add_plain_mse_on_the_lr_target(batch) -> None:
    stages = [maps(), maps()]
    out = {"lr": maps(), "intermediate": stages}
    got = terms(out, batch, head=False, use_ohkm=True, lr_weight=3.0)
    tgt, w = batch["target_lr"], batch["target_weight_lr"]
    expected = ohkm(out["lr"], tgt, w) + sum(mse(s, tgt, w) for s in stages)  # OHKM on the final maps only
    assert got["loss_lr"] == pytest.approx(expected)
    assert got["loss"] == pytest.approx(3.0 * expected)


def test_ohkm_moves_to_the_hr_maps_when_the_head_is_on(batch) -> None:
    out = {"lr": maps(), "hr": maps(R * H, R * W)}
    got = terms(out, batch, head=True, use_ohkm=True)
    assert got["loss_lr"] == pytest.approx(mse(out["lr"], batch["target_lr"], batch["target_weight_lr"]))
    assert got["loss_hr"] == pytest.approx(ohkm(out["hr"], batch["target_hr"], batch["target_weight_hr"]))
    # OHKM keeps the hardest joints, so it is never below the mean of all joints
    assert got["loss_hr"] >= mse(out["hr"], batch["target_hr"], batch["target_weight_hr"])


@pytest.mark.parametrize(
    ("outputs", "drop", "head", "message"),
    [
        ({}, (), False, "no 'lr' heat maps"),
        ({"lr": 0}, ("target_weight_lr",), False, "'target_lr' and 'target_weight_lr'"),
        ({"lr": 0}, (), True, "no 'hr' maps"),
        ({"lr": 0, "hr": None}, (), True, "no 'hr' maps"),
        ({"lr": 0, "hr": 0}, ("target_hr",), True, "'target_hr'/'target_weight_hr'"),
    ],
)
def test_missing_fields_are_named(batch, outputs, drop, head, message) -> None:
    out = {key: (maps() if value == 0 and key == "lr" else maps(R * H, R * W) if value == 0 else value)
           for key, value in outputs.items()}
    with pytest.raises(ValueError, match=message):
        terms(out, {k: v for k, v in batch.items() if k not in drop}, head=head)


def test_hr_reduction_sum_is_eq7s_pixel_sums(batch) -> None:
    # Eq. 7 with sums: L^LR_sum = mean * (H W), L^HR_sum = mean * (r² H W); their ratio is r² times the means'.
    out = {"lr": maps(), "hr": maps(R * H, R * W)}
    cfg = LossConfig(hr_weight=0.5, hr_reduction=HrReduction.SUM)
    got = enhancenet_loss_terms(out, batch, cfg, True, mse, None, detach=Detached, upscale=R)
    lr_sum = mse(out["lr"], batch["target_lr"], batch["target_weight_lr"]) * H * W
    hr_sum = mse(out["hr"], batch["target_hr"], batch["target_weight_hr"]) * (R * H) * (R * W)
    assert got["loss"] * H * W == pytest.approx(lr_sum + 0.5 * hr_sum)  # the sums, up to the global factor H W
    assert hr_term_weight(cfg, R) == 0.5 * 9 and hr_term_weight(LossConfig(hr_weight=0.5), R) == 0.5
    assert hr_term_weight(LossConfig(), None) == 1.0  # mean needs no r
    for bad in (None, 0, 2.5, True):
        with pytest.raises(ValueError, match="hr_reduction=sum needs the head's upscale"):
            hr_term_weight(cfg, bad)
    # the base model (no head) has no HR term and needs no r
    assert "loss_hr" not in enhancenet_loss_terms({"lr": out["lr"]}, batch, cfg, False, mse, None, detach=Detached)


def test_hr_reduction_from_the_config_file() -> None:
    from enhancenet_core.config import load_config, shipped_config_path

    assert load_config(shipped_config_path("synthetic_quick")).loss.hr_reduction is HrReduction.MEAN
    cfg = load_config(shipped_config_path("synthetic_quick"), ["loss.hr_reduction=sum"])
    assert cfg.loss.hr_reduction is HrReduction.SUM
    with pytest.raises(ValueError, match="hr_reduction"):
        load_config(shipped_config_path("synthetic_quick"), ["loss.hr_reduction=median"])
