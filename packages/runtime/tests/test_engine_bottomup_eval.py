"""Bottom-up evaluation with an oracle that renders perfect maps from the ground truth (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.bottomup import ae_transform, affine_points, render_multi_peak, whole_image_center_scale
from enhancenet_core.bottomup.targets import map_pixels
from enhancenet_core.config import Config, config_from_dict
from enhancenet_runtime.data.bottomup import BottomUpRecord, flip_permutation, load_bottomup_records
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco
from enhancenet_runtime.engine.bottomup_eval import evaluate_bottomup

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools under NumPy 2


def oracle(cfg: Config, r: int = 1):
    """maps_fn of a perfect model: multi-peak detections (LR, or HR at r × LR with r·σ) of the record's people
    in the input it is given, tag 3·(p + 1) at each joint's LR pixel, the mirror's maps for the second image."""
    k, stride = cfg.model.num_keypoints, cfg.model.heatmap_stride
    perm = flip_permutation(cfg.data.flip_pairs, k)

    def fn(images: np.ndarray, record: BottomUpRecord) -> tuple[np.ndarray, np.ndarray]:
        n, _, side, _ = images.shape
        center, scale = whole_image_center_scale(record.width, record.height)
        kp = record.keypoints.copy()
        kp[..., :2] = affine_points(kp[..., :2], ae_transform(center, scale, (side, side)))
        lr = side // stride
        det_kp, lr_kp = kp.copy(), kp.copy()
        det_kp[..., :2] *= lr * r / side
        lr_kp[..., :2] *= lr / side
        det = render_multi_peak(det_kp, (lr * r, lr * r), cfg.target.sigma * r)
        pix, drawn = (a[0] for a in map_pixels(lr_kp, (lr, lr)))
        tag = np.zeros((k, lr, lr), np.float32)
        pi, ki = np.nonzero(drawn)
        tag[ki, pix[pi, ki, 1], pix[pi, ki, 0]] = 3.0 * (pi + 1)
        return (np.stack([det, det[perm][:, :, ::-1]])[:n], np.stack([tag, tag[perm][:, :, ::-1]])[:n])

    return fn


def _cfg(size: int, **bottomup: object) -> Config:
    return config_from_dict({"model": {"input_size": [size, size]}, "bottomup": bottomup})


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bueval") / "d"
    generate_multi_person_coco(root, 5, seed=1, image_size=(96, 96), people_per_image=(2, 4), val_fraction=1.0,
                               crowd_prob=0.5)  # fmt: skip
    return root


def test_oracle_ap_on_synthetic_scenes(scenes: Path, tmp_path: Path) -> None:
    ann = scenes / "annotations/person_keypoints_val.json"
    records = load_bottomup_records(ann, scenes / "images/val")
    assert sum(r.num_people for r in records) >= 12 and any(r.crowd for r in records)
    cfg = _cfg(256)
    out = evaluate_bottomup(records, oracle(cfg, r=4), cfg, ann, tmp_path / "res.json", check_pycocotools=True)
    assert out.people_per_image == {r.image_id: r.num_people for r in records}  # everyone found, nobody extra
    assert out.stats["AP"] >= 0.95 and out.stats["AP50"] == 1.0  # limit: joints of overlapping people merge
    assert out.pycocotools_stats is not None
    assert out.pycocotools_stats["AP"] == pytest.approx(out.stats["AP"], abs=1e-12)
    written = json.loads((tmp_path / "res.json").read_text())
    assert len(written) == len(out.results) and {"image_id", "keypoints", "score"} <= set(written[0])


def test_oracle_ap_on_coco_sample(coco_sample_dir: Path) -> None:
    ann = coco_sample_dir / "test_coco.json"
    records = load_bottomup_records(ann, coco_sample_dir)
    hr = evaluate_bottomup(records, oracle(_cfg(256), r=4), _cfg(256), ann)
    assert hr.stats["AP"] >= 0.99 and hr.people_per_image == {785: 1, 40083: 2, 196141: 4, 197388: 5}
    lr = evaluate_bottomup(records, oracle(_cfg(256)), _cfg(256), ann).stats["AP"]
    multi = evaluate_bottomup(records, oracle(_cfg(256)), _cfg(256, scales=[2.0, 1.0, 0.5]), ann).stats["AP"]
    assert 0.5 < lr < multi  # 64 x 64 LR maps quantise small people; the 2x scale sets a finer grouping map
    no_flip = evaluate_bottomup(records, oracle(_cfg(256)), _cfg(256, flip_test=False), ann).stats["AP"]
    assert no_flip == pytest.approx(lr)  # a perfect model's mirrored maps add nothing


def test_bad_maps_and_empty_images(scenes: Path) -> None:
    ann = scenes / "annotations/person_keypoints_val.json"
    records = load_bottomup_records(ann, scenes / "images/val")[:2]
    cfg = _cfg(64)
    good = oracle(cfg)

    def nan(images, record):
        det, tag = good(images, record)
        det[0, 3, 1, 1] = np.nan
        return det, tag

    def narrow_tag(images, record):
        det, tag = good(images, record)
        return det, tag[:, :, :5, :5]

    def no_tags(images, record):
        det, _ = good(images, record)
        return det, np.zeros((images.shape[0], 17, 2, 16, 16))

    for fn, words in ((nan, "det contains NaN"), (narrow_tag, "does not divide"), (no_tags, r"one tag per joint")):
        with pytest.raises(ValueError, match=words) as info:
            evaluate_bottomup(records, fn, cfg, ann)
        msg = str(info.value)
        assert msg.startswith(f"image {records[0].image_id} ") and "\n" not in msg

    def nobody(images, record):
        det, tag = good(images, record)
        return det * 0, tag

    empty = evaluate_bottomup(records, nobody, cfg, ann, results_file=scenes / "never.json")
    assert empty.results == [] and all(v == 0 for v in empty.stats.values())
    assert empty.people_per_image == {r.image_id: 0 for r in records} and not (scenes / "never.json").exists()
