"""Benchmark: the Associative Embedding grouping parser (``enhancenet_core.bottomup.group``) vs a loop baseline.

Setting (pose-ae-train's test flow): K = 17 maps of 128 x 128, T = 2 tag dimensions (image + flipped), scenes
of 20-30 people with Gaussian peaks, noise and per-person tags; parser defaults (threshold 0.1, 30 people,
top-30, NMS 3x3, adjust, refine). Also our parser on M^HR-sized maps (512 x 512 detections, 128 x 128 tags).

The baseline ("loop") is written here the way pose-ae-train's ``utils/group.py`` and ``test.py`` work: NMS and
top-k vectorised (they are torch calls there), then per-candidate Python loops for matching with a dict of
persons and lists of tags, a pure-Python Munkres step over lists (pose-ae-train calls the pure-Python
``munkres`` package; this one takes the same steps, so it makes the same choices on ties), loops over persons and
joints for ``adjust``, and ``refine`` per person over all 17 joints. It checks that both give the same people.

    python benchmarks/core/bench_grouping.py [--images 5] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter

from enhancenet_core.bottomup import GroupingParams, group, render_multi_peak
from enhancenet_core.bottomup.grouping import COCO_AE_JOINT_ORDER

K, RES, T = 17, 128, 2


def make_scene(rng: np.random.Generator, people: int, res: int = RES, tag_res: int = RES):
    """Detection maps ``(K, res, res)`` and tags ``(K, tag_res, tag_res, T)`` of ``people`` random people."""
    kp = np.zeros((people, K, 3))
    kp[..., :2] = rng.uniform(-5, tag_res + 5, (people, 1, 2)) + rng.normal(0, tag_res / 12, (people, K, 2))
    kp[..., 2] = rng.random((people, K)) < 0.8
    r = res // tag_res
    det = render_multi_peak(kp * [r, r, 1], (res, res), 2.0 * r) * rng.uniform(0.3, 0.95, (K, 1, 1))
    det = (det + rng.normal(0, 0.02, det.shape)).astype(np.float32)
    tag = rng.normal(0, 0.1, (K, tag_res, tag_res, T)).astype(np.float32)
    for i in range(people):
        v = rng.normal(0, 3, T)
        for k in range(K):
            x, y = int(kp[i, k, 0]), int(kp[i, k, 1])
            if kp[i, k, 2] and 0 <= x < tag_res and 0 <= y < tag_res:
                tag[k, max(0, y - 3) : y + 4, max(0, x - 3) : x + 4] = v + rng.normal(0, 0.2, T)
    return det, tag


def loop_munkres(cost: list[list[float]]) -> list[tuple[int, int]]:
    """Pure-Python Munkres over lists, with the step order (and so the tie choices) of the ``munkres`` package:
    the same algorithm as ``enhancenet_core.bottomup.assignment.munkres_assignment``, element by element."""
    r, c = len(cost), len(cost[0])
    n = max(r, c)
    a = [list(row) + [0.0] * (n - c) for row in cost] + [[0.0] * n for _ in range(n - r)]
    for row in a:
        low = min(row)
        for j in range(n):
            row[j] -= low
    mark = [[0] * n for _ in range(n)]
    col_cov = [False] * n
    for i in range(n):
        for j in range(n):
            if a[i][j] == 0 and not col_cov[j]:
                mark[i][j], col_cov[j] = 1, True
                break
    row_cov = [False] * n
    while True:
        col_cov = [any(mark[i][j] == 1 for i in range(n)) for j in range(n)]
        if sum(col_cov) >= n:
            break
        row_cov = [False] * n
        i0 = j0 = 0
        while True:
            hit = None
            for di in range(n):
                i = (i0 + di) % n
                if row_cov[i]:
                    continue
                for dj in range(n):
                    j = (j0 + dj) % n
                    if a[i][j] == 0 and not col_cov[j]:
                        hit = (i, j)  # the last zero of the row, as the package's search
                if hit is not None:
                    break
            if hit is None:
                low = min(a[i][j] for i in range(n) for j in range(n) if not row_cov[i] and not col_cov[j])
                for i in range(n):
                    for j in range(n):
                        if row_cov[i]:
                            a[i][j] += low
                        if not col_cov[j]:
                            a[i][j] -= low
                i0 = j0 = 0
                continue
            i0, j0 = hit
            mark[i0][j0] = 2
            star = next((j for j in range(n) if mark[i0][j] == 1), -1)
            if star < 0:
                break
            row_cov[i0], col_cov[star], j0 = True, False, star
        path = [(i0, j0)]
        while True:
            srow = next((i for i in range(n) if mark[i][path[-1][1]] == 1), -1)
            if srow < 0:
                break
            path.append((srow, path[-1][1]))
            path.append((srow, next(j for j in range(n) if mark[srow][j] == 2)))
        for i, j in path:
            mark[i][j] = 0 if mark[i][j] == 1 else 1
        mark = [[0 if x == 2 else x for x in row] for row in mark]
    return [(i, j) for i in range(r) for j in range(c) if mark[i][j] == 1]


def _quarter(m: np.ndarray, row: int, col: int, row_max: int, col_max: int) -> tuple[float, float]:
    dx = 0.25 if m[row, min(col + 1, col_max)] > m[row, max(col - 1, 0)] else -0.25
    dy = 0.25 if m[min(row + 1, row_max), col] > m[max(row - 1, 0), col] else -0.25
    return dx, dy


def loop_group(det: np.ndarray, tag: np.ndarray, thr: float = 0.1, max_people: int = 30):
    """The baseline parser (module docstring); returns people ``(P, K, 3 + T)`` and scores."""
    det = np.minimum(det, 1)
    peak = maximum_filter(det, size=(1, 3, 3), mode="constant", cval=-np.inf)
    flat = np.where(peak == det, det, 0).reshape(K, -1)
    idx = np.argsort(-flat, axis=1, kind="stable")[:, :max_people]
    vals = np.take_along_axis(flat, idx, axis=1)
    w = det.shape[2]
    persons: dict[float, np.ndarray] = {}
    tag_lists: dict[float, list[np.ndarray]] = {}

    def add(k: int, joint: list[float], t: np.ndarray) -> None:
        persons.setdefault(float(t[0]), np.zeros((K, 3 + T)))[k] = joint
        tag_lists[float(t[0])] = [t]

    for step, k in enumerate(COCO_AE_JOINT_ORDER):
        cands = []
        for c in range(idx.shape[1]):
            if vals[k, c] > thr:
                x, y = int(idx[k, c] % w), int(idx[k, c] // w)
                cands.append(([x, y, float(vals[k, c]), *tag[k, y, x].tolist()], tag[k, y, x]))
        if step == 0 or not persons:
            for joint, t in cands:
                add(k, joint, t)
            continue
        keys = list(persons)[:max_people]
        if len(keys) == max_people or not cands:
            continue
        means = [np.mean(tag_lists[key], axis=0) for key in keys]
        dist = [[float(np.sqrt(np.mean((t - m) ** 2))) for m in means] for _, t in cands]
        cost = [[round(d) * 100 - joint[2] for d in row] for row, (joint, _) in zip(dist, cands, strict=True)]
        cost = [row + [1e10] * max(0, len(cands) - len(keys)) for row in cost]
        for row, col in loop_munkres(cost):
            joint, t = cands[row]
            if col < len(keys) and dist[row][col] < 1.0:
                persons[keys[col]][k] = joint
                tag_lists[keys[col]].append(t)
            else:
                add(k, joint, t)
    people = np.array(list(persons.values()), np.float32).reshape(-1, K, 3 + T)
    for person in people:  # adjust
        for k in range(K):
            if person[k, 2] > 0:
                col, row = int(person[k, 0]), int(person[k, 1])
                dx, dy = _quarter(det[k], row, col, det.shape[1] - 1, w - 1)
                person[k, 0], person[k, 1] = col + 0.5 + dx, row + 0.5 + dy
    scores = [float(np.mean(person[:, 2])) for person in people]
    for person in people:  # refine (corrected clamps), every joint computed as the peer does
        present = [tag[k, int(person[k, 1]), int(person[k, 0])] for k in range(K) if person[k, 2] > 0]
        mean = np.mean(present, axis=0)
        for k in range(K):
            score = det[k] - np.round(np.sqrt(((tag[k] - mean) ** 2).sum(axis=2)))
            row, col = np.unravel_index(np.argmax(score), score.shape)
            if det[k, row, col] > 0 and person[k, 2] == 0:
                dx, dy = _quarter(det[k], row, col, det.shape[1] - 1, w - 1)
                person[k, :3] = (col + 0.5 + dx, row + 0.5 + dy, 1.0)
    return people, scores


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
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="write the results here (atomic)")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    scenes = [make_scene(rng, int(rng.integers(20, 31))) for _ in range(args.images)]
    hr_scenes = [make_scene(rng, int(rng.integers(20, 31)), res=4 * RES) for _ in range(args.images)]
    params = GroupingParams()
    n_people = 0
    for det, tag in scenes:
        ours, ref = group(det, tag, params), loop_group(det, tag)
        if ours.people.shape != ref[0].shape or not np.array_equal(ours.people[..., :3], ref[0][..., :3]):
            raise SystemExit("our parser and the loop baseline give different people: benchmark invalid")
        n_people += len(ref[0])

    def run(fn, maps):
        return lambda: [fn(d, t) for d, t in maps]

    rows = []
    t_loop = best_time(run(loop_group, scenes), args.repeats)
    for name, p in (
        ("ours (munkres-compatible)", params),
        ("ours (scipy solver)", GroupingParams(solver="scipy")),
    ):
        t = best_time(run(lambda d, t, p=p: group(d, t, p), scenes), args.repeats)
        rows.append(
            {"case": f"{name}, 128x128", "s_per_image": t / len(scenes), "speedup_vs_loop": t_loop / t}
        )
    rows.append(
        {"case": "loop baseline, 128x128", "s_per_image": t_loop / len(scenes), "speedup_vs_loop": 1.0}
    )
    t_hr = best_time(run(lambda d, t: group(d, t, params), hr_scenes), args.repeats)
    rows.append({"case": "ours, HR 512x512 det + 128x128 tags", "s_per_image": t_hr / len(hr_scenes),
                 "speedup_vs_loop": None})  # fmt: skip

    print(
        f"{args.images} images, {n_people} people, K {K}, T {T}, threads OMP={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(f"{'case':42s} {'ms/image':>9s} {'speedup':>8s}")
    for r in rows:
        ratio = "" if r["speedup_vs_loop"] is None else f"{r['speedup_vs_loop']:7.1f}x"
        print(f"{r['case']:42s} {r['s_per_image'] * 1e3:9.1f} {ratio:>8s}")
    print("the same people (coordinates, values) from ours and the loop baseline on every image")
    if args.json:
        payload = {
            "setting": {"images": args.images, "people": n_people, "keypoints": K, "tag_dim": T},
            "rows": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=args.json.parent, delete=False, suffix=".tmp") as fh:
            json.dump(payload, fh, indent=2)
        os.replace(fh.name, args.json)


if __name__ == "__main__":
    main()
