"""Tables 1 and 3 and Fig. 5 in small: stacked hourglass and DLCM, base vs +EnhanceNet, on synthetic MPII-format
data (:mod:`enhancenet_runtime.data.synthetic_mpii`, head boxes for PCKh), in PyTorch over the scale's seeds.

Reported per model and variant (mean ± std over seeds): PCKh@0.5, the exact PCKh@0.1 and HRNet's legacy "Mean@0.1"
(α = 0.11) under its own name, PCKh@0.1 of the head (upper neck + head top, MPII's "Head"); Fig. 5: PCKh-vs-α of
the head and the ankles, seed-averaged. Metrics are recomputed here from each evaluation's ``predictions.npz``
and the annotations with :func:`enhancenet_core.metrics.pckh.compute_pckh` (the framework's own ``results.json``
holds the same PCKh@0.5).

Its runs are ordinary :class:`~reproduce.experiments.TrainRun` / :class:`~reproduce.experiments.EvalRun` with the
shipped MPII configs (``config``), run by :class:`~reproduce.runner.Runner`: standalone ``python -m reproduce.mpii
[--quick] [--work DIR] [--out DIR]``, and as a part of the full ``python -m reproduce`` (:func:`run_mpii`, behind
its gate; ``--quick`` leaves it out: "full run only", the 4 interpreter start-ups alone would take it past its 5
minutes).

Wall time (torch, this 2-core machine, measured with ``--quick`` and per step, see the README): FULL trains
2 models × 2 variants × 3 seeds = 12 runs of 60 steps at 64x64 (channels 32) and evaluates each on 64 images.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reproduce.experiments import DataSpec, EvalRun, TrainRun, Variant

__all__ = ["FULL_MPII", "MPII_HEAD", "QUICK_MPII", "MpiiData", "MpiiScale", "mpii_grid", "mpii_metrics",
           "mpii_pretrain", "mpii_section", "render_fig5", "render_mpii_table", "run_mpii"]

#: the metrics of the table (and of the paired comparisons), in %
MPII_METRICS: tuple[str, ...] = ("pckh@0.5", "pckh@0.1", "pckh_legacy_hrnet_0.1", "head_pckh@0.1")

#: MPII's "Head" group (upper neck, head top) and the ankles, for Table 3 and Fig. 5
MPII_HEAD: tuple[int, ...] = (8, 9)
MPII_ANKLE: tuple[int, ...] = (0, 5)
MODELS: dict[str, tuple[str, str]] = {  # name -> (config stem, label)
    "hourglass": ("mpii_hourglass_2stage_256x256", "Hourglass (2 stacks)"),
    "dlcm": ("mpii_dlcm_256x256", "DLCM"),
}


@dataclass(frozen=True)
class MpiiData(DataSpec):
    """The synthetic MPII set: ``num_images`` train images and a quarter as many ``valid`` ones, square."""

    @property
    def num_valid(self) -> int:
        return max(4, self.num_images // 4)

    @property
    def key(self) -> str:
        return f"synthetic-mpii-{self.num_images}-{self.image_size[0]}-s{self.seed}"


@dataclass(frozen=True)
class MpiiScale:
    """Per model, ``pretrain_steps`` of its base network (no head) on ``pretrain_data`` (another synthetic set than
    the experiments'), converted to canonical safetensors; each run starts its whole network from it
    (``model.base.pretrained_scope: base``; +EnhanceNet's head fresh from the run's seed) and trains ``max_steps``
    more, the plug-in protocol of the COCO tables. ``pretrain_data`` None: every run from scratch."""

    name: str
    data: MpiiData
    seeds: tuple[int, ...]
    models: tuple[str, ...]
    overrides: tuple[tuple[str, str], ...]
    max_steps: int
    pretrain_data: MpiiData | None = None
    pretrain_steps: int = 0


_COMMON = (("model.input_size", "[64, 64]"), ("model.base.hourglass_channels", "32"), ("train.batch_size", "8"),
           ("train.workers", "0"), ("train.amp", "false"), ("train.epochs", "1"), ("train.lr_steps", "[1]"),
           ("test.batch_size", "32"), ("data.augmentation.rotation_factor", "0"))
#: from scratch, 40 steps left both models near the floor (PCKh@0.5 2-6 %, measured by `python -m reproduce.mpii` at 44b0ca4), so each
#: model is pretrained once for 600 steps (5 epochs of 960 images, lr 1e-3) and every run trains 40 steps from it
FULL_MPII = MpiiScale("full", MpiiData(480, (96, 96)), (0, 1, 2), ("hourglass", "dlcm"), _COMMON, 40,
                      pretrain_data=MpiiData(960, (96, 96), seed=1), pretrain_steps=600)
QUICK_MPII = MpiiScale("quick", MpiiData(16, (80, 80)), (0,), ("dlcm",), _COMMON, 2,
                       pretrain_data=MpiiData(16, (80, 80), seed=1), pretrain_steps=2)


def _variant(head: bool) -> Variant:
    if head:
        return Variant("enhancenet", "+EnhanceNet", (("model.head.channels", "32"),))
    return Variant("base", "base model", (("model.head.enabled", "false"),))


def mpii_pretrain(scale: MpiiScale, model: str, framework: str = "torch") -> TrainRun | None:
    """The scale's pretraining of ``model``'s base network (seed 0, no head), or None."""
    if scale.pretrain_data is None:
        return None
    v = _variant(False)
    epochs = str(-(-scale.pretrain_steps // max(1, scale.pretrain_data.num_images // 8)))  # batch 8
    sets = {**dict(scale.overrides), **dict(v.overrides), "train.lr": "0.001", "train.epochs": epochs,
            "train.lr_steps": f"[{epochs}]", "train.seed": "0"}
    return TrainRun(framework, v, 0, tuple(sets.items()), scale.pretrain_data, scale.pretrain_steps,
                    config=f"{MODELS[model][0]}_base", tag=f"mpii-{model}-pretrain")


def mpii_grid(scale: MpiiScale, framework: str = "torch") -> list[tuple[str, Variant, tuple[EvalRun, ...]]]:
    """(model, variant, one evaluation per seed) for every model of the scale, base then +EnhanceNet; with a
    pretraining, every run of a model starts from that model's pretrained network."""
    rows = []
    for model in scale.models:
        stem = MODELS[model][0]
        pre = mpii_pretrain(scale, model, framework)
        scope = () if pre is None else (("model.base.pretrained_scope", "base"),)
        for head in (False, True):
            v = _variant(head)
            config = f"{stem}_{'enhancenet' if head else 'base'}"
            evals = tuple(EvalRun(TrainRun(framework, v, s, (*scale.overrides, *scope, *v.overrides,
                                                             ("train.seed", str(s))),
                                           scale.data, scale.max_steps, config=config, pretrain=pre,
                                           tag=f"mpii-{model}"))
                          for s in scale.seeds)
            rows.append((model, v, evals))
    return rows


def ensure_mpii_data(spec: MpiiData, work_dir: Path) -> Path:
    """Generate the synthetic MPII set once (deterministic); returns its root."""
    from enhancenet_runtime.data.synthetic_mpii import generate_synthetic_mpii

    root = work_dir / "data" / spec.key
    if not (root / "annot" / "valid.json").is_file():
        generate_synthetic_mpii(root, spec.num_images, spec.num_valid, spec.seed, spec.image_size[0], overwrite=True)
    return root


def mpii_metrics(eval_dir: Path, data_root: Path) -> dict[str, Any]:
    """PCKh@0.5, @0.1, the legacy @0.11, head PCKh@0.1 and the head / ankle curves of one evaluation."""
    from enhancenet_core.metrics.pckh import compute_pckh
    from enhancenet_runtime.data.mpii import load_mpii_records

    with np.load(eval_dir / "predictions.npz") as z:
        preds, index = z["preds"], z["index"]
    recs = load_mpii_records(data_root / "annot" / "valid.json", data_root / "images", check_images=False).records
    recs = [recs[int(i)] for i in index]
    gt = np.stack([r.joints_xy for r in recs])
    vis = np.stack([r.joints_vis for r in recs])
    boxes = np.asarray([r.extras["head_box"] for r in recs], dtype=np.float64).reshape(-1, 2, 2)
    res = compute_pckh(preds[..., :2], gt, vis, head_boxes=boxes)
    summary = res.as_dict()
    counts = res.curve_per_joint  # (T, J) per-joint PCKh on the curve's α grid

    def group_curve(joints: Sequence[int]) -> list[float]:
        return [float(v) for v in np.nanmean(counts[:, list(joints)], axis=1)]

    head_01 = group_curve(MPII_HEAD)[int(np.flatnonzero(np.isclose(res.curve_alphas, 0.1))[0])]
    return {"pckh@0.5": summary["pckh@0.5"], "pckh@0.1": summary["pckh@0.1"],
            "pckh_legacy_hrnet_0.1": summary["pckh_legacy_hrnet_0.1"], "head_pckh@0.1": head_01,
            "alphas": [float(a) for a in res.curve_alphas], "head": group_curve(MPII_HEAD),
            "ankle": group_curve(MPII_ANKLE)}


def _ms(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def render_mpii_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown of Tables 1 / 3 in small: one row per model and variant, metrics mean ± std over seeds."""
    keys = MPII_METRICS
    lines = ["| model | variant | seeds | PCKh@0.5 | PCKh@0.1 (exact) | HRNet legacy Mean@0.1 (α = 0.11) | "
             "Head PCKh@0.1 |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [_ms([m[k] for m in r["metrics"]]) for k in keys]
        lines.append(f"| {MODELS[r['model']][1]} | {r['variant']} | {len(r['metrics'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_fig5(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Fig. 5 in small: seed-mean PCKh-vs-α of the head and the ankles per model and variant (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, group in zip(axes, ("head", "ankle"), strict=True):
        for r in rows:
            curve = np.mean([m[group] for m in r["metrics"]], axis=0)
            ax.plot(r["metrics"][0]["alphas"], curve, ("-" if "Enhance" in r["variant"] else "--"),
                    label=f"{MODELS[r['model']][1]} {r['variant']}")
        ax.set_title(f"PCKh of the {group} (synthetic MPII)")
        ax.set_xlabel("normalized distance α")
        ax.set_ylabel("PCKh (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_mpii(runner: Any, scale: MpiiScale, work: Path, failures: dict[str, str] | None = None) -> dict[str, Any]:
    """Train and evaluate the MPII grid with ``runner`` (a :class:`~reproduce.runner.Runner` holding a torch
    interpreter; finished runs are reused) and score it.

    Returns ``{"status": "ok" | "partial: ..." | "not run: ...", "scale", "rows": [{"model", "variant", "metrics": [per seed]}],
    "seconds"}``; ``seconds`` sums each run's recorded training and evaluation time (cached runs count with the
    time they took when they ran). A failed run is left out of its row and named in ``failures``."""
    from reproduce.runner import RunFailed

    failures = {} if failures is None else failures
    if "torch" not in runner.pythons:
        return {"status": "not run: PyTorch is not among the frameworks that run", "scale": scale.name, "rows": []}
    data_root = ensure_mpii_data(scale.data, work)
    rows, seconds, failed = [], 0.0, 0
    pretrained: dict[str, bool] = {}
    for model in scale.models:
        pre = mpii_pretrain(scale, model)
        if pre is None or scale.pretrain_data is None:
            continue
        try:
            record = runner.pretrain(pre, ensure_mpii_data(scale.pretrain_data, work))
            seconds += float(record["seconds"]) + float(record.get("convert_seconds") or 0.0)
        except RunFailed as exc:  # the model's runs all need it: they are left out below
            failures[pre.key] = str(exc)
            pretrained[model] = False
    for model, variant, evals in mpii_grid(scale):
        metrics = []
        for ev in evals if pretrained.get(model, True) else ():
            try:
                seconds += float(runner.train(ev.train, data_root)["seconds"])
                seconds += float(runner.evaluate(ev, data_root).get("wall_seconds") or 0.0)
            except RunFailed as exc:
                failures[ev.key] = str(exc)
                failed += 1
                continue
            metrics.append(mpii_metrics(runner.eval_dir(ev), data_root))
        rows.append({"model": model, "variant": variant.label, "metrics": metrics})
    failed += sum(len(scale.seeds) * 2 for ok in pretrained.values() if not ok)
    status = "ok" if not failed else f"partial: {failed} MPII run(s) failed (see not_run); rows over the rest"
    return {"status": status, "scale": scale.name,
            "rows": [r for r in rows if r["metrics"]], "seconds": round(seconds, 1)}


def mpii_section(result: dict[str, Any] | None) -> list[str]:
    """tables.md's MPII section: the table, then +EnhanceNet − base per model as a paired t over seeds."""
    from reproduce.stats import holm, paired_t

    if not result:
        return []
    title = "## Tables 1 and 3 in small: MPII (synthetic), hourglass and DLCM, PyTorch"
    if not result.get("rows"):
        return [title, "", f"Not run: {result['status'].removeprefix('not run: ')}.", ""]
    lines = [title, "", "Synthetic MPII-format data (head boxes for PCKh), not MPII. Mean ± sample std over seeds.",
             *(["", f"Status: {result['status']}."] if result["status"] != "ok" else []), "", render_mpii_table(result["rows"]), "Paired (same seed) +EnhanceNet − base, points:", ""]
    by = {(r["model"], "Enhance" in r["variant"]): r["metrics"] for r in result["rows"]}
    tests = []
    for model in dict.fromkeys(r["model"] for r in result["rows"]):
        base, enh = by.get((model, False)), by.get((model, True))
        if not base or not enh or len(base) != len(enh):
            lines.append(f"- {MODELS[model][1]}: no complete pair")
            continue
        tests += [(f"{MODELS[model][1]} {k}", paired_t([m[k] for m in base], [m[k] for m in enh]))
                  for k in MPII_METRICS]
    adjusted = holm([t.p for _, t in tests])  # Holm over this section's family (its own, apart from COCO's)
    for (name, test), p in zip(tests, adjusted, strict=True):
        holm_p = "n/a" if np.isnan(p) else f"{p:.3f}"
        lines.append(f"- {name}: {test.describe()}, Holm p = {holm_p}: {test.verdict()}")
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    from reproduce.runner import Runner, default_python

    p = argparse.ArgumentParser(prog="python -m reproduce.mpii", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one tiny DLCM pair, 2 steps (a smoke test)")
    p.add_argument("--work", type=Path, default=Path("reproduce_work"), help="run directory (resumable)")
    p.add_argument("--out", type=Path, default=Path("runs") / "reproduce" / "mpii",
                   help="where the table and figure go (not results/: a standalone part passes no gate)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the runs (1 on a busy machine)")
    args = p.parse_args(argv)
    scale = QUICK_MPII if args.quick else FULL_MPII
    start = time.perf_counter()
    work = args.work.resolve()
    failures: dict[str, str] = {}
    result = run_mpii(Runner(work, {"torch": default_python("torch")}, threads=args.threads), scale, work, failures)
    if failures:
        print("\n".join(f"FAILED {k}: {v}" for k, v in failures.items()))
    rows = result["rows"]
    args.out.mkdir(parents=True, exist_ok=True)
    table = render_mpii_table(rows)
    (args.out / "mpii_tables.md").write_text(table)
    (args.out / "mpii_results.json").write_text(json.dumps(result, indent=1))
    if rows:
        render_fig5(rows, args.out / "fig5_mpii.png")
    print(table + f"{result['status']}; reproduce.mpii ({scale.name}): {time.perf_counter() - start:.0f} s, "
          f"wrote {args.out}")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
