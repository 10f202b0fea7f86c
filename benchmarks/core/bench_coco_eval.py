"""Benchmark: our NumPy COCO keypoint evaluator against pycocotools on a synthetic 5,000-image set.

The data set is generated here, deterministically (seeded): a few people per image with COCO-like sizes
and visibilities, noisy detections with duplicates and false positives. Both evaluators run in one
process on the same inputs, end to end (reading, checking, indexing, matching, accumulating) in two modes:

* ``eval``: the ground-truth JSON file and the result list in memory, as ``eval``'s metric stage runs them
  (``enhancenet_runtime.engine.evaluation``: the results are written to their file and evaluated from memory);
* ``files``: both JSON files read from disk (``enhancenet-spec eval-coco GT.json RESULTS.json``); the JSON
  parse, the same for both evaluators, is a larger share here.

``--repeats`` interleaved repetitions (pycocotools, ours, ours, pycocotools, ...) give the ratio
pycocotools / ours as min / median / max per mode, the cost of ``eval --check-pycocotools`` (ours then
pycocotools) relative to the default, the time Python's ``json`` takes to parse the files read (shared by both:
pycocotools / parse is the ratio an evaluator taking no time beyond it would reach), the load average and the
largest absolute difference of the 10 statistics.

    python benchmarks/core/bench_coco_eval.py [--images 5000] [--seed 0] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from enhancenet_core.metrics.coco import STAT_NAMES, evaluate_with_pycocotools
from enhancenet_core.metrics.coco_eval import evaluate_coco

K = 17


def synthetic_set(n_images: int, seed: int) -> tuple[dict, list[dict]]:
    """COCO keypoint ground truth and detections: ``n_images`` images, 0-6 people each."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    aid = 1
    for i in range(n_images):
        img_id = 100_000 + i
        images.append({"id": img_id, "width": 640, "height": 480, "file_name": f"{img_id:012d}.jpg"})
        n_people = int(rng.integers(0, 7))
        for _ in range(n_people):
            w, h = rng.uniform(15, 320), rng.uniform(30, 420)
            x0, y0 = rng.uniform(0, max(1.0, 640 - w)), rng.uniform(0, max(1.0, 480 - h))
            v = rng.choice([0, 1, 2], K, p=[0.3, 0.1, 0.6])
            kp = np.zeros((K, 3))
            kp[:, 0] = x0 + rng.uniform(0, w, K)
            kp[:, 1] = y0 + rng.uniform(0, h, K)
            kp[:, 2] = v
            kp[v == 0, :2] = 0
            area = float(w * h * rng.uniform(0.45, 0.85))
            anns.append(
                {
                    "id": aid,
                    "image_id": img_id,
                    "category_id": 1,
                    "keypoints": kp.ravel().tolist(),
                    "num_keypoints": int(np.count_nonzero(v)),
                    "area": area,
                    "bbox": [float(x0), float(y0), float(w), float(h)],
                    "iscrowd": int(rng.random() < 0.02),
                }
            )
            aid += 1
            for _ in range(int(rng.random() < 0.9) + int(rng.random() < 0.3)):  # missed / duplicated
                d = kp.copy()
                d[:, 0] = np.where(v > 0, kp[:, 0], x0 + w / 2)
                d[:, 1] = np.where(v > 0, kp[:, 1], y0 + h / 2)
                d[:, :2] += rng.normal(0, 0.06 * np.sqrt(area) * rng.uniform(0.2, 2.5), (K, 2))
                d[:, 2] = rng.random(K)
                dets.append(
                    {
                        "image_id": img_id,
                        "category_id": 1,
                        "keypoints": d.ravel().tolist(),
                        "score": float(rng.random()),
                    }
                )
        for _ in range(int(rng.integers(0, 3))):  # false positives
            d = np.zeros((K, 3))
            d[:, 0], d[:, 1], d[:, 2] = rng.uniform(0, 640, K), rng.uniform(0, 480, K), rng.random(K)
            dets.append(
                {
                    "image_id": img_id,
                    "category_id": 1,
                    "keypoints": d.ravel().tolist(),
                    "score": float(rng.random() * 0.5),
                }
            )
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person", "keypoints": [f"k{j}" for j in range(K)]}
        ],
    }
    return gt, dets


