"""A user's own data set end to end: a 14-joint COCO-format set with its own sigmas, described by a data-set file
(YAML) that the config names, with its annotation file and image directory named per split. It is read by the
COCO reader with K = 14, scored by the runtime's evaluation with the file's sigmas and by ``enhancenet-spec
eval-coco --dataset FILE``; both equal pycocotools run here with the sigmas typed in this test. Bad files end in
one line naming the file and the field (exit 2)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import ConfigError, config_from_dict
from enhancenet_runtime.data import load_records
from enhancenet_runtime.engine.evaluation import compute_metrics

cocoeval = pytest.importorskip("pycocotools.cocoeval")
coco_api = pytest.importorskip("pycocotools.coco")

NAMES = ["head", "neck", "l_sho", "r_sho", "l_elb", "r_elb", "l_wri", "r_wri", "l_hip", "r_hip", "l_kne", "r_kne",
         "l_ank", "r_ank"]  # fmt: skip
# Our own sigmas for this made-up set (none of COCO's or CrowdPose's).
SIGMAS = [0.05, 0.06, 0.07, 0.07, 0.065, 0.065, 0.055, 0.055, 0.1, 0.1, 0.08, 0.08, 0.09, 0.09]
FLIPS = [["l_sho", "r_sho"], ["l_elb", "r_elb"], ["l_wri", "r_wri"], ["l_hip", "r_hip"], ["l_kne", "r_kne"],
         [12, 13]]  # fmt: skip  (by name or by index)

DATASET_YAML = f"""\
name: my14
keypoint_names: [{", ".join(NAMES)}]
flip_pairs: {json.dumps(FLIPS)}
skeleton: [[head, neck], [neck, l_sho], [neck, r_sho], [l_hip, l_kne], [l_kne, l_ank]]
upper_body_ids: [head, neck, l_sho, r_sho, l_elb, r_elb, l_wri, r_wri]
lower_body_ids: [l_hip, r_hip, l_kne, r_kne, l_ank, r_ank]
oks_sigmas: {json.dumps(SIGMAS)}
metric: coco_ap
"""


def _make_set(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """A COCO-format ground truth with 14 joints (category 'person', no HRNet layout) and its image dir."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(6):
        images.append({"id": i + 1, "file_name": f"img{i}.jpg", "width": 640, "height": 480})
        for _ in range(2):
            w, h = rng.uniform(60, 200), rng.uniform(100, 300)
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 150)
            xy = np.stack([x0 + rng.uniform(0, w, 14), y0 + rng.uniform(0, h, 14)], axis=1)
            v = rng.choice([0, 2], size=14, p=[0.15, 0.85])
            kp = np.concatenate([np.where(v[:, None] > 0, xy, 0), v[:, None]], axis=1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [x0, y0, w, h],
                         "area": w * h * 0.6, "iscrowd": 0, "num_keypoints": int(np.count_nonzero(v)),
                         "keypoints": kp.reshape(-1).tolist()})  # fmt: skip
    ann_file = root / "labels" / "my_val.json"
    ann_file.parent.mkdir(parents=True)
    ann_file.write_text(json.dumps({"images": images, "annotations": anns,
                                    "categories": [{"id": 1, "name": "person", "keypoints": NAMES}]}))  # fmt: skip
    (root / "pictures").mkdir()
    return ann_file, root / "pictures"


