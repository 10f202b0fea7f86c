"""enhancenet_runtime.engine.evaluation: the flip-test merge against a hand-built case (with the per-stride shift),
and collecting + metrics on the real COCO sample with an oracle (ground truth -> Gaussian maps) giving AP ≈ 1."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_runtime.engine.evaluation import (
    PredictionCollector,
    compute_metrics,
    decode_pose_maps,
    flip_back_maps,
    merge_flip_test,
    use_hr,
    write_evaluation,
)
from enhancenet_runtime.testing import coco_sample_layout

K = 5
PAIRS = "[[1,2],[3,4]]"


def _cfg(*extra: str):
    return load_config(shipped_config_path("synthetic_quick"), [
        "model.num_keypoints=5", "loss.ohkm_topk=4", f"data.flip_pairs={PAIRS}", "model.input_size=[32,32]", *extra,
    ])  # fmt: skip


def _hand_flip_back(maps: np.ndarray, shift: int) -> np.ndarray:
    """By hand: column x of the result is column W-1-x of the flipped map, channels 1<->2 and 3<->4 swapped,
    then shifted ``shift`` columns to the right with column 0 repeated (HRNet)."""
    k, w = maps.shape[1], maps.shape[3]
    swap = [0, 2, 1, 4, 3]
    out = np.empty_like(maps)
    for c in range(k):
        for x in range(w):
            out[:, c, :, x] = maps[:, swap[c], :, w - 1 - x]
    if shift:
        shifted = out.copy()
        for x in range(w):
            shifted[..., x] = out[..., max(x - shift, 0)]
        out = shifted
    return out


def test_merge_flip_test_by_hand_with_the_per_stride_shift():
    rng = np.random.default_rng(0)
    cfg = _cfg("target.convention=legacy", "test.flip_shift=hrnet")
    lr, hr = rng.random((2, K, 8, 8), np.float32), rng.random((2, K, 32, 32), np.float32)  # strides 4 and 1
    flr, fhr = rng.random((2, K, 8, 8), np.float32), rng.random((2, K, 32, 32), np.float32)
    merged = merge_flip_test({"lr": lr, "hr": hr}, {"lr": flr, "hr": fhr}, cfg)
    np.testing.assert_allclose(merged["lr"], (lr + _hand_flip_back(flr, 1)) / 2, rtol=0, atol=1e-7)
    np.testing.assert_allclose(merged["hr"], (hr + _hand_flip_back(fhr, 0)) / 2, rtol=0, atol=1e-7)
    assert merged["lr"].dtype == np.float32
    # no shift: switched off, or the unbiased convention
    for extra in (("target.convention=legacy", "test.flip_shift=none"),
                  ("target.convention=unbiased", "test.flip_shift=hrnet")):
        m = merge_flip_test({"lr": lr}, {"lr": flr}, _cfg(*extra))
        np.testing.assert_allclose(m["lr"], (lr + _hand_flip_back(flr, 0)) / 2, rtol=0, atol=1e-7)
    # the input is never changed, and no flip test returns float32 copies of the maps
    before = flr.copy()
    flip_back_maps(flr, cfg)
    assert np.array_equal(flr, before)
    plain = merge_flip_test({"lr": lr.astype(np.float64)}, None, cfg)
    assert plain["lr"].dtype == np.float32 and np.array_equal(plain["lr"], lr)
    with pytest.raises(ValueError, match="no 'hr' maps"):
        merge_flip_test({"lr": lr, "hr": hr}, {"lr": flr}, cfg)


def test_use_hr_switches():
    maps = {"lr": np.zeros((1, K, 8, 8)), "hr": np.zeros((1, K, 32, 32))}
    assert use_hr(_cfg(), maps)
    assert not use_hr(_cfg("test.use_hr=false"), maps)
    assert not use_hr(_cfg(), {"lr": maps["lr"]})


def _oracle_batches(cfg, records, batch: int = 3):
    """Ground-truth joints of each record -> patch coordinates -> Gaussian M^LR / M^HR (the network's ideal
    output), with the metadata a framework's data loader gives."""
    from enhancenet_core.codecs import generate_lr_hr_targets
    from enhancenet_core.transforms import affine_transform, get_affine_transform

    for start in range(0, len(records), batch):
        recs = records[start:start + batch]
        joints = np.stack([
            affine_transform(r.joints[:, :2], get_affine_transform(r.center, r.scale, 0.0, cfg.model.input_size))
            for r in recs
        ])  # fmt: skip
        vis = np.stack([r.joints[:, 2] for r in recs])
        lr, _, hr, _ = generate_lr_hr_targets(joints, vis, cfg.model, cfg.target)
        meta = {
            "center": np.stack([r.center for r in recs]), "scale": np.stack([r.scale for r in recs]),
            "index": np.arange(start, start + len(recs)), "image_id": np.array([r.image_id for r in recs]),
            "score": np.array([r.score for r in recs]), "area": np.array([r.area for r in recs]),
        }  # fmt: skip
        yield {"lr": lr, "hr": hr}, meta


