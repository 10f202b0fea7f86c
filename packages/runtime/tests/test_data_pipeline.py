"""Sample pipeline: shapes/dtypes, target peaks on the transformed joints, determinism, crop geometry, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig
from enhancenet_core.transforms import affine_transform, get_affine_transform
from enhancenet_runtime.data.coco import load_coco_gt_records
from enhancenet_runtime.data.image import IMAGENET_MEAN, IMAGENET_STD, crop_patch, normalize_image, read_image
from enhancenet_runtime.data.pipeline import (
    PoseDataset,
    build_test_sample,
    build_train_sample,
    collate_samples,
    render_targets,
)
from enhancenet_runtime.data.records import PoseRecord

CFG = Config()  # 192x256 input, 48x64 LR, r=4 -> 192x256 HR, sigma 2, legacy


@pytest.fixture(scope="module")
def records(coco_sample_dir: Path) -> tuple[PoseRecord, ...]:
    return load_coco_gt_records(coco_sample_dir / "test_coco.json", coco_sample_dir, CFG.model.input_size).records


def _peaks(maps: np.ndarray) -> np.ndarray:
    k, _, w = maps.shape
    am = maps.reshape(k, -1).argmax(axis=1)
    return np.stack([am % w, am // w], axis=1).astype(float)


def _with_targets(sample: dict, cfg: Config = CFG) -> dict:
    """One sample with its targets, as a batch of one renders them (index 0 of the batch)."""
    return {**sample, **{k: v[0] for k, v in render_targets(sample["joints"][None], sample["joints_vis"][None],
                                                              cfg).items()}}


def test_shapes_and_dtypes(records) -> None:
    raw = build_train_sample(records[0], CFG, np.random.default_rng(0))
    assert raw["joints"].shape == (17, 2) and raw["joints_vis"].shape == (17,)
    assert not any(k.startswith("target") for k in raw)  # rendered per batch, in the collate step
    s = _with_targets(raw)
    assert s["image"].shape == (3, 256, 192) and s["image"].dtype == np.float32
    assert s["target_lr"].shape == (17, 64, 48) and s["target_lr"].dtype == np.float32
    assert s["target_weight_lr"].shape == (17,) and s["target_weight_lr"].dtype == np.float32
    assert s["target_hr"].shape == (17, 256, 192) and s["target_weight_hr"].shape == (17,)
    meta = s["meta"]
    assert meta["joints"].shape == (17, 2) and meta["joints_vis"].shape == (17,)
    assert meta["image_id"] == records[0].image_id and meta["score"] == 1.0
    no_head = replace(CFG, model=ModelConfig(head=EnhanceNetConfig(enabled=False)))
    s2 = _with_targets(build_test_sample(records[0], no_head), no_head)
    assert "target_hr" not in s2 and "target_weight_hr" not in s2 and s2["target_lr"].shape == (17, 64, 48)


@pytest.mark.parametrize("head", [True, False])
def test_batch_targets_equal_per_sample_targets(records, head: bool) -> None:
    """The collate step renders the batch at once; the arrays are those of rendering each sample alone (as the
    pipeline did before), bit for bit, for augmented samples (flips, rotations, joints outside the patch)."""
    cfg = CFG if head else replace(CFG, model=ModelConfig(head=EnhanceNetConfig(enabled=False)))
    ds = PoseDataset(records, cfg, train=True, seed=11)
    samples = [ds[i] for i in range(len(ds))]
    batch = ds.collate(samples)
    assert "joints" not in batch and batch["meta"]["joints"].shape == (len(ds), 17, 2)
    codecs = heatmap_codecs(cfg)
    for i, s in enumerate(samples):  # each sample alone, as the pipeline rendered them before
        expected = [*codecs.lr.encode(s["joints"][None], s["joints_vis"][None])]
        if head:
            expected += codecs.hr.encode(s["joints"][None], s["joints_vis"][None])
        keys = ("target_lr", "target_weight_lr", "target_hr", "target_weight_hr")[: len(expected)]
        assert sorted(k for k in batch if k.startswith("target")) == sorted(keys)
        for key, value in zip(keys, expected, strict=True):
            assert batch[key].dtype == value.dtype
            np.testing.assert_array_equal(batch[key][i], value[0])
    assert (batch["target_weight_lr"] == 0).any() and (batch["target_weight_lr"] > 0).any()


@pytest.mark.parametrize("seed", range(6))
def test_target_peaks_on_transformed_joints(records, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rec = records[seed % len(records)]
    s = _with_targets(build_train_sample(rec, CFG, rng))
    j = s["meta"]["joints"].astype(float)
    # Independent check of the joints: transform the record's joints with the sample's own crop.
    m = get_affine_transform(s["meta"]["center"], s["meta"]["scale"], s["meta"]["rotation"], (192, 256))
    src = rec.joints_xy.copy()
    vis = rec.joints_vis.copy()
    if s["meta"]["flip"]:
        from enhancenet_runtime.data.augmentation import apply_flip

        w = read_image(rec.image).shape[1]
        _, src, vis = apply_flip(np.zeros((1, w, 3), np.uint8), src, vis, CFG.data.flip_pairs)
    np.testing.assert_allclose(j[vis > 0], affine_transform(src[vis > 0], m), atol=1e-3)
    for key, stride, size in (("lr", 4.0, (48, 64)), ("hr", 1.0, (192, 256))):
        t, wt = s[f"target_{key}"], s[f"target_weight_{key}"]
        mu = j / stride
        inside = (wt > 0) & np.all((mu >= 0) & (mu <= np.array(size) - 1), axis=1)
        assert inside.sum() >= 3
        err = np.abs(_peaks(t)[inside] - mu[inside])
        assert err.max() <= 0.5 + 1e-6, (key, err.max())
        assert np.all(t.reshape(17, -1).max(1)[inside] == pytest.approx(1.0))
        assert np.all(wt[vis == 0] == 0)  # invisible joints get no weight


def test_test_sample_uses_record_box(records) -> None:
    rec = records[1]
    s = build_test_sample(rec, CFG)
    np.testing.assert_array_equal(s["meta"]["center"], rec.center)
    np.testing.assert_array_equal(s["meta"]["scale"], rec.scale)
    assert s["meta"]["rotation"] == 0 and not s["meta"]["flip"]
    # the same as a train sample with augmentation switched off
    off = replace(CFG.data.augmentation, flip=False, scale_factor=0.0, rotation_factor=0.0, half_body_prob=0.0)
    cfg_off = replace(CFG, data=replace(CFG.data, augmentation=off))
    t = build_train_sample(rec, cfg_off, np.random.default_rng(3))
    np.testing.assert_array_equal(t["image"], s["image"])
    np.testing.assert_array_equal(t["joints"], s["joints"])
    np.testing.assert_array_equal(_with_targets(t)["target_hr"], _with_targets(s)["target_hr"])


def test_dataset_is_order_and_worker_independent(records) -> None:
    ds = PoseDataset(records[:4], CFG, train=True, seed=5)
    a = [ds[i] for i in range(4)]
    b = [ds[i] for i in (3, 1, 0, 2)]
    for i, j in enumerate((3, 1, 0, 2)):
        np.testing.assert_array_equal(b[i]["image"], a[j]["image"])
        assert b[i]["meta"]["rotation"] == a[j]["meta"]["rotation"]
    fresh = PoseDataset(records[:4], CFG, train=True, seed=5)  # e.g. another worker process
    np.testing.assert_array_equal(fresh[2]["joints"], a[2]["joints"])
    ds.set_epoch(1)
    changed = [not np.array_equal(ds[i]["image"], a[i]["image"]) for i in range(4)]
    assert any(changed)
    np.testing.assert_array_equal(ds.sample(2, epoch=0)["image"], a[2]["image"])
    assert ds[-1]["meta"]["index"] == 3
    with pytest.raises(IndexError):
        ds[4]


def test_collate(records) -> None:
    ds = PoseDataset(records[:3], CFG, train=False)
    assert "target_hr" not in collate_samples([ds[i] for i in range(3)])  # no config: stacking only
    batch = collate_samples([ds[i] for i in range(3)], CFG)
    assert batch["image"].shape == (3, 3, 256, 192)
    assert batch["target_hr"].shape == (3, 17, 256, 192)
    assert batch["meta"]["center"].shape == (3, 2) and batch["meta"]["joints"].shape == (3, 17, 2)
    np.testing.assert_array_equal(batch["meta"]["index"], [0, 1, 2])
    assert isinstance(batch["meta"]["image_file"], list) and len(batch["meta"]["image_file"]) == 3
    with pytest.raises(ValueError, match="keys"):
        collate_samples([{"a": np.zeros(1)}, {"b": np.zeros(1)}])


def test_crop_patch_geometry() -> None:
    yy, xx = np.mgrid[0:300, 0:400]
    blob = 255 * np.exp(-((xx - 250.0) ** 2 + (yy - 120.0) ** 2) / (2 * 2.0**2))  # centred at (250, 120)
    image = np.repeat(np.round(blob).astype(np.uint8)[..., None], 3, axis=2)
    center, scale = np.array([230.0, 150.0]), np.array([0.96, 1.28])  # 192 x 256 px crop, zoom 1
    for rot in (0.0, 30.0):
        patch = crop_patch(image, center, scale, rot, (192, 256))
        assert patch.shape == (256, 192, 3) and patch.dtype == np.uint8
        m = get_affine_transform(center, scale, rot, (192, 256))
        expect = affine_transform(np.array([250.0, 120.0]), m)
        ys, xs = np.nonzero(patch[..., 0])
        wts = patch[ys, xs, 0].astype(float)
        got = np.array([np.average(xs, weights=wts), np.average(ys, weights=wts)])  # blob centroid
        np.testing.assert_allclose(got, expect, atol=0.03)
    # rot 0, zoom 1: the pixel lands at 250 - 230 + 96 = 116, 120 - 150 + 128 = 98
    assert crop_patch(image, center, scale, 0.0, (192, 256))[98, 116, 0] == 255


def test_normalize_image() -> None:
    patch = np.zeros((2, 3, 3), dtype=np.uint8)
    patch[..., 0] = 255
    out = normalize_image(patch)
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], (1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], rtol=1e-6)
    np.testing.assert_allclose(out[2], -IMAGENET_MEAN[2] / IMAGENET_STD[2], rtol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_normalize_image_table_is_bit_identical(channels: int) -> None:
    """The uint8 look-up path equals ToTensor + Normalize's float32 arithmetic bit for bit, for every value,
    every channel, and non-contiguous patches (the arithmetic path still serves other dtypes)."""
    rng = np.random.default_rng(0)
    mean, std = tuple(rng.uniform(0.1, 0.9, channels)), tuple(rng.uniform(0.1, 0.5, channels))
    patch = np.stack([np.roll(np.arange(256, dtype=np.uint8), c).reshape(16, 16) for c in range(channels)], -1)
    patch = np.concatenate([patch, rng.integers(0, 256, (16, 16, channels), dtype=np.uint8)], axis=1)
    m, sd = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    for p in (patch, patch[:, ::-1], patch[::2]):
        expect = ((p.astype(np.float32) / np.float32(255.0) - m) / sd).transpose(2, 0, 1)
        out = normalize_image(p, mean, std)
        assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == expect.shape
        assert out.tobytes() == np.ascontiguousarray(expect).tobytes()
    np.testing.assert_array_equal(normalize_image(patch.astype(np.float32), mean, std),
                                  normalize_image(patch, mean, std))


def test_read_image_rgb(coco_sample_dir: Path, tmp_path: Path) -> None:
    rgb = read_image(coco_sample_dir / "000000000785.jpg")
    bgr = read_image(coco_sample_dir / "000000000785.jpg", color_rgb=False)
    assert rgb.shape == (425, 640, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"bad\.jpg"):
        read_image(tmp_path / "bad.jpg")


def test_missing_image_at_sample_time(records, tmp_path: Path) -> None:
    rec = replace(records[0], image=tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg"):
        build_train_sample(rec, CFG, np.random.default_rng(0))
    mpii_like = replace(records[0], joints=np.zeros((16, 3)))
    with pytest.raises(ValueError, match="16 joints"):
        build_test_sample(mpii_like, CFG)


def test_darkpose_convention_crops_and_targets_as_darkpose(records) -> None:
    # DarkPose warps the image to the patch and the joints to the heat map with its own affine (grid centre (W-1)/2
    # <-> crop centre, zoom (W-1)/(w*200-1)); a DARKPOSE sample's LR target must be DarkPose's Gaussian there.
    from enhancenet_core.conventions import CoordinateConvention

    rec = records[1]
    cfg = replace(CFG, target=replace(CFG.target, convention=CoordinateConvention.DARKPOSE))
    s = _with_targets(build_test_sample(rec, cfg), cfg)
    src_w = rec.scale[0] * cfg.data.pixel_std
    (w_hm, h_hm), sigma = cfg.model.heatmap_size, cfg.target.sigma
    vis = rec.joints[:, 2] > 0
    mu = (rec.joints[:, :2] - rec.center) * (w_hm - 1) / (src_w - 1) + [(w_hm - 1) / 2, (h_hm - 1) / 2]
    x, y = np.arange(w_hm), np.arange(h_hm)[:, None]
    want = np.exp(-((x - mu[:, 0, None, None]) ** 2 + (y - mu[:, 1, None, None]) ** 2) / (2 * sigma**2))
    got = s["target_lr"]
    drawn = vis & (s["target_weight_lr"] > 0)
    assert drawn.sum() >= 5
    inside = got[drawn] > 0  # our window is cut at 3σ (DarkPose draws the whole map)
    np.testing.assert_allclose(got[drawn][inside], want[drawn][inside], atol=1e-6)
    # and the patch is DarkPose's warp of the image
    zoom = (cfg.model.input_size[0] - 1) / (src_w - 1)
    mat = np.array([[zoom, 0, (cfg.model.input_size[0] - 1) / 2 - zoom * rec.center[0]],
                    [0, zoom, (cfg.model.input_size[1] - 1) / 2 - zoom * rec.center[1]]])
    np.testing.assert_allclose(get_affine_transform(rec.center, rec.scale, 0.0, cfg.model.input_size,
                                                    convention=CoordinateConvention.DARKPOSE), mat, atol=1e-9)


@pytest.mark.parametrize("color_rgb", [True, False])
def test_patch_converted_to_rgb_after_the_warp_is_bit_identical(records, color_rgb: bool) -> None:
    """Samples read by the pipeline (decoded BGR, only the patch converted) equal samples built from the image
    converted first (the previous order, and the one of an image passed in), flips and rotations included."""
    cfg = replace(CFG, data=replace(CFG.data, color_rgb=color_rgb))
    for i, record in enumerate(records):
        image = read_image(record.image, color_rgb)
        for seed in (i, 100 + i):
            ours = build_train_sample(record, cfg, np.random.default_rng(seed))
            ref = build_train_sample(record, cfg, np.random.default_rng(seed), image=image)
            assert np.array_equal(ours["image"], ref["image"]) and np.array_equal(ours["joints"], ref["joints"])
        assert np.array_equal(build_test_sample(record, cfg)["image"], build_test_sample(record, cfg, image)["image"])