def _pycocotools_ap(ann_file: Path, results: Path | list, sigmas: list[float]) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_api.COCO(str(ann_file))
        dt = gt.loadRes(str(results) if isinstance(results, Path) else results)
        ev = cocoeval.COCOeval(gt, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.array(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats]


@pytest.fixture
def user_set(tmp_path: Path) -> dict:
    ann_file, image_dir = _make_set(tmp_path)
    ds = tmp_path / "my14.yaml"
    ds.write_text(DATASET_YAML)
    data = {"dataset": str(ds), "test": {"annotations": str(ann_file), "images": str(image_dir)},
            "train": {"annotations": str(ann_file), "images": str(image_dir)}}  # fmt: skip
    cfg = config_from_dict({"data": data, "model": {"num_keypoints": 14}, "test": {"use_gt_bbox": True}})
    return {"cfg": cfg, "ann": ann_file, "images": image_dir, "dataset": ds, "root": tmp_path}


def test_the_config_takes_the_row_from_the_file(user_set: dict) -> None:
    cfg = user_set["cfg"]
    # the flip pairs by name and by index became indices of the file's order
    assert cfg.data.flip_pairs == ((2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13))
    with pytest.raises(ConfigError, match=r"^model\.num_keypoints: expected 14 keypoints for data\.dataset='.*my14"
                                          r"\.yaml', got 17"):  # fmt: skip
        config_from_dict({"data": {"dataset": str(user_set["dataset"])}})


def test_runtime_evaluation_of_a_14_joint_set_with_its_own_sigmas(user_set: dict) -> None:
    cfg, root = user_set["cfg"], user_set["root"]
    loaded = load_records(cfg, train=False, check_images=False)  # the COCO reader, K from the row
    recs = loaded.records
    assert len(recs) == 12 and loaded.source == user_set["ann"]
    assert all(r.num_joints == 14 and r.image.parent == user_set["images"] for r in recs)
    rng = np.random.default_rng(1)
    preds = np.stack([np.concatenate([r.joints_xy + rng.normal(0, 4, (14, 2)), np.full((14, 1), 0.9)], axis=1)
                      for r in recs])  # fmt: skip
    pred = {"preds": preds, "score": np.ones(len(recs)), "area": np.array([r.area for r in recs]),
            "image_id": np.array([r.image_id for r in recs]), "index": np.arange(len(recs))}  # fmt: skip
    metrics = compute_metrics(pred, cfg, recs, root / "out")
    expected = _pycocotools_ap(user_set["ann"], Path(metrics["results_file"]), SIGMAS)
    assert metrics["metric_name"] == "AP" and 0.2 < metrics["metric"] < 1.0
    assert metrics["coco"]["AP"] == pytest.approx(expected[0], abs=1e-12)  # ours, equal to pycocotools'
    # the sigmas matter: CrowdPose's give another AP on the same results
    crowdpose = [0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089, 0.079, 0.079]
    assert abs(_pycocotools_ap(user_set["ann"], Path(metrics["results_file"]), crowdpose)[0] - expected[0]) > 1e-3


def _spec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enhancenet_runtime.cli", *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_eval_coco_with_a_dataset_file(user_set: dict) -> None:
    gt = json.loads(user_set["ann"].read_text())
    rng = np.random.default_rng(2)
    results = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(14, 3)
        kp[:, :2] += rng.normal(0, 5, (14, 2))
        kp[:, 2] = 1.0
        results.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                        "score": float(rng.uniform(0.3, 1))})  # fmt: skip
    res = user_set["root"] / "res.json"
    res.write_text(json.dumps(results))
    out = _spec("eval-coco", str(user_set["ann"]), str(res), "--dataset", str(user_set["dataset"]), "--json")
    assert out.returncode == 0, out.stderr
    expected = _pycocotools_ap(user_set["ann"], res, SIGMAS)
    assert json.loads(out.stdout)["AP"] == pytest.approx(expected[0], abs=1e-12)
    # without the file the 14-joint set has no sigmas: refused in one line
    out = _spec("eval-coco", str(user_set["ann"]), str(res))
    assert out.returncode == 2 and "K = 14" in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (DATASET_YAML.replace("oks_sigmas: [0.05, ", "oks_sigmas: ["), "oks_sigmas: expected 14 positive numbers"),
        (DATASET_YAML.replace("[12, 13]", '["l_ank", "r_ankle"]'),
         r"flip_pairs\[5\]\[1\]: unknown keypoint name 'r_ankle'; did you mean 'r_ank'\?"),
        (DATASET_YAML.replace("[12, 13]", "[12, 14]"), r"flip_pairs\[5\]: expected a keypoint index in \[0, 13\]"),
        (DATASET_YAML + "sigmas: [1]\n", "sigmas: unknown key; allowed keys: .*did you mean 'oks_sigmas'"),
        (DATASET_YAML.replace("metric: coco_ap", "metric: map"), r"metric: expected one of \['coco_ap', "),
        ("keypoint_names: [a, b\n", "malformed YAML"),
    ],
)
def test_bad_dataset_files_are_one_line_naming_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    ds = tmp_path / "bad_set.yaml"
    ds.write_text(text)
    with pytest.raises(ConfigError, match=rf"^data\.dataset: dataset file .*bad_set\.yaml: {field}") as err:
        config_from_dict({"data": {"dataset": str(ds)}, "model": {"num_keypoints": 14}})
    assert err.value.path == "data.dataset" and "\n" not in str(err.value)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(f"data:\n  dataset: {ds}\nmodel:\n  num_keypoints: 14\n")
    out = _spec("validate", str(cfg_file))
    assert out.returncode == 2 and "bad_set.yaml" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = _spec("eval-coco", str(ds), str(ds), "--dataset", str(ds))
    assert out.returncode == 2 and "bad_set.yaml" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_missing_dataset_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^data\.dataset: dataset file .*nowhere\.yaml not found"):
        config_from_dict({"data": {"dataset": str(tmp_path / "nowhere.yaml")}})
    with pytest.raises(ConfigError, match=r"^data\.dataset: expected one of \[.*\] or a data-set file"):
        config_from_dict({"data": {"dataset": "my_set"}})


def test_crowdpose_row_through_the_runtime(tmp_path: Path) -> None:
    """The shipped crowdpose row: the runtime adds the CrowdPose API's numbers and makes its AP the primary one."""
    from enhancenet_core.metrics.crowdpose import evaluate_crowdpose

    ann_file, _ = _make_set(tmp_path, seed=3)
    gt = json.loads(ann_file.read_text())
    for img, c in zip(gt["images"], [0.05, 0.3, 0.9, 0.1, 0.5, 0.85], strict=True):
        img["crowdIndex"] = c
    ann_file.write_text(json.dumps(gt))
    cfg = config_from_dict({"data": {"dataset": "crowdpose", "test": {"annotations": str(ann_file)}},
                            "model": {"num_keypoints": 14}, "test": {"use_gt_bbox": True}})  # fmt: skip
    recs = load_records(cfg, train=False, check_images=False).records
    preds = np.stack([np.concatenate([r.joints_xy + 3.0, np.full((14, 1), 0.8)], axis=1) for r in recs])
    pred = {"preds": preds, "score": np.ones(len(recs)), "area": np.array([r.area for r in recs]),
            "image_id": np.array([r.image_id for r in recs]), "index": np.arange(len(recs))}  # fmt: skip
    metrics = compute_metrics(pred, cfg, recs, tmp_path / "out")
    assert metrics["metric_name"] == "AP_crowdpose"
    assert metrics["metric"] == metrics["crowdpose"]["AP"]
    assert metrics["crowdpose"] == evaluate_crowdpose(ann_file, metrics["results_file"])
    assert metrics["crowdpose"]["num_images_hard"] == 2.0
