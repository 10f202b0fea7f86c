"""Benchmark: the training input pipeline (decode + augmentation + affine crop + targets) in images/s, ours
against HRNet's ``JointsDataset`` + ``DataLoader``, as ratios measured in one run.

Both run under ``torch.utils.data.DataLoader`` with the same batch size and workers, shuffled, workers started
per epoch (neither keeps them), over the same images: the COCO sample (``$ENHANCENET_SHARED_DATA/coco_sample``,
12 people in 4 images) repeated to ``--batches`` batches. One repetition = one epoch, timed from creating the
iterator to the last batch; repetitions are interleaved (peer, ours-base, ours-enhancenet, then reversed, ...).

- ``peer``: :mod:`benchmarks.peers.hrnet_dataset` (HRNet's per-sample steps re-stated; LR targets 64 x 48 σ 2);
- ``ours, base``: ``coco_hrnet_w32_256x192_base`` (the same work: LR targets only, rendered per batch in the
  collate step, :class:`enhancenet_torch.data.CollateWithTargets`);
- ``ours, enhancenet``: ``coco_hrnet_w32_256x192_enhancenet`` (also the HR targets 256 x 192 σ 8: 107 MB per
  batch of 32, work HRNet does not do).

Before timing, the unaugmented patches and LR targets of the peer and ours are checked equal (patch pixels within
one uint8 level, < 1 % of them differing: HRNet's crop centre/scale are float32; targets identical); a mismatch
aborts. A single-process breakdown (ms per sample: JPEG decode alone, the peer's
``__getitem__``, ours; one torch thread, as in a worker) shows the floor: every pipeline decodes each sample's
JPEG.

    python benchmarks/torch/bench_input_pipeline.py [--batches 8] [--batch 32] [--workers 2] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: benchmarks.peers

from benchmarks.peers.hrnet_dataset import STD, HRNetJointsDataset, load_db
from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_runtime.data.pipeline import PoseDataset, load_records
from enhancenet_torch.data import TorchPoseDataset, build_loader


def _layout(tmp: Path, sample: Path) -> Path:
    (tmp / "annotations").mkdir(parents=True)
    (tmp / "images").mkdir()
    (tmp / "annotations" / "person_keypoints_sample.json").symlink_to(sample / "test_coco.json")
    (tmp / "images" / "sample").symlink_to(sample)
    return tmp


def _epoch(loader: DataLoader) -> float:
    t0 = time.perf_counter()
    n = 0
    for batch in loader:
        n += len(batch[0]) if isinstance(batch, list | tuple) else len(batch["image"])
    return time.perf_counter() - t0


def _check_equal(peer: HRNetJointsDataset, ours: PoseDataset) -> None:
    """Unaugmented: the peer's patch and LR targets equal ours (the same records, in the same order)."""
    for i in range(min(len(peer), len(ours.records))):
        image, target, weight, _ = peer[i]
        sample = ours.sample(i)
        targets = ours.targets(sample["joints"][None], sample["joints_vis"][None])
        # in uint8 levels: HRNet's centre/scale are float32, ours float64, so a few interpolated pixels of the
        # crop round one level apart
        levels = np.abs(image.numpy() - sample["image"]) * np.asarray(STD, np.float32)[:, None, None] * 255
        if (float(levels.max()) > 1.01 or float((levels > 0.01).mean()) > 0.01
                or not np.array_equal(target.numpy(), targets["target_lr"][0])
                or not np.array_equal(weight.numpy()[:, 0], targets["target_weight_lr"][0])):
            raise SystemExit(f"record {i}: the HRNet baseline differs from ours: benchmark invalid")


def _per_sample_ms(fn, n: int) -> float:
    fn(0)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return 1e3 * (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sample = Path(os.environ.get("ENHANCENET_SHARED_DATA", "/work/shared/data")) / "coco_sample"
    n = args.batches * args.batch
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = _layout(Path(tmp), sample)
        sets = ["data.root=" + str(root), "data.train_set=sample", "data.test_set=sample"]
        cfgs = {name: load_config(shipped_config_path(f"coco_hrnet_w32_256x192_{name}"), sets)
                for name in ("base", "enhancenet")}
        records = list(load_records(cfgs["base"], train=True).records)
        db = load_db(root / "annotations" / "person_keypoints_sample.json", root / "images" / "sample")
        if len(db) != len(records):
            raise SystemExit(f"HRNet's db has {len(db)} people, ours {len(records)}: benchmark invalid")
        _check_equal(HRNetJointsDataset(db, is_train=False), PoseDataset(records, cfgs["base"], train=False))
        reps = -(-n // len(records))
        peer_set = HRNetJointsDataset((db * reps)[:n])
        ours_sets = {name: PoseDataset((records * reps)[:n], cfg, train=True) for name, cfg in cfgs.items()}

        files = [r["image"] for r in db]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as in a DataLoader worker (the peer's ToTensor/Normalize are torch ops)
        breakdown = {
            "decode_ms": _per_sample_ms(lambda i: cv2.imread(files[i % len(files)], cv2.IMREAD_COLOR
                                                             | cv2.IMREAD_IGNORE_ORIENTATION), 64),
            "peer_ms": _per_sample_ms(lambda i: peer_set[i], 64),
            **{f"ours_{k}_ms": _per_sample_ms(lambda i, d=d: d[i], 64) for k, d in ours_sets.items()},
        }

        torch.set_num_threads(threads)

        def peer_loader() -> DataLoader:
            return DataLoader(peer_set, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                              pin_memory=False)

        def ours_loader(name: str) -> DataLoader:
            return build_loader(TorchPoseDataset(ours_sets[name]), args.batch, train=True, workers=args.workers)

        loaders = {"peer": peer_loader, "base": lambda: ours_loader("base"),
                   "enhancenet": lambda: ours_loader("enhancenet")}
        load_before = os.getloadavg()[0]
        for make in loaders.values():  # warm-up (imports in the workers, page cache)
            _epoch(make())
        times: dict[str, list[float]] = {k: [] for k in loaders}
        for r in range(args.repeats):
            for key in (list(loaders) if r % 2 == 0 else list(reversed(loaders))):
                times[key].append(_epoch(loaders[key]()))
    peer_t = np.array(times["peer"])
    report = {
        "images_per_epoch": n, "batch": args.batch, "workers": args.workers, "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(), "load_before": load_before, "load_after": os.getloadavg()[0],
        "images_per_s": {k: n / float(np.median(v)) for k, v in times.items()},
        "single_process_ms_per_sample": breakdown,
    }
    for key in ("base", "enhancenet"):
        ratios = peer_t / np.array(times[key])
        report[f"ours_{key}_vs_peer"] = {"min": float(ratios.min()), "median": float(np.median(ratios)),
                                         "max": float(ratios.max())}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{n} images per epoch, batch {args.batch}, {args.workers} workers, {args.repeats} interleaved epochs, "
          f"load {load_before:.1f} -> {report['load_after']:.1f}")
    for key, ips in report["images_per_s"].items():
        ratio = report.get(f"ours_{key}_vs_peer")
        extra = f"   ours / HRNet: {ratio['min']:.2f} / {ratio['median']:.2f} / {ratio['max']:.2f}" if ratio else ""
        print(f"{key:11} {ips:8.1f} images/s{extra}")
    print("single process, ms per sample: " + ", ".join(f"{k[:-3]} {v:.2f}" for k, v in breakdown.items()))


if __name__ == "__main__":
    main()