def test_oracle_maps_give_ap_near_one_and_hr_beats_lr(tmp_path: Path, coco_sample_dir: Path):
    from enhancenet_runtime.data import load_records

    root = coco_sample_layout(tmp_path / "coco", coco_sample_dir)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.test_set=sample", "test.use_gt_bbox=true",
    ])  # fmt: skip
    records = load_records(cfg, train=False).records
    assert len(records) >= 3
    collector = PredictionCollector(cfg)
    with pytest.raises(ValueError, match="no instances were predicted"):
        collector.result()
    for maps, meta in _oracle_batches(cfg, records):
        collector.add(maps, meta)
    pred = collector.result()
    assert len(collector) == len(records) and pred["preds"].shape == (len(records), 17, 3)
    gt = np.stack([r.joints[:, :2] for r in records])
    vis = np.stack([r.joints[:, 2] for r in records]) > 0
    err_hr = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1)[vis].mean()
    err_lr = np.linalg.norm(pred["preds_lr"][..., :2] - gt, axis=-1)[vis].mean()
    assert err_hr < 1.5 and err_hr < err_lr  # stride 1 vs stride 4 (the paper's point)

    out = tmp_path / "ev"
    metrics = compute_metrics(pred, cfg, records, out)
    assert metrics["metric_name"] == "AP" and metrics["metric"] > 0.9
    assert "coco_pycocotools" not in metrics  # ours by default; pycocotools only as the opt-in cross-check
    checked = compute_metrics(pred, replace(cfg, test=replace(cfg.test, check_pycocotools=True)), records, out)
    assert checked["coco"] == metrics["coco"] and set(checked["coco_pycocotools"]) == set(metrics["coco"])
    for name, value in checked["coco_pycocotools"].items():
        assert metrics["coco"][name] == pytest.approx(value, abs=1e-9), name
    assert checked["coco_max_abs_diff"] <= 1e-9
    results = json.loads(Path(metrics["results_file"]).read_text())
    assert len(results) == metrics["num_results"] > 0
    path = write_evaluation(out, pred, metrics, cfg, framework="numpy", versions={"numpy": np.__version__},
                            checkpoint="oracle", seconds=1.23456)
    saved = json.loads(path.read_text())
    assert saved["framework"] == "numpy" and saved["versions"] == {"numpy": np.__version__}
    assert saved["metric"] == metrics["metric"] and saved["checkpoint"] == "oracle"
    assert saved["metrics"]["heatmaps"] == "hr" and saved["metrics"]["seconds"] == 1.235
    assert saved["metrics"]["num_instances"] == len(records)
    assert saved["config"]["data"]["dataset"] == "coco"
    npz = np.load(out / "predictions.npz")
    assert np.array_equal(npz["preds"], pred["preds"]) and np.array_equal(npz["image_id"], pred["image_id"])

    # the same maps decoded one by one agree with the collector's
    maps, meta = next(_oracle_batches(cfg, records))
    each = decode_pose_maps(maps, meta["center"], meta["scale"], cfg)
    np.testing.assert_array_equal(each["hr"], pred["preds"][:3])
    np.testing.assert_array_equal(each["lr"], pred["preds_lr"][:3])

    # an all-zero network scores near 0
    zero = PredictionCollector(cfg)
    for maps, meta in _oracle_batches(cfg, records):
        zero.add({k: np.zeros_like(v) for k, v in maps.items()}, meta)
    assert compute_metrics(zero.result(), cfg, records, tmp_path / "ev0")["metric"] < 0.1


def test_mpii_needs_head_boxes(tmp_path: Path):
    from types import SimpleNamespace

    cfg = load_config(shipped_config_path("mpii_hourglass_2stage_256x256_enhancenet"), [])
    rec = SimpleNamespace(extras={}, joints_xy=np.zeros((16, 2)), joints_vis=np.ones(16))
    pred = {"preds": np.zeros((1, 16, 3)), "index": np.array([0])}
    with pytest.raises(ValueError, match="1 of 1 test annotations have no 'head_box'"):
        compute_metrics(pred, cfg, [rec], tmp_path)
    rec.extras = {"head_box": [0.0, 0.0, 10.0, 10.0]}
    m = compute_metrics(pred, cfg, [rec], tmp_path)
    assert m["metric_name"] == "PCKh@0.5" and m["metric"] == pytest.approx(100.0)


def test_open_split_and_the_empty_split_error(tmp_path: Path, coco_sample_dir: Path):
    from enhancenet_runtime.engine.data import open_split

    overrides = ["data.dataset=coco", "data.test_set=sample", "test.use_gt_bbox=true"]
    root = coco_sample_layout(tmp_path / "coco", coco_sample_dir)
    cfg = load_config(shipped_config_path("synthetic_quick"), [f"data.root={root}", *overrides])
    ds = open_split(cfg, train=False)
    assert len(ds) >= 3
    empty = tmp_path / "empty"
    (empty / "annotations").mkdir(parents=True)
    (empty / "images").mkdir()
    (empty / "images" / "sample").symlink_to(coco_sample_dir)
    coco = json.loads((coco_sample_dir / "test_coco.json").read_text())
    for ann in coco["annotations"]:
        ann["keypoints"] = [0] * len(ann["keypoints"])
        ann["num_keypoints"] = 0
    (empty / "annotations" / "person_keypoints_sample.json").write_text(json.dumps(coco))
    cfg = load_config(shipped_config_path("synthetic_quick"), [f"data.root={empty}", *overrides])
    with pytest.raises(ValueError, match=r"data\.test_set='sample': no usable person instance in .*skipped: .*no_keypoints"):
        open_split(cfg, train=False)
