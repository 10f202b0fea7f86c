"""Bottom-up whole-image pipeline: pose-ae-train's affine, crowd masks, flip, batch targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.bottomup import (
    ae_transform,
    affine_points,
    input_side_at_scale,
    invert_affine,
    render_multi_peak,
    whole_image_center_scale,
)
from enhancenet_core.config import Config, config_from_dict
from enhancenet_runtime.data.bottomup import (
    AEAugmentation,
    BottomUpDataset,
    build_bottomup_sample,
    collate_bottomup,
    flip_permutation,
    load_bottomup_records,
    sample_ae_augmentation,
)
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco


def _cfg(size: int = 64, head: bool = True) -> Config:
    return config_from_dict({"model": {"input_size": [size, size], "head": {"enabled": head}}})


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bu") / "d"
    generate_multi_person_coco(root, 6, seed=2, image_size=(80, 64), people_per_image=(2, 4), crowd_prob=1.0,
                               val_fraction=0.0)  # fmt: skip
    return root


def _records(root: Path) -> list:
    return load_bottomup_records(root / "annotations/person_keypoints_train.json", root / "images/train")


def test_whole_image_transform() -> None:
    center, scale = whole_image_center_scale(640, 425)
    t = ae_transform(center, scale, (512, 512))
    corners = affine_points([[0, 0], [640, 425], [320, 212.5]], t)
    np.testing.assert_allclose(corners, [[0, 86], [512, 426], [256, 256]])  # long side spans, centred
    rot = ae_transform(center, scale, (512, 512), 30.0)
    np.testing.assert_allclose(affine_points(center, rot), [256, 256])  # rotation about the centre
    v = affine_points([[420.0, 212.5]], rot)[0] - 256
    assert np.isclose(np.degrees(np.arctan2(v[1], v[0])), -30.0)  # +30 degrees turns the image counter-clockwise
    # the map transform is exactly a quarter of the input one (keypoints / 4 == pose-ae-train's map keypoints)
    np.testing.assert_array_equal(ae_transform(center, 1.7, (128, 128), 17.0) * [[4], [4], [1]],
                                  ae_transform(center, 1.7, (512, 512), 17.0))  # fmt: skip
    np.testing.assert_allclose(affine_points(affine_points([[5.0, 7.0]], rot), invert_affine(rot)), [[5, 7]])
    assert [input_side_at_scale(s) for s in (2, 1, 0.5, 0.8)] == [1024, 512, 256, 448]


def test_test_sample_on_coco_sample(coco_sample_dir: Path) -> None:
    cfg = _cfg(128)
    recs = load_bottomup_records(coco_sample_dir / "test_coco.json", coco_sample_dir)
    assert [r.num_people for r in recs] == [1, 2, 4, 5]  # people with a labelled keypoint; multi-person images
    s = build_bottomup_sample(recs[0], cfg)  # 640 x 425: bands above and below are padding
    assert s["image"].shape == (3, 128, 128) and 0 <= s["image"].min() and s["image"].max() <= 1
    assert s["image"][:, :5].max() == 0 and s["image"][:, 64].max() > 0
    assert s["mask"].shape == (32, 32) and s["mask"][0].max() == 0 and s["mask"][16].min() == 1
    t = ae_transform(*whole_image_center_scale(640, 425), (128, 128))
    np.testing.assert_allclose(s["keypoints"][..., :2], affine_points(recs[0].keypoints[..., :2], t))


def test_crowd_regions_are_masked(multi: Path) -> None:
    cfg = _cfg(96)
    rec = next(r for r in _records(multi) if r.crowd)
    s = build_bottomup_sample(rec, cfg, AEAugmentation(np.array([40.0, 32.0]), 0.48))  # 96 px window: 1:1
    from enhancenet_runtime.data.segmentation import decode_segmentation

    crowd = decode_segmentation(rec.crowd[0], rec.height, rec.width)
    ys, xs = np.nonzero(crowd)
    inner = (ys.min() + 4 < ys) & (ys < ys.max() - 4) & (xs.min() + 4 < xs) & (xs < xs.max() - 4)
    assert inner.any()
    lr = s["mask"][(ys[inner] + 16) // 4, (xs[inner] + 8) // 4]  # image -> input: centred, /4 to the map
    assert lr.max() == 0 and s["mask"].max() == 1


def test_augmentation_is_seeded_and_flip_mirrors(multi: Path) -> None:
    cfg = _cfg(64)
    rec = _records(multi)[0]
    draws = [sample_ae_augmentation(np.random.default_rng([0, 0, i]), cfg.bottomup, 80, 64) for i in range(50)]
    again = sample_ae_augmentation(np.random.default_rng([0, 0, 7]), cfg.bottomup, 80, 64)
    assert (again.scale, again.rotation, again.flip) == (draws[7].scale, draws[7].rotation, draws[7].flip)
    np.testing.assert_array_equal(again.center, draws[7].center)
    rots = np.array([d.rotation for d in draws])
    scales = np.array([d.scale for d in draws]) / (80 / 200)
    assert np.all(np.abs(rots) <= 30) and np.all((scales >= 0.75) & (scales <= 1.25))
    assert 5 < sum(d.flip for d in draws) < 45
    base = AEAugmentation(np.array([41.0, 30.0]), 0.45, 12.0, False)
    plain = build_bottomup_sample(rec, cfg, base)
    flipped = build_bottomup_sample(rec, cfg, AEAugmentation(base.center, base.scale, base.rotation, True))
    np.testing.assert_array_equal(flipped["image"], plain["image"][:, :, ::-1])
    np.testing.assert_array_equal(flipped["mask"], plain["mask"][:, ::-1])
    perm = flip_permutation(cfg.data.flip_pairs, 17)
    np.testing.assert_allclose(flipped["keypoints"][..., 0], 64 - plain["keypoints"][:, perm, 0])
    ds = BottomUpDataset(_records(multi), cfg, train=True, seed=3)
    np.testing.assert_array_equal(ds.sample(1, epoch=2)["image"], ds.sample(1, epoch=2)["image"])
    assert not np.array_equal(ds.sample(1, epoch=2)["image"], ds.sample(1, epoch=3)["image"])


def test_collate_renders_multi_peak_targets(multi: Path) -> None:
    cfg = _cfg(64)
    ds = BottomUpDataset(_records(multi), cfg, train=True)
    samples = [ds[i] for i in range(3)]
    batch = collate_bottomup(samples, cfg)
    p = max(s["keypoints"].shape[0] for s in samples)
    assert batch["keypoints"].shape == (3, p, 17, 3) and batch["pixels"].shape == (3, p, 17, 2)
    for i, s in enumerate(samples):  # each image alone, its people at map scale, max over people
        kp = s["keypoints"].copy()
        kp[..., :2] /= 4
        np.testing.assert_array_equal(batch["target_lr"][i], render_multi_peak(kp, (16, 16), 2.0))
        kp[..., :2] *= 4
        np.testing.assert_array_equal(batch["target_hr"][i], render_multi_peak(kp, (64, 64), 8.0))
        np.testing.assert_array_equal(batch["mask_hr"][i], np.kron(s["mask"], np.ones((4, 4))))
    assert batch["joint_mask"].sum() > 0 and batch["target_lr"].max() == 1
    no_head = collate_bottomup(samples, _cfg(64, head=False))
    assert "target_hr" not in no_head and "mask_hr" not in no_head


def test_thirty_people_hr_targets_at_512() -> None:
    cfg = _cfg(512)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(-10, 520, (30, 17, 2)), rng.integers(0, 3, (30, 17, 1))], axis=2)
    sample = {"image": np.zeros((3, 1, 1), np.float32), "keypoints": kp, "mask": np.ones((128, 128), np.float32),
              "meta": {"image_id": 1}}  # fmt: skip
    batch = collate_bottomup([sample], cfg)
    assert batch["target_hr"].shape == (1, 17, 512, 512) and batch["target_lr"].shape == (1, 17, 128, 128)
    drawn = (kp[..., 2] > 0) & (kp[..., 0] >= 0) & (kp[..., 0] < 512) & (kp[..., 1] >= 0) & (kp[..., 1] < 512)
    k = np.nonzero(drawn)[1]
    x, y = kp[..., 0][drawn].astype(int), kp[..., 1][drawn].astype(int)
    assert np.all(batch["target_hr"][0, k, y, x] == 1.0)  # every drawn joint peaks at its pixel


def test_bad_inputs(multi: Path, tmp_path: Path) -> None:
    cfg = _cfg(64)
    rec = _records(multi)[0]
    with pytest.raises(ValueError, match="annotation file says"):
        build_bottomup_sample(rec, cfg, image=np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r"sample 0 keypoints must be \(P, 17, 3\)"):
        collate_bottomup([{"image": np.zeros(1), "keypoints": np.zeros((2, 5, 3)), "mask": np.zeros((16, 16)),
                           "meta": {}}], cfg)  # fmt: skip
    with pytest.raises(ValueError, match="at least one"):
        collate_bottomup([], cfg)
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [{"id": 1, "file_name": "a.png", "width": 5, "height": 5}], "categories": '
                   '[{"id": 1, "name": "person"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, '
                   '"keypoints": [1, 2], "area": 1}]}')  # fmt: skip
    with pytest.raises(ValueError, match="annotation"):
        load_bottomup_records(bad, tmp_path)
