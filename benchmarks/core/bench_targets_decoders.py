"""Benchmark: vectorized HR target generation and DARK decoding vs HRNet / DarkPose-style per-keypoint loops.

Setting (the paper's COCO HR branch): batch 32, K = 17, input 192 x 256 (W x H), HR maps 192 x 256 (r = 4 on
48 x 64 LR maps), σ_HR = 8, DARK kernel 51. The loops are written here the way HRNet's ``generate_target``
and DarkPose's ``get_final_preds`` do it (the DarkPose loop blurs with OpenCV, as DarkPose does).

    python benchmarks/core/bench_targets_decoders.py [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from enhancenet_core.conventions import CoordinateConvention, Decoder
from enhancenet_core.decoders import decode_heatmaps, kernel_size_from_sigma
from enhancenet_core.targets import generate_targets


def loop_targets(joints: np.ndarray, vis: np.ndarray, image_size, heatmap_size, sigma: float):
    """HRNet generate_target ('gaussian'), per instance and per joint."""
    n, k = vis.shape
    target = np.zeros((n, k, heatmap_size[1], heatmap_size[0]), np.float32)
    weight = vis.astype(np.float32).copy()
    stride = np.array(image_size) / np.array(heatmap_size)
    tmp = sigma * 3
    for i in range(n):
        for j in range(k):
            mu_x = int(joints[i, j, 0] / stride[0] + 0.5)
            mu_y = int(joints[i, j, 1] / stride[1] + 0.5)
            ul = [int(mu_x - tmp), int(mu_y - tmp)]
            br = [int(mu_x + tmp + 1), int(mu_y + tmp + 1)]
            if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
                weight[i, j] = 0
                continue
            size = 2 * tmp + 1
            x = np.arange(0, size, 1, np.float32)
            y = x[:, None]
            x0 = y0 = size // 2
            g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
            gx = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
            gy = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
            ix = max(0, ul[0]), min(br[0], heatmap_size[0])
            iy = max(0, ul[1]), min(br[1], heatmap_size[1])
            if weight[i, j] > 0.5:
                target[i, j, iy[0]:iy[1], ix[0]:ix[1]] = g[gy[0]:gy[1], gx[0]:gx[1]]
    return target, weight


def loop_dark(hm: np.ndarray, kernel: int):
    """DarkPose get_final_preds (heat-map part): get_max_preds, cv2 blur per map, log, taylor per keypoint."""
    import cv2

    n, k, h, w = hm.shape
    flat = hm.reshape(n, k, -1)
    idx = flat.argmax(2)
    maxvals = flat.max(2)[..., None]
    coords = np.stack([idx % w, idx // w], -1).astype(np.float32) * (maxvals > 0)
    hm = hm.copy()
    border = (kernel - 1) // 2
    for i in range(n):
        for j in range(k):
            origin_max = np.max(hm[i, j])
            dr = np.zeros((h + 2 * border, w + 2 * border))
            dr[border:-border, border:-border] = hm[i, j]
            dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
            hm[i, j] = dr[border:-border, border:-border]
            hm[i, j] *= origin_max / np.max(hm[i, j])
    hm = np.log(np.maximum(hm, 1e-10))
    for i in range(n):
        for j in range(k):
            m = hm[i, j]
            px, py = int(coords[i, j, 0]), int(coords[i, j, 1])
            if 1 < px < w - 2 and 1 < py < h - 2:
                dx = 0.5 * (m[py][px + 1] - m[py][px - 1])
                dy = 0.5 * (m[py + 1][px] - m[py - 1][px])
                dxx = 0.25 * (m[py][px + 2] - 2 * m[py][px] + m[py][px - 2])
                dxy = 0.25 * (m[py + 1][px + 1] - m[py - 1][px + 1] - m[py + 1][px - 1] + m[py - 1][px - 1])
                dyy = 0.25 * (m[py + 2][px] - 2 * m[py][px] + m[py - 2][px])
                if dxx * dyy - dxy**2 != 0:
                    hess = np.array([[dxx, dxy], [dxy, dyy]])
                    coords[i, j] -= np.linalg.solve(hess, np.array([dx, dy]))
    return coords, maxvals


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--keypoints", type=int, default=17)
    ap.add_argument("--sigma", type=float, default=8.0, help="σ of the HR maps (r·σ)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None, help="write the results here (atomic)")
    args = ap.parse_args()

    image_size, hr_size = (192, 256), (192, 256)
    rng = np.random.default_rng(0)
    n, k = args.batch, args.keypoints
    joints = np.stack([rng.uniform(-10, 202, (n, k)), rng.uniform(-10, 266, (n, k))], -1).astype(np.float32)
    vis = (rng.uniform(size=(n, k)) > 0.1).astype(np.float32)
    legacy = CoordinateConvention.LEGACY

    t_vec, _ = generate_targets(joints, vis, image_size, hr_size, args.sigma, legacy)
    t_ref, _ = loop_targets(joints, vis, image_size, hr_size, args.sigma)
    if not np.array_equal(t_vec, t_ref):
        raise SystemExit("vectorized LEGACY targets differ from the loop: benchmark invalid")
    maps = t_vec + 0.02 * rng.normal(size=t_vec.shape).astype(np.float32)
    kernel = kernel_size_from_sigma(args.sigma)
    c_vec, _ = decode_heatmaps(maps, Decoder.DARK, legacy, dark_kernel=kernel)
    c_ref, _ = loop_dark(maps, kernel)
    max_diff = float(np.abs(c_vec - c_ref).max())

    rows = []
    for name, f_vec, f_loop in (
        (f"HR targets LEGACY (sigma {args.sigma:g})",
         lambda: generate_targets(joints, vis, image_size, hr_size, args.sigma, legacy),
         lambda: loop_targets(joints, vis, image_size, hr_size, args.sigma)),
        (f"HR targets UNBIASED (sigma {args.sigma:g})",
         lambda: generate_targets(joints, vis, image_size, hr_size, args.sigma, CoordinateConvention.UNBIASED),
         lambda: loop_targets(joints, vis, image_size, hr_size, args.sigma)),
        (f"DARK decode (k={kernel})",
         lambda: decode_heatmaps(maps, Decoder.DARK, legacy, dark_kernel=kernel),
         lambda: loop_dark(maps, kernel)),
    ):
        tv, tl = best_time(f_vec, args.repeats), best_time(f_loop, args.repeats)
        rows.append({"case": name, "vectorized_s": tv, "loop_s": tl, "batches_per_s": 1 / tv,
                     "loop_batches_per_s": 1 / tl, "speedup": tl / tv})

    print(f"batch {n}, K {k}, input {image_size}, HR maps {hr_size}, threads OMP={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'case':34s} {'ours ms':>9s} {'loop ms':>9s} {'ours /s':>9s} {'speedup':>8s}")
    for r in rows:
        print(f"{r['case']:34s} {r['vectorized_s'] * 1e3:9.2f} {r['loop_s'] * 1e3:9.2f} "
              f"{r['batches_per_s']:9.1f} {r['speedup']:7.1f}x")
    print(f"DARK coords max |ours - DarkPose loop| = {max_diff:.2e} px; LEGACY targets identical to the loop")
    if args.json:
        payload = {"setting": {"batch": n, "keypoints": k, "input": image_size, "hr": hr_size, "sigma": args.sigma,
                               "dark_kernel": kernel}, "rows": rows, "dark_max_abs_diff_px": max_diff}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=args.json.parent, delete=False, suffix=".tmp") as fh:
            json.dump(payload, fh, indent=2)
        os.replace(fh.name, args.json)


if __name__ == "__main__":
    main()