def _timed(fn, *args) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _summary(t_ref: list[float], t_ours: list[float]) -> dict[str, float]:
    ratios = np.array(t_ref) / np.array(t_ours)
    return {
        "ours_s_median": float(np.median(t_ours)),
        "pycocotools_s_median": float(np.median(t_ref)),
        "speedup_min": float(ratios.min()),
        "speedup_median": float(np.median(ratios)),
        "speedup_max": float(ratios.max()),
        # eval --check-pycocotools runs both: (ours + pycocotools) / ours
        "check_pycocotools_cost_median": float(np.median(1.0 + ratios)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (pycocotools takes ~7-25 s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    gt, dets = synthetic_set(args.images, args.seed)
    load_before = os.getloadavg()[0]
    times: dict[str, dict[str, list[float]]] = {m: {"ours": [], "ref": []} for m in ("eval", "files")}
    fns = {"ours": evaluate_coco, "ref": evaluate_with_pycocotools}
    stats: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-coco-") as tmp:
        gt_file, res_file = Path(tmp) / "gt.json", Path(tmp) / "results.json"
        gt_file.write_text(json.dumps(gt))
        res_file.write_text(json.dumps(dets))
        inputs = {"eval": (str(gt_file), dets), "files": (str(gt_file), str(res_file))}
        parse = {"eval": lambda: json.loads(gt_file.read_text()),
                 "files": lambda: (json.loads(gt_file.read_text()), json.loads(res_file.read_text()))}
        t_parse: dict[str, list[float]] = {m: [] for m in times}
        for r in range(args.repeats):
            for mode in ("eval", "files"):
                for side in ("ref", "ours") if r % 2 == 0 else ("ours", "ref"):
                    t, stats[f"{mode}.{side}"] = _timed(fns[side], *inputs[mode])
                    times[mode][side].append(t)
                t0 = time.perf_counter()
                parse[mode]()  # the floor both share: Python's json parse of the files read
                t_parse[mode].append(time.perf_counter() - t0)
    diff = max(abs(stats[f"{m}.ours"][n] - stats[f"{m}.ref"][n]) for m in times for n in STAT_NAMES)
    report = {
        "images": args.images,
        "ground_truths": len(gt["annotations"]),
        "detections": len(dets),
        "repeats": args.repeats,
        **{mode: {**_summary(t["ref"], t["ours"]), "json_parse_s_median": float(np.median(t_parse[mode])),
                  # pycocotools / (the parse alone): the ratio an evaluator that took no time beyond the parse would get
                  "floor_ratio_median": float(np.median(np.array(t["ref"]) / np.array(t_parse[mode])))}
           for mode, t in times.items()},
        "max_abs_diff": diff,
        "AP": stats["eval.ours"]["AP"],
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.images} images, {report['ground_truths']} people, {report['detections']} detections, "
          f"{args.repeats} interleaved repetitions, load {load_before:.1f} -> {report['load_after']:.1f}")
    for mode in times:
        m = report[mode]
        print(f"{mode:5}: ours {m['ours_s_median']:.3f} s, pycocotools {m['pycocotools_s_median']:.3f} s (medians); "
              f"pycocotools / ours {m['speedup_min']:.2f} / {m['speedup_median']:.2f} / {m['speedup_max']:.2f} "
              f"(min / median / max); --check-pycocotools costs {m['check_pycocotools_cost_median']:.2f}x; "
              f"JSON parse alone {m['json_parse_s_median']:.3f} s (pycocotools / parse {m['floor_ratio_median']:.1f})")
    print(f"max |diff| of the 10 stats: {diff:.3e}   (AP {report['AP']:.4f})")


if __name__ == "__main__":
    main()
