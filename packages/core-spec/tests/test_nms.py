"""OKS-NMS and rescoring against loop references written here (HRNet's nms.py / coco.py semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.metrics.nms import oks_iou, oks_nms, oks_nms_arrays, rescore, rescore_and_nms
from enhancenet_core.metrics.oks import COCO_SIGMAS


def ref_oks(g, d, a_g, a_d, in_vis_thre=None):
    variances = (COCO_SIGMAS * 2) ** 2
    out = []
    for n in range(len(d)):
        vals = []
        for k in range(17):
            if in_vis_thre is not None and not d[n][k][2] > in_vis_thre:  # HRNet: the candidate's mask
                continue
            d2 = (d[n][k][0] - g[k][0]) ** 2 + (d[n][k][1] - g[k][1]) ** 2
            vals.append(np.exp(-d2 / variances[k] / ((a_g + a_d[n]) / 2 + np.spacing(1)) / 2))
        out.append(sum(vals) / len(vals) if vals else 0.0)
    return np.array(out)


def ref_nms(kpts, scores, areas, thresh, in_vis_thre=None):
    order = list(np.argsort(scores, kind="stable")[::-1])
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        ovr = ref_oks(kpts[i], kpts[order], areas[i], areas[order], in_vis_thre) if order else []
        order = [j for j, o in zip(order, ovr, strict=True) if o <= thresh]
    return keep


def random_poses(rng, n=12):
    base = rng.uniform(50, 300, (3, 17, 2))
    who = rng.integers(0, 3, n)
    kp = np.zeros((n, 17, 3))
    kp[..., :2] = base[who] + rng.normal(0, rng.uniform(0.5, 15, (n, 1, 1)), (n, 17, 2))
    kp[..., 2] = rng.random((n, 17))
    return kp, rng.random(n), rng.uniform(2000, 20000, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("in_vis_thre", [None, 0.2])
def test_oks_nms_matches_loop_reference(seed, in_vis_thre):
    rng = np.random.default_rng(seed)
    kp, sc, ar = random_poses(rng)
    for thresh in (0.5, 0.9):
        ours = oks_nms_arrays(kp, sc, ar, thresh, in_vis_thre=in_vis_thre).tolist()
        assert ours == ref_nms(kp, sc, ar, thresh, in_vis_thre)
    db = [{"keypoints": kp[i], "score": sc[i], "area": ar[i]} for i in range(len(sc))]
    assert oks_nms(db, 0.9, in_vis_thre=in_vis_thre) == ref_nms(kp, sc, ar, 0.9, in_vis_thre)


def test_oks_iou_matches_loop_reference():
    rng = np.random.default_rng(4)
    kp, _, ar = random_poses(rng, 6)
    np.testing.assert_allclose(
        oks_iou(kp[0], kp[1:], ar[0], ar[1:]), ref_oks(kp[0], kp[1:], ar[0], ar[1:]), rtol=1e-12
    )
    np.testing.assert_allclose(
        oks_iou(kp[0].ravel(), kp[1:].reshape(5, -1), ar[0], ar[1:], in_vis_thre=0.5),
        ref_oks(kp[0], kp[1:], ar[0], ar[1:], 0.5),
        rtol=1e-12,
    )


def test_duplicates_are_suppressed_and_empty_input():
    kp = np.tile(np.random.default_rng(0).uniform(0, 100, (1, 17, 3)), (3, 1, 1))
    assert oks_nms_arrays(kp, [0.2, 0.9, 0.5], [1e4] * 3, 0.9).tolist() == [1]
    assert oks_nms([], 0.9) == []
    with pytest.raises(ValueError, match="entry #0 has no 'area'"):
        oks_nms([{"keypoints": kp[0], "score": 1.0}], 0.9)


def test_rescore_matches_hrnet_loop():
    rng = np.random.default_rng(5)
    kp = rng.random((8, 17, 3))
    kp[0, :, 2] = 0.1  # no keypoint above 0.2: score 0
    box = rng.random(8)
    ref = []
    for n in range(8):
        vals = [kp[n, j, 2] for j in range(17) if kp[n, j, 2] > 0.2]
        ref.append((sum(vals) / len(vals) if vals else 0.0) * box[n])
    np.testing.assert_allclose(rescore(kp, box), ref, rtol=1e-12)
    assert rescore(kp, box)[0] == 0.0


def test_rescore_and_nms_groups_by_image():
    rng = np.random.default_rng(6)
    kp, _, ar = random_poses(rng, 10)
    ids = np.array([7, 3, 7, 3, 7, 9, 9, 3, 7, 9])
    box = rng.random(10)
    keep, scores = rescore_and_nms(kp, box, ar, ids, in_vis_thre=0.2, oks_thre=0.9)
    np.testing.assert_allclose(scores, rescore(kp, box, 0.2))
    expected = []
    for img in (7, 3, 9):  # order of first appearance
        members = np.flatnonzero(ids == img)
        expected += [int(members[i]) for i in ref_nms(kp[members], scores[members], ar[members], 0.9)]
    assert keep.tolist() == expected
