"""Benchmark: our decoders and targets against the peers' algorithms, as ratios measured in one run.

Peers (re-stated as benchmark baselines in ``benchmarks/peers``): HRNet ``get_final_preds`` (argmax + quarter
offset + ``transform_preds``) and ``generate_target`` (one sample at a time, as its data set calls it); DarkPose
``get_final_preds`` (full ``cv2.GaussianBlur`` per map, log, Newton step per keypoint). Every baseline is first
checked equal to ours on the same maps/joints; a mismatch aborts the benchmark.

Cases run as interleaved repetitions (peer, ours, peer, ours, ... in alternating order) so that load from other
processes hits both sides alike; each row reports the ratio peer time / our time as min / median / max over the
repetitions, and the load average before and after.

    python benchmarks/core/bench_targets_decoders.py [--repeats 15] [--dark-repeats 3] [--only targets] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: benchmarks.peers

from benchmarks.peers import darkpose, hrnet
from enhancenet_core.conventions import CoordinateConvention, Decoder
from enhancenet_core.decoders import get_final_preds
from enhancenet_core.targets import generate_targets

LEGACY = CoordinateConvention.LEGACY
INPUT = (192, 256)  # (W, H)


def _maps(rng: np.random.Generator, n: int, k: int, size: tuple[int, int], sigma: float) -> np.ndarray:
    """Network-output-like maps: one Gaussian per joint plus noise (float32)."""
    joints = np.stack([rng.uniform(-8, INPUT[0] + 8, (n, k)), rng.uniform(-8, INPUT[1] + 8, (n, k))], -1)
    t, _ = generate_targets(joints, np.ones((n, k)), INPUT, size, sigma, CoordinateConvention.UNBIASED)
    return (t + 0.02 * rng.normal(size=t.shape)).astype(np.float32)


def _boxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.uniform(100, 500, (n, 2))
    scales = rng.uniform(0.5, 2.0, (n, 1)) * np.array([[0.75, 1.0]])
    return centers, scales


def _check_decoder(name: str, peer: tuple, ours: tuple, scales: np.ndarray, map_w: int, tol_map_px: float) -> float:
    """Max |peer - ours| in heat-map pixels; abort when over ``tol_map_px`` or when the maxima differ."""
    img_per_map_px = scales[:, 0] * hrnet.PIXEL_STD / map_w
    diff = float((np.abs(peer[0] - ours[0]).max(axis=(1, 2)) / img_per_map_px).max())
    if diff > tol_map_px or not np.array_equal(np.asarray(peer[1]).reshape(-1), np.asarray(ours[1]).reshape(-1)):
        raise SystemExit(f"{name}: the baseline differs from ours by {diff:.3g} map px: benchmark invalid")
    return diff


def _time(fn: Callable[[], object], prepare: Callable[[], object] | None = None) -> float:
    arg = prepare() if prepare is not None else None
    t0 = time.perf_counter()
    fn() if arg is None else fn(arg)
    return time.perf_counter() - t0


def interleaved(peer, ours, repeats: int, peer_prepare=None) -> dict[str, float]:
    """``repeats`` alternating timings of both (after one warm-up each); ratios peer / ours per repetition."""
    _time(peer, peer_prepare), _time(ours)
    t_peer, t_ours = [], []
    for r in range(repeats):
        if r % 2:
            t_ours.append(_time(ours))
            t_peer.append(_time(peer, peer_prepare))
        else:
            t_peer.append(_time(peer, peer_prepare))
            t_ours.append(_time(ours))
    ratios = np.array(t_peer) / np.array(t_ours)
    return {"peer_ms_median": 1e3 * float(np.median(t_peer)), "ours_ms_median": 1e3 * float(np.median(t_ours)),
            "ratio_min": float(ratios.min()), "ratio_median": float(np.median(ratios)), "ratio_max": float(ratios.max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--keypoints", type=int, default=17)
    ap.add_argument("--repeats", type=int, default=15, help="interleaved repetitions per case")
    ap.add_argument("--dark-repeats", type=int, default=3, help="repetitions of the DARK cases (DarkPose is slow)")
    ap.add_argument("--only", choices=("all", "targets"), default="all",
                    help="targets: only the target rows (no decoder, no DARK case)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here (atomic)")
    ap.add_argument("--markdown", action="store_true", help="also print the rows as a Markdown table")
    args = ap.parse_args()
    n, k = args.batch, args.keypoints
    rng = np.random.default_rng(0)
    centers, scales = _boxes(rng, n)
    lr, hr = (48, 64), (192, 256)
    rows: list[dict] = []
    load_before = os.getloadavg()

    if args.only != "targets":
        # ---- HRNet quarter-offset decoding (LR maps σ 2, HR maps σ 8)
        for size, sigma, goal in ((hr, 8.0, 3.0), (lr, 2.0, 2.0)):
            maps = _maps(rng, n, k, size, sigma)

            def peer(maps=maps):
                return hrnet.get_final_preds(maps, centers, scales)

            def ours(maps=maps):
                return get_final_preds(maps, centers, scales, Decoder.ARGMAX_QUARTER, LEGACY, INPUT)

            diff = _check_decoder("HRNet quarter", peer(), ours(), scales, size[0], 1e-3)
            rows.append({"case": f"HRNet 1/4 decoding [{n},{k},{size[1]},{size[0]}] vs HRNet get_final_preds",
                         "goal": goal, "max_diff_map_px": diff, **interleaved(peer, ours, args.repeats)})
            if size == hr:  # the single-thread floor: any decoder reads every value once (one bare numpy argmax)
                flat = maps.reshape(n * k, -1)
                rows.append({"case": "  floor: HRNet get_final_preds / one bare numpy argmax over the same maps",
                             "goal": None, "max_diff_map_px": 0.0,
                             **interleaved(peer, lambda flat=flat: flat.argmax(axis=1), args.repeats)})

        # ---- DARK (DarkPose's default kernel 11, and 51 for σ_HR = 8), HR maps
        maps = _maps(rng, n, k, hr, 8.0)
        for kernel, goal in ((11, 15.0), (51, 40.0)):

            def peer_dark(copy, kernel=kernel):
                return darkpose.get_final_preds(copy, centers, scales, kernel)

            def ours_dark(kernel=kernel):
                return get_final_preds(maps, centers, scales, Decoder.DARK, LEGACY, INPUT, dark_kernel=kernel)

            # DarkPose blurs in float32 (its maps' dtype): offsets differ by ~1e-5 map px from our float64
            diff = _check_decoder("DarkPose DARK", peer_dark(maps.copy()), ours_dark(), scales, hr[0], 1e-3)
            rows.append({"case": f"DARK k={kernel} [{n},{k},{hr[1]},{hr[0]}] vs DarkPose get_final_preds",
                         "goal": goal, "max_diff_map_px": diff,
                         **interleaved(peer_dark, ours_dark, args.dark_repeats, peer_prepare=maps.copy)})

    # ---- targets: one batched call (the collate step) vs HRNet's generate_target per sample
    rng = np.random.default_rng(1)  # the same joints with and without --only targets
    joints = np.stack([rng.uniform(-10, 202, (n, k)), rng.uniform(-10, 266, (n, k))], -1).astype(np.float32)
    vis = (rng.uniform(size=(n, k)) > 0.1).astype(np.float32)
    for size, sigma in ((lr, 2.0), (hr, 8.0)):

        def peer_t(size=size, sigma=sigma):
            return [hrnet.generate_target(joints[i], vis[i], INPUT, size, sigma) for i in range(n)]

        def ours_t(size=size, sigma=sigma):
            return generate_targets(joints, vis, INPUT, size, sigma, LEGACY)

        t_peer, t_ours = peer_t(), ours_t()
        if not (np.array_equal(np.stack([t for t, _ in t_peer]), t_ours[0])
                and np.array_equal(np.stack([w[:, 0] for _, w in t_peer]), t_ours[1])):
            raise SystemExit("LEGACY targets differ from HRNet's generate_target: benchmark invalid")
        rows.append({"case": f"targets {size[1]}x{size[0]} σ {sigma:g}, batch {n} vs HRNet generate_target/sample",
                     "goal": None, "max_diff_map_px": 0.0, **interleaved(peer_t, ours_t, args.repeats)})

        def floor(size=size):
            return np.ones((n, k, size[1], size[0]), np.float32)

        rows.append({"case": f"  memory-write floor (np.ones, same bytes) / our targets {size[1]}x{size[0]}",
                     "goal": None, "max_diff_map_px": 0.0, **interleaved(floor, ours_t, args.repeats)})

    load_after = os.getloadavg()
    print(f"batch {n}, K {k}, input {INPUT}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'case':78s} {'peer ms':>9s} {'ours ms':>9s}  ratio min / median / max   goal")
    for r in rows:
        goal = "" if r["goal"] is None else f"≥ {r['goal']:g}× {'met' if r['ratio_median'] >= r['goal'] else 'NOT met'}"
        print(f"{r['case']:78s} {r['peer_ms_median']:9.2f} {r['ours_ms_median']:9.2f}  "
              f"{r['ratio_min']:6.2f} / {r['ratio_median']:6.2f} / {r['ratio_max']:6.2f}   {goal}")
    if args.markdown:
        print("\n| workload | peer ms | ours ms | peer / ours: min / **median** / max | goal |\n| --- | --: | --: | --- | --- |")
        for r in rows:
            goal = "" if r["goal"] is None else f"≥ {r['goal']:g}×"
            print(f"| {r['case'].strip()} | {r['peer_ms_median']:.1f} | {r['ours_ms_median']:.1f} | "
                  f"{r['ratio_min']:.2f} / **{r['ratio_median']:.2f}** / {r['ratio_max']:.2f} | {goal} |")
    if args.json:
        payload = {"setting": {"batch": n, "keypoints": k, "input": INPUT, "repeats": args.repeats,
                               "dark_repeats": args.dark_repeats, "cpus": os.cpu_count(),
                               "load_before": load_before, "load_after": load_after}, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=args.json.parent, delete=False, suffix=".tmp") as fh:
            json.dump(payload, fh, indent=2)
        os.replace(fh.name, args.json)


if __name__ == "__main__":
    main()
