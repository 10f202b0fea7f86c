"""The torch data layer: tensors from the core pipeline, sampler order across ranks and after a resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_torch.data import ResumableDistributedSampler, build_loader, build_pose_dataset


class _Range(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def test_ranks_interleave_the_single_process_order() -> None:
    ds = _Range(13)
    single = ResumableDistributedSampler(ds, 1, 0, shuffle=True, seed=3)
    ranks = [ResumableDistributedSampler(ds, 2, r, shuffle=True, seed=3) for r in range(2)]
    for s in (single, *ranks):
        s.set_epoch(4)
    order = list(single)
    assert sorted(order) == list(range(13))
    r0, r1 = list(ranks[0]), list(ranks[1])
    assert r0 == order[0::2] and r1[:6] == order[1::2]  # rank 1 is padded by repetition to 7
    single.set_epoch(5)
    assert list(single) != order  # a new permutation each epoch


def test_skip_batches_resumes_mid_epoch() -> None:
    ds = _Range(10)
    s = ResumableDistributedSampler(ds, 1, 0, shuffle=True, seed=0, batch_size=3)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2)
    s.set_skip_batches(2)
    assert len(s) == 4
    assert list(s) == full[6:]
    assert list(s) == full  # the skip applies to one iteration only


def _coco_layout(tmp: Path, sample: Path) -> Path:
    (tmp / "annotations").mkdir(parents=True)
    (tmp / "images").mkdir()
    (tmp / "annotations" / "person_keypoints_sample.json").symlink_to(sample / "test_coco.json")
    (tmp / "images" / "sample").symlink_to(sample)
    return tmp


@pytest.fixture()
def coco_cfg(tmp_path: Path, coco_sample_dir: Path):
    root = _coco_layout(tmp_path / "coco", coco_sample_dir)
    return load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.train_set=sample", "data.test_set=sample",
        "test.use_gt_bbox=true", "model.input_size=[64,64]",
    ])  # fmt: skip


def test_samples_are_tensors_and_deterministic(coco_cfg) -> None:
    ds = build_pose_dataset(coco_cfg, train=True)
    assert len(ds) > 4
    a = ds[3]
    assert a["image"].shape == (3, 64, 64) and a["image"].dtype == torch.float32
    assert a["joints"].shape == (17, 2) and a["joints_vis"].shape == (17,)  # targets: per batch, in collate
    batch = next(iter(build_loader(ds, 2, train=False)))
    assert batch["target_lr"].shape == (2, 17, 16, 16) and batch["target_weight_lr"].shape == (2, 17)
    assert batch["target_hr"].shape == (2, 17, 64, 64) and batch["target_weight_hr"].shape == (2, 17)
    assert "joints" not in batch and batch["target_lr"].dtype == torch.float32
    assert a["meta"]["index"] == 3
    assert torch.equal(ds[3]["image"], a["image"])  # same (seed, epoch, index): same sample
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["image"], a["image"])  # another epoch: other augmentation


def test_workers_give_the_same_batches(coco_cfg) -> None:
    ds = build_pose_dataset(coco_cfg, train=True)
    ds.set_epoch(2)

    def first_batch(workers: int) -> dict:
        loader = build_loader(ds, 4, train=True, workers=workers, seed=7)
        loader.sampler.set_epoch(2)
        return next(iter(loader))

    b0, b1 = first_batch(0), first_batch(1)
    assert torch.equal(b0["image"], b1["image"])
    assert torch.equal(b0["target_hr"], b1["target_hr"])
    assert b0["meta"]["index"].tolist() == b1["meta"]["index"].tolist()
