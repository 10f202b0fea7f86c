"""MPII reader: HRNet's centre/scale adjustments by hand, joints 1-based -> 0-based, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import MPII_FLIP_PAIRS
from enhancenet_runtime.data.keypoints import MPII_KEYPOINT_NAMES
from enhancenet_runtime.data.mpii import load_mpii_records


def test_sample(mpii_sample_dir: Path) -> None:
    raw = json.loads((mpii_sample_dir / "test_mpii.json").read_text())
    res = load_mpii_records(mpii_sample_dir / "test_mpii.json", mpii_sample_dir)
    assert len(res) == len(raw) == 5
    r0, a0 = res.records[0], raw[0]
    # entry 0: center (966, 340), scale 4.718488 -> y + 15 * s, s * 1.25, then -1 for 0-based
    np.testing.assert_allclose(r0.center, [966 - 1, 340 + 15 * 4.718488 - 1])
    np.testing.assert_allclose(r0.scale, [4.718488 * 1.25] * 2)
    np.testing.assert_allclose(r0.joints_xy, np.asarray(a0["joints"]) - 1)
    np.testing.assert_array_equal(r0.joints_vis, a0["joints_vis"])
    assert r0.image.name == "005808361.jpg" and r0.image_id == 5808361
    assert "head_box" not in r0.extras  # the sample has none
    # entries 2 and 3 have invisible ankles (r_ankle, l_ankle)
    assert res.records[2].joints_vis[0] == 0 and res.records[2].joints_vis[5] == 0


def test_flip_pairs_are_left_right() -> None:
    for a, b in MPII_FLIP_PAIRS:
        na, nb = MPII_KEYPOINT_NAMES[a], MPII_KEYPOINT_NAMES[b]
        assert {na[:2], nb[:2]} == {"r_", "l_"} and na[2:] == nb[2:]


def test_head_boxes(mpii_sample_dir: Path) -> None:
    boxes = np.arange(20, dtype=float).reshape(5, 4)
    res = load_mpii_records(mpii_sample_dir / "test_mpii.json", mpii_sample_dir, head_boxes=boxes)
    assert res.records[1].extras["head_box"] == (4.0, 5.0, 6.0, 7.0)
    with pytest.raises(ValueError, match="head_boxes"):
        load_mpii_records(mpii_sample_dir / "test_mpii.json", mpii_sample_dir, head_boxes=boxes[:3])


def test_dummy_center_is_not_adjusted(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(json.dumps([{"image": "x.jpg", "center": [-1, 50], "scale": 2.0}]))
    rec = load_mpii_records(p, tmp_path, check_images=False).records[0]
    np.testing.assert_allclose(rec.center, [-2, 49])  # only the -1 shift
    np.testing.assert_allclose(rec.scale, [2.0, 2.0])
    assert np.all(rec.joints == 0)  # test-set style entry: no joints


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        load_mpii_records(tmp_path / "nope.json", tmp_path)
    p = tmp_path / "m.json"
    p.write_text(json.dumps([{"image": "x.jpg", "center": [10, 50], "scale": 2.0, "joints": [[1, 2]] * 15}]))
    with pytest.raises(ValueError, match=r"entry 0: 'joints' must have shape \(16, 2\)"):
        load_mpii_records(p, tmp_path, check_images=False)
    p.write_text(json.dumps([{"image": "x.jpg", "center": [10, 50], "scale": 2.0}]))
    with pytest.raises(FileNotFoundError, match=r"x\.jpg"):
        load_mpii_records(p, tmp_path)
    p.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_mpii_records(p, tmp_path)
