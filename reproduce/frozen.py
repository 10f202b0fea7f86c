"""The frozen-base experiment (issue 18, item 2), framework-free half: run it, score it, render it.

The scale's pretrained base (the one every grid run starts from) is frozen; :mod:`reproduce.frozen_torch` caches
its F^LR and M^LR once and trains a fresh EnhanceNet head alone on them for each seed, writing the val predictions
decoded from each head's M^HR and from the base's M^LR. Here each seed's HR-decoded keypoints are compared with the
LR-decoded keypoints of the same base: a paired t test over the head seeds of HR minus LR (the LR side is one
number, the base being frozen, so the interval holds the head-seed spread, not the spread of bases or data; the
per-keypoint test beside it holds the spread over the val keypoints for the first seed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reproduce.experiments import Frozen, TrainRun, _digest
from reproduce.pck import ground_truth_for, median_error, pck_curve
from reproduce.runner import ROOT, Runner
from reproduce.stats import holm, paired_t

__all__ = ["FROZEN_METRICS", "frozen_key", "frozen_seconds", "render_frozen", "run_frozen", "score_frozen"]

FROZEN_METRICS: tuple[str, ...] = ("PCK@0.05", "PCK@0.1", "median_error_lr_px")


def frozen_key(pretrain: TrainRun, spec: Frozen) -> str:
    """Content hash of the experiment: the base (its pretraining's key) and every setting of ``spec``."""
    return _digest({"pretrain": pretrain.key, "spec": [list(spec.seeds), spec.steps, spec.batch, spec.patch, spec.lr]})


def run_frozen(runner: Runner, pretrain: TrainRun, spec: Frozen, data_root: Path) -> Path:
    """Run :mod:`reproduce.frozen_torch` in the torch interpreter unless its ``frozen.npz`` exists; its directory.

    The head is the base config's (+ the pretraining's scale overrides) with the head enabled; the base's weights
    are :meth:`Runner.backbone` of ``pretrain`` (whole base: ``model.base.pretrained_scope: base``).
    """
    out = runner.work_dir / "frozen" / frozen_key(pretrain, spec)
    if (out / "frozen.npz").is_file():
        return out
    sets = [("model.head.enabled", "true"), ("model.base.pretrained", str(runner.backbone(pretrain))),
            ("model.base.pretrained_scope", "base"), ("data.root", str(data_root))]
    skip = {k for k, _ in sets} | {"train.seed"}
    overrides = [(k, v) for k, v in pretrain.overrides if k not in skip] + sets
    cmd = [runner.pythons["torch"], "-m", "reproduce.frozen_torch", pretrain.config,
           *[a for k, v in overrides for a in ("--set", f"{k}={v}")],
           "--seeds", *map(str, spec.seeds), "--steps", str(spec.steps), "--batch", str(spec.batch),
           "--patch", str(spec.patch), "--lr", str(spec.lr), "--threads", str(runner.threads), "--out", str(out)]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    seconds = runner._run(cmd, out / "frozen.log", env={"PYTHONPATH": path})
    runner.log(f"frozen-base experiment in {seconds:.0f} s")
    return out


def _metrics(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray, size: np.ndarray, lr_px: np.ndarray
             ) -> dict[str, float]:
    table = pck_curve(pred, gt, vis, size, (0.05, 0.1))
    return {"PCK@0.05": 100.0 * table.at(0.05), "PCK@0.1": 100.0 * table.at(0.1),
            "median_error_lr_px": median_error(pred, gt, vis, lr_px)}


def score_frozen(out_dir: Path, ann_file: Path, lr_rows: int) -> dict[str, Any]:
    """Per-seed metrics of HR-decoded and LR-decoded val keypoints, and the paired tests of HR minus LR.

    Returns a JSON-ready dict: ``settings`` (``frozen.json``), ``lr`` (metrics of M^LR), ``hr`` (metric -> one
    value per seed), ``tests`` (metric -> paired t over seeds, with Holm's adjusted p over the three metrics) and
    ``keypoint_test`` (the first seed: paired t over the labelled val keypoints of their error in LR px, HR minus
    LR).
    """
    with np.load(out_dir / "frozen.npz") as npz:
        data = {k: npz[k] for k in npz.files}
    settings = json.loads((out_dir / "frozen.json").read_text())
    gt, vis, size = ground_truth_for(ann_file, data["image_id"], data["center"])
    lr_px = np.asarray(data["scale"], dtype=np.float64)[:, 1] * 200.0 / lr_rows
    lr = _metrics(data["preds_lr"], gt, vis, size, lr_px)
    hr: dict[str, list[float]] = {m: [] for m in FROZEN_METRICS}
    for preds in data["preds_hr"]:
        for m, v in _metrics(preds, gt, vis, size, lr_px).items():
            hr[m].append(v)
    tests = {m: paired_t([lr[m]] * len(hr[m]), hr[m]) for m in FROZEN_METRICS}
    adjusted = holm([t.p for t in tests.values()])
    mask = np.asarray(vis) > 0

    def err(p: np.ndarray) -> np.ndarray:
        return (np.linalg.norm(np.asarray(p, dtype=np.float64)[..., :2] - gt, axis=-1) / lr_px[:, None])[mask]

    kp = paired_t(err(data["preds_lr"]), err(data["preds_hr"][0]))
    return {"status": "ok", "settings": settings, "lr": lr, "hr": hr,
            "tests": {m: {**_test_json(t), "p_holm": _num(a), "describe": t.describe()}
                      for (m, t), a in zip(tests.items(), adjusted, strict=True)},
            "keypoint_test": {**_test_json(kp), "describe": kp.describe(" LR px")}}


def _num(v: float) -> float | None:
    return None if v != v else float(v)  # NaN -> null (strict JSON)


def _test_json(t: Any) -> dict[str, Any]:
    return {"n": t.n, "mean": _num(t.mean), "ci": [_num(t.ci[0]), _num(t.ci[1])], "p": _num(t.p),
            "significant": bool(t.significant)}


def render_frozen(section: Mapping[str, Any] | None) -> list[str]:
    """The frozen-base section of ``tables.md`` (nothing when the scale has no such experiment)."""
    if not section:
        return []
    lines = ["## Frozen base: the head alone, HR-decoded vs LR-decoded on the same base (PyTorch)", ""]
    if section.get("status") != "ok":
        return [*lines, f"Not run: {section.get('status', '')}", ""]
    s = section["settings"]
    lines += [f"The pretrained base is frozen; its F^LR and M^LR of {s['train_instances']} training and "
              f"{s['val_instances']} val instances are computed once (no augmentation, no flip test) and a fresh "
              f"head (L=3, C=128, r=4) is trained alone on them: {s['steps']} steps of {s['batch']} crops "
              f"({s['patch']}x{s['patch']} LR px around a labelled joint, Adam lr {s['lr']:g}) per seed, "
              f"{len(s['seeds'])} seeds. Both columns decode with argmax + ¼ px; the only difference is the head. "
              "Intervals: paired t over head seeds of HR minus LR (the LR side is one number, the base being "
              "frozen: the interval holds the spread of head seeds, not of bases or data), Holm over the three "
              "metrics.", "",
              "| metric | M^LR (base) | M^HR (head), mean ± std over seeds | HR − LR [95 % CI] (paired t) | "
              "p (Holm) | verdict |", "|---|---|---|---|---|---|"]
    for m in FROZEN_METRICS:
        t, vals = section["tests"][m], np.asarray(section["hr"][m])
        lower_better = m == "median_error_lr_px"
        verdict = ("no interval" if t["p"] is None else
                   "no significant difference" if not t["significant"] else
                   "the head helps" if (t["mean"] < 0) == lower_better else "the head hurts")
        sd = f" ± {vals.std(ddof=1):.2f}" if vals.size > 1 else ""
        p = "n/a" if t["p_holm"] is None else f"{t['p_holm']:.3g}"
        lines.append(f"| {m} | {section['lr'][m]:.2f} | {vals.mean():.2f}{sd} | {t['describe']} | {p} | {verdict} |")
    lines += ["", f"Per keypoint (seed {s['seeds'][0]}, labelled val keypoints): error HR − LR "
              f"{section['keypoint_test']['describe']}.", ""]
    return lines


def frozen_seconds(section: Mapping[str, Any] | None) -> float | None:
    """Wall seconds of the torch process (caching + every seed), for the benchmarks file."""
    return None if not section or section.get("status") != "ok" else section["settings"]["seconds"]
