"""MPII PCKh against a straightforward per-sample loop written here (the HRNet/MATLAB protocol)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.metrics.pckh import (
    CoordinateBase,
    TieRule,
    compute_pckh,
    evaluate_mpii_files,
    format_pckh_table,
    head_sizes_from_boxes,
)

GROUPS = {
    "Head": [9],
    "Shoulder": [12, 13],
    "Elbow": [11, 14],
    "Wrist": [10, 15],
    "Hip": [2, 3],
    "Knee": [1, 4],
    "Ankle": [0, 5],
}


def reference_pckh(pred, gt, vis, head, alpha, le=True):
    """Per-sample loop: per-joint PCKh, groups (mean of left/right), mean over joints except 6 and 7."""
    correct = [0] * 16
    count = [0] * 16
    for n in range(len(gt)):
        for j in range(16):
            if not vis[n][j]:
                continue
            dist = math.hypot(pred[n][j][0] - gt[n][j][0], pred[n][j][1] - gt[n][j][1]) / head[n]
            ok = dist <= alpha if le else dist < alpha
            correct[j] += int(ok)
            count[j] += 1
    per_joint = [100.0 * c / k if k else float("nan") for c, k in zip(correct, count, strict=True)]
    out = {name: sum(per_joint[j] for j in idx) / len(idx) for name, idx in GROUPS.items()}
    keep = [j for j in range(16) if j not in (6, 7)]
    out["Mean"] = 100.0 * sum(correct[j] for j in keep) / sum(count[j] for j in keep)
    return out, per_joint


@pytest.fixture(scope="module")
def mpii(mpii_sample_dir: Path):
    with (mpii_sample_dir / "test_mpii.json").open() as f:
        data = json.load(f)
    gt = np.array([e["joints"] for e in data], dtype=float)
    vis = np.array([e["joints_vis"] for e in data]) > 0
    return gt, vis


@pytest.mark.parametrize("seed", [0, 1])
def test_sample_matches_loop_reference(mpii, seed):
    gt, vis = mpii
    rng = np.random.default_rng(seed)
    vis = vis.copy()
    vis[rng.random(vis.shape) < 0.15] = False  # some invisible joints
    head = rng.uniform(30, 80, len(gt))  # synthetic head sizes: the sample has no head boxes
    pred = gt + rng.normal(0, 0.15, gt.shape) * head[:, None, None]
    res = compute_pckh(pred, gt, vis, head_sizes=head)
    for alpha in (0.5, 0.1):
        ref, ref_joint = reference_pckh(pred, gt, vis, head, alpha)
        for name, value in ref.items():
            assert res.groups[alpha][name] == pytest.approx(value, abs=1e-9), (alpha, name)
        np.testing.assert_allclose(res.per_joint[list(res.thresholds).index(alpha)], ref_joint, atol=1e-9)
    legacy, _ = reference_pckh(pred, gt, vis, head, 0.11)
    assert res.legacy_hrnet_0_1 == pytest.approx(legacy["Mean"], abs=1e-9)
    for i in (0, 7, 25, 50):
        ref, _ = reference_pckh(pred, gt, vis, head, i / 100)
        assert res.curve_mean[i] == pytest.approx(ref["Mean"], abs=1e-9)
    assert res.curve_alphas[10] == 0.1 and res.curve_alphas[50] == 0.5
    assert np.all(np.diff(res.curve_mean) >= 0)


def test_legacy_value_is_at_0_11_not_0_1(mpii):
    gt, vis = mpii
    head = np.full(len(gt), 50.0)
    pred = gt.copy()
    pred[..., 0] += 0.105 * 50.0  # every error 0.105 head sizes: fails @0.1, passes @0.11
    res = compute_pckh(pred, gt, vis, head_sizes=head)
    assert res.groups[0.1]["Mean"] == 0.0
    assert res.legacy_hrnet_0_1 == 100.0
    assert "pckh_legacy_hrnet_0.1" in res.as_dict()


def test_tie_rule_differs_exactly_on_the_threshold():
    gt = np.zeros((1, 16, 2))
    pred = gt.copy()
    pred[..., 0] = 4.0  # head size 8: error exactly 0.5
    vis = np.ones((1, 16), dtype=bool)
    le = compute_pckh(pred, gt, vis, head_sizes=[8.0], thresholds=[0.5])
    lt = compute_pckh(pred, gt, vis, head_sizes=[8.0], thresholds=[0.5], tie=TieRule.LT)
    assert le.groups[0.5]["Mean"] == 100.0
    assert lt.groups[0.5]["Mean"] == 0.0


def test_hrnet_plus_one_convention(mpii):
    gt, vis = mpii
    pred0 = gt - 1.0  # 0-based predictions of 1-based ground truth
    head = np.full(len(gt), 10.0)
    same = compute_pckh(pred0, gt, vis, head_sizes=head, thresholds=[0.01])
    shifted = compute_pckh(
        pred0,
        gt,
        vis,
        head_sizes=head,
        thresholds=[0.01],
        coordinate_base=CoordinateBase.ZERO_BASED_PREDICTIONS,
    )
    assert same.groups[0.01]["Mean"] == 0.0
    assert shifted.groups[0.01]["Mean"] == 100.0


def test_head_boxes_give_0_6_diagonal():
    boxes = np.array([[[10.0, 20.0], [40.0, 60.0]], [[0.0, 0.0], [3.0, 4.0]]])
    np.testing.assert_allclose(head_sizes_from_boxes(boxes), [0.6 * 50.0, 0.6 * 5.0])
    np.testing.assert_allclose(head_sizes_from_boxes(boxes.reshape(2, 4)), [30.0, 3.0])
    gt = np.zeros((2, 16, 2))
    vis = np.ones((2, 16), dtype=bool)
    a = compute_pckh(gt + 1.0, gt, vis, head_boxes=boxes)
    b = compute_pckh(gt + 1.0, gt, vis, head_sizes=[30.0, 3.0])
    assert a.groups == b.groups


def test_pelvis_and_thorax_are_masked_from_the_mean():
    gt = np.zeros((1, 16, 2))
    pred = gt.copy()
    pred[0, [6, 7]] = 100.0  # only pelvis and thorax are wrong
    res = compute_pckh(pred, gt, np.ones((1, 16)), head_sizes=[10.0])
    assert res.groups[0.5]["Mean"] == 100.0
    assert res.per_joint[0, 6] == 0.0


def test_bad_input_errors(mpii):
    gt, vis = mpii
    with pytest.raises(ValueError, match="head sizes"):
        compute_pckh(gt, gt, vis)
    with pytest.raises(ValueError, match="head_sizes: expected 5"):
        compute_pckh(gt, gt, vis, head_sizes=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite and > 0"):
        compute_pckh(gt, gt, vis, head_sizes=[1.0, 0.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"\(N, J, 2\|3\)"):
        compute_pckh(gt[..., 0], gt, vis, head_sizes=np.ones(5))
    with pytest.raises(ValueError, match="visible"):
        compute_pckh(gt, gt, vis[:, :8], head_sizes=np.ones(5))


def test_file_evaluator_requires_head_sizes(mpii_sample_dir, mpii, tmp_path):
    gt, vis = mpii
    gt_file = mpii_sample_dir / "test_mpii.json"
    preds = tmp_path / "preds.npy"
    np.save(preds, gt + 2.0)
    with pytest.raises(ValueError, match="has no head boxes"):
        evaluate_mpii_files(gt_file, preds)
    sizes = tmp_path / "heads.json"
    sizes.write_text(json.dumps([40.0] * len(gt)))
    res = evaluate_mpii_files(gt_file, preds, head_sizes=sizes)
    ref, _ = reference_pckh(gt + 2.0, gt, vis, [40.0] * len(gt), 0.1)
    assert res.groups[0.1]["Mean"] == pytest.approx(ref["Mean"])
    assert "Head | Sho | Elb | Wri | Hip | Knee | Ank | Mean" in format_pckh_table(res)
    with pytest.raises(ValueError, match=r"expected shape \(5, 16"):
        evaluate_mpii_files(gt_file, np.zeros((3, 16, 2)), head_sizes=sizes)


def test_official_mat_layout(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    n = 6
    gt = rng.uniform(100, 400, (n, 16, 2))
    missing = (rng.random((n, 16)) < 0.2).astype(np.uint8)
    boxes = np.stack([gt[:, 9] - 20.0, gt[:, 9] + 20.0], axis=1)  # (N, 2, 2)
    savemat(
        tmp_path / "gt_valid.mat",
        {
            "pos_gt_src": np.transpose(gt, (1, 2, 0)),
            "jnt_missing": missing.T,
            "headboxes_src": np.transpose(boxes, (1, 2, 0)),
        },
    )
    pred = gt + rng.normal(0, 5, gt.shape)
    savemat(tmp_path / "pred.mat", {"preds": pred})
    res = evaluate_mpii_files(tmp_path / "gt_valid.mat", tmp_path / "pred.mat")
    head = 0.6 * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)
    ref, _ = reference_pckh(pred, gt, missing == 0, head, 0.1)
    assert res.groups[0.1]["Mean"] == pytest.approx(ref["Mean"], abs=1e-9)
