"""``python -m reproduce [--quick]``: the paper's experiments at CPU scale, in every framework, behind the gate.

Order: probe each framework's interpreter (version, CLI) -> the conformance gate (refuses, naming the failing
check, before anything is trained or written) -> generate the synthetic data -> pretrain the backbone (reference
framework, converted to canonical safetensors) -> train and evaluate every unique run through the framework CLIs
(skipping finished ones) -> the MPII and bottom-up AE rows (full scale only, :mod:`reproduce.mpii`,
:mod:`reproduce.ae`) -> PCK, error types,
complexity -> the gate again -> ``results/<commit>/`` (results.json, tables.md, fig1/fig5/fig7 PNGs) and
``benchmarks/reproduce/<scale>.json`` (wall time per experiment per framework).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from enhancenet_core.config import Config
from enhancenet_runtime.engine.io import atomic_write_json, atomic_write_text
from enhancenet_runtime.engine.logs import progress_bar
from enhancenet_runtime.gate import ConformanceGateError, current_commit
from reproduce.experiments import FRAMEWORKS, SCALES, EvalRun, Grid, Scale, TrainRun, build_grid
from reproduce.gatecheck import check_gate
from reproduce.pck import COCO_GROUPS, ground_truth_for, load_predictions, median_error, pck_curve
from reproduce.runner import DISTRIBUTION, ROOT, FrameworkInfo, RunFailed, Runner, default_python, ensure_data

__all__ = ["collect", "main"]

REPORT_ENV = "ENHANCENET_CONFORMANCE_REPORT"  # the gate's report override: never publishes into results/
PCK_THRESHOLDS = np.round(np.arange(0.0, 0.3001, 0.01), 4)
FIG1_JOINT = 15  # left ankle, as in the paper's Fig. 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke test: tiny models, 2 steps, every code path")
    p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    for fw in FRAMEWORKS:
        p.add_argument(f"--{fw}-python", default=None,
                       help=f"interpreter with enhancenet_{fw} (default: $ENHANCENET_{fw.upper()}_PYTHON, the nox "
                            f"env-{fw} virtualenv in .nox/, or this interpreter)")
    p.add_argument("--report", type=Path, default=None,
                   help="conformance report (default conformance/report.json); a non-default report may only "
                        "publish outside the repository's results/")
    p.add_argument("--allow-dirty", action="store_true",
                   help="development: accept uncommitted changes (never into the repository's results/)")
    p.add_argument("--results-root", type=Path, default=ROOT / "results")
    p.add_argument("--work-dir", type=Path, default=None, help="runs and data (default runs/reproduce/<scale>)")
    p.add_argument("--bench-dir", type=Path, default=ROOT / "benchmarks" / "reproduce")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--plan", action="store_true", help="check the gate, print the runs, run nothing")
    return p


def _complexity(run: TrainRun, paper_scale: bool) -> dict[str, int] | None:
    from enhancenet_core.complexity import feature_channels, head_complexity
    from enhancenet_core.config import load_config, shipped_config_path

    if not run.variant.has_head:
        return None
    if paper_scale:
        cfg = load_config(shipped_config_path("coco_simplebaseline_r50_256x192_enhancenet"), [
            f"{k}={v}" for k, v in run.variant.overrides])
    else:
        cfg = _run_config(run)
    hc = head_complexity(cfg.model, feature_channels(cfg.model.base))
    return {"params": hc.params, "flops": hc.flops}


@functools.cache
def _run_config(run: TrainRun) -> Config:
    """The config ``run`` trains with (loaded once per run: every evaluation of it reads it)."""
    from enhancenet_core.config import load_config, shipped_config_path

    return load_config(shipped_config_path(run.config), [f"{k}={v}" for k, v in run.overrides])


def _lr_rows(run: TrainRun) -> int:
    """Rows of M^LR for ``run`` (input height / heat-map stride)."""
    cfg = _run_config(run)
    return cfg.model.input_size[1] // cfg.model.heatmap_stride


def _pck(eval_dir: Path, ann_file: Path, lr_rows: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    pred = load_predictions(eval_dir)
    gt, vis, size = ground_truth_for(ann_file, pred["image_id"], pred["center"])
    table = pck_curve(pred["preds"], gt, vis, size, PCK_THRESHOLDS)
    # one LR heat-map pixel in image pixels: the crop height (scale is in units of pixel_std = 200) / LR rows
    lr_pixel = np.asarray(pred["scale"], dtype=np.float64)[:, 1] * 200.0 / lr_rows
    point = {"PCK@0.05": table.at(0.05), "PCK@0.1": table.at(0.1),
             "median_error_lr_px": median_error(pred["preds"], gt, vis, lr_pixel)}
    curves = {"mean": table.mean().tolist(), **{g: table.mean(j).tolist() for g, j in COCO_GROUPS.items()}}
    return point, curves


def collect(grid: Grid, runner: Runner, data_root: Path, frameworks: dict[str, FrameworkInfo],
            failures: dict[str, str]) -> dict[str, Any]:
    """Every number of every evaluation that ran (and the reason for those that did not)."""
    ann = data_root / "annotations" / "person_keypoints_val.json"
    evals: dict[str, Any] = {}
    for ev in grid.evals:
        base = {"name": ev.name, "framework": ev.train.framework, "version": frameworks[ev.train.framework].version,
                "variant": ev.train.variant.name, "seed": ev.train.seed, "decoder": ev.decoder, "maps": ev.maps,
                "overrides": [list(o) for o in (*ev.train.overrides, *ev.overrides)], "train_key": ev.train.key,
                "complexity": _complexity(ev.train, False), "complexity_paper_scale": _complexity(ev.train, True)}
        if ev.key in failures or ev.train.key in failures:
            evals[ev.key] = {**base, "status": "not run: " + failures.get(ev.key, failures.get(ev.train.key, ""))}
            continue
        rec = json.loads((runner.eval_dir(ev) / "results.json").read_text())
        coco = rec["metrics"]["coco"]
        point, curves = _pck(runner.eval_dir(ev), ann, _lr_rows(ev.train))
        train_rec = json.loads((runner.train_dir(ev.train) / "run.json").read_text())
        wall = runner.eval_dir(ev) / "wall.json"
        evals[ev.key] = {
            **base, "status": "ok",
            "metrics": {"AP": coco["AP"], "AP50": coco["AP50"], "AP75": coco["AP75"], "AR": coco["AR"], **point},
            "coco": coco, "pck_thresholds": PCK_THRESHOLDS.tolist(), "pck_curves": curves,
            "train_seconds": train_rec["seconds"],
            "eval_seconds": json.loads(wall.read_text())["seconds"] if wall.is_file() else None,
            "results_file": rec["metrics"].get("results_file"), "eval_dir": str(runner.eval_dir(ev)),
        }
    return evals


def _error_types(grid: Grid, results: dict[str, Any], ann_file: Path, table: str = "table4") -> dict[str, Any]:
    """Fig. 7's numbers: the change in error-type frequencies, +EnhanceNet minus base, per seed of ``table``'s
    pair in the reference framework (mean and std over seeds)."""
    from enhancenet_core.metrics.errors import ERROR_TYPES, analyze_keypoint_errors, compare_error_frequencies

    ref = grid.reference_framework
    pairs = {e["variant"]: e["evals"] for e in results["experiments"]
             if e["table"] == table and e["framework"] == ref}
    changes, freqs = [], {"base": [], "enhancenet": []}
    for kb, ke in zip(pairs.get("base", []), pairs.get("enhancenet", []), strict=False):
        rb, re_ = results["evals"][kb], results["evals"][ke]
        if rb["status"] != "ok" or re_["status"] != "ok":
            continue
        before = analyze_keypoint_errors(ann_file, rb["results_file"])
        after = analyze_keypoint_errors(ann_file, re_["results_file"])
        changes.append(compare_error_frequencies(before, after))
        freqs["base"].append(before.frequencies)
        freqs["enhancenet"].append(after.frequencies)
    if not changes:
        return {"status": "not run: no finished base/+EnhanceNet pair"}
    names = [t.value for t in ERROR_TYPES]
    arr = np.asarray([[c[n] for n in names] for c in changes])
    return {"status": "ok", "framework": ref, "seeds": len(changes), "types": names,
            "change_mean": dict(zip(names, arr.mean(0).tolist(), strict=True)),
            "change_std": dict(zip(names, (arr.std(0, ddof=1) if len(arr) > 1 else 0 * arr[0]).tolist(),
                                   strict=True)),
            "frequencies": freqs}


def _figures(grid: Grid, results: dict[str, Any], out: Path, runner: Runner, data_root: Path) -> list[str]:
    from reproduce.figures import plot_error_change, plot_pck_curves

    written: list[str] = []
    ref = grid.reference_framework
    curves: dict[str, dict[str, np.ndarray]] = {}
    steps = {"table4": f"{results['scale']['max_steps']} steps",
             "table4_long": (results["scale"].get("long_schedule") or {}).get("short", "longer")}
    for e in results["experiments"]:
        if e["table"] not in steps or e["framework"] != ref:
            continue
        ok = [results["evals"][k] for k in e["evals"] if results["evals"][k]["status"] == "ok"]
        if ok:
            curves[f"{e['label']}, {steps[e['table']]} ({len(ok)} seeds)"] = {
                g: np.mean([r["pck_curves"][g] for r in ok], axis=0) for g in ("head", "ankle", "mean")}
    if curves:
        plot_pck_curves(PCK_THRESHOLDS, curves, out / "fig5_pck_curves.png",
                        title=f"Fig. 5 in small ({ref}, synthetic val): PCK vs threshold")
        written.append("fig5_pck_curves.png")
    for key, name, what in (("error_types", "fig7_error_types.png", steps["table4"]),
                            ("error_types_long", "fig7_error_types_long.png", steps["table4_long"])):
        et = results.get(key) or {}
        if et.get("status") == "ok":
            plot_error_change(et["change_mean"], out / name, spread=et["change_std"],
                              title=f"Fig. 7 in small ({ref}, {what}, {et['seeds']} seeds): +EnhanceNet minus base")
            written.append(name)
    if (results.get("mpii") or {}).get("rows"):
        from reproduce.mpii import render_fig5

        render_fig5(results["mpii"]["rows"], out / "fig5_mpii.png")
        written.append("fig5_mpii.png")
    sources = {"fig1_lr_hr.png": results.get("fig1_source"),
               "sanity_panel.png": (results.get("sanity") or {}).get("path")}
    for name, source in sources.items():
        if source and Path(source).is_file():
            shutil.copyfile(source, out / name)
            written.append(name)
    return written


def _fig1(grid: Grid, runner: Runner, data_root: Path, failures: dict[str, str]) -> str | None:
    # the reference framework's +EnhanceNet model, the longest-trained one when there is a longer schedule
    candidates = [ev.train for ev in grid.evals if ev.train.framework == grid.reference_framework
                  and ev.train.variant.name == "enhancenet"]
    ref = max(candidates, key=lambda t: t.tag == "long", default=None)  # max keeps the first: the first seed
    if ref is None or ref.key in failures:
        return None
    ann = json.loads((data_root / "annotations" / "person_keypoints_val.json").read_text())
    a = max(ann["annotations"], key=lambda x: (x["keypoints"][3 * FIG1_JOINT + 2] > 0, x["area"]))
    img = next(i for i in ann["images"] if i["id"] == a["image_id"])
    out = runner.work_dir / "fig1" / f"{ref.key}.png"
    if not out.is_file():
        try:
            runner.predict(ref, data_root, data_root / "images" / "val" / img["file_name"], a["bbox"], FIG1_JOINT, out)
        except RunFailed as exc:
            failures["fig1"] = str(exc)
            return None
    return str(out)


def _pretrain_summary(grid: Grid, scale: Scale, runner: Runner, record: dict[str, Any] | None,
                      failures: dict[str, str]) -> dict[str, Any] | None:
    """What initialised the backbones: the pretraining run, its data, wall time and the weights file."""
    if grid.pretrain is None or scale.pretrain is None:
        return None
    run = grid.pretrain
    out: dict[str, Any] = {"name": run.name, "key": run.key, "framework": run.framework, "seed": run.seed,
                           "data": vars(scale.pretrain.data), "max_steps": run.max_steps,
                           "overrides": [list(o) for o in run.overrides], "weights": str(runner.backbone(run)),
                           "scope": dict(scale.overrides).get("model.base.pretrained_scope", "backbone")}
    if record is None:
        return {**out, "status": "not run: " + failures.get(run.key, "")}
    return {**out, "status": "ok", "train_seconds": record["seconds"], "convert_seconds": record["convert_seconds"]}


def _bench(results: dict[str, Any], scale: Scale) -> dict[str, Any]:
    rows = []
    for rec in results["evals"].values():
        if rec["status"] == "ok":
            rows.append({"name": rec["name"], "framework": rec["framework"], "version": rec["version"],
                         "train_seconds": rec["train_seconds"], "eval_seconds": rec["eval_seconds"]})
    per_fw: dict[str, float] = {}
    seen: set[str] = set()
    for rec in results["evals"].values():
        if rec["status"] == "ok" and rec["train_key"] not in seen:
            seen.add(rec["train_key"])
            per_fw[rec["framework"]] = per_fw.get(rec["framework"], 0.0) + rec["train_seconds"]
    pre = results.get("pretrain")
    pretrain = None
    if pre and pre["status"] == "ok":
        pretrain = {"name": pre["name"], "framework": pre["framework"], "train_seconds": pre["train_seconds"],
                    "convert_seconds": pre["convert_seconds"]}
    cpn = results.get("pretrain_cpn")
    return {"scale": scale.name, "commit": results["commit"], "created": results["created"],
            "pretrain": pretrain, "pretrain_cpn_seconds": (cpn or {}).get("train_seconds"),
            "train_seconds_per_framework": per_fw, "seconds_per_part": _seconds_per_part(results),
            "frozen_seconds": ((results.get("frozen") or {}).get("settings") or {}).get("seconds"),
            "wall_seconds_total": results["wall_seconds"], "runs": rows}


def _seconds_per_part(results: dict[str, Any]) -> dict[str, float]:
    """Training + evaluation seconds of the runs each table reads (a run shared by two tables counts in each;
    a table's cached runs count with the seconds they took when they ran)."""
    out: dict[str, float] = {}
    for table in dict.fromkeys(e["table"] for e in results["experiments"]):
        trains: dict[str, float] = {}
        evals = 0.0
        for e in results["experiments"]:
            if e["table"] != table:
                continue
            for key in e["evals"]:
                rec = results["evals"].get(key, {})
                if rec.get("status") == "ok":
                    trains[rec["train_key"]] = rec["train_seconds"] or 0.0
                    evals += rec["eval_seconds"] or 0.0
        out[table] = round(sum(trains.values()) + evals, 1)
    for part in ("mpii", "ae"):
        if (results.get(part) or {}).get("seconds") is not None:
            out[part] = results[part]["seconds"]
    return out


def _frozen(scale: Scale, grid: Grid, runner: Runner, data_root: Path, failures: dict[str, str]
            ) -> dict[str, Any] | None:
    """The frozen-base experiment (PyTorch only, on the scale's pretrained base), scored; None without one."""
    from reproduce.frozen import run_frozen, score_frozen

    if scale.frozen is None or grid.pretrain is None:
        return None
    if "torch" not in runner.pythons:
        return {"status": "not run: PyTorch is not among the frameworks that run"}
    if grid.pretrain.key in failures:
        return {"status": "not run: the pretraining failed"}
    try:
        out = run_frozen(runner, grid.pretrain, scale.frozen, data_root)
    except RunFailed as exc:
        failures["frozen"] = str(exc)
        return {"status": "not run: " + str(exc).splitlines()[0]}
    cfg = _run_config(grid.pretrain)
    return score_frozen(out, data_root / "annotations" / "person_keypoints_val.json",
                        cfg.model.input_size[1] // cfg.model.heatmap_stride)


def _mpii(scale: Scale, runner: Runner, work: Path, failures: dict[str, str]) -> dict[str, Any]:
    """The MPII rows (hourglass, DLCM; torch) at full scale; the quick scale records "full run only"."""
    from reproduce.mpii import FULL_MPII, run_mpii

    if scale.name != "full":
        print("reproduce: mpii: full run only")
        return {"status": "not run: full run only (the quick scale leaves the MPII trainings out)", "rows": []}
    return run_mpii(runner, FULL_MPII, work, failures)


def _ae(scale: Scale, runner: Runner, work: Path, failures: dict[str, str]) -> dict[str, Any]:
    """Table 4's bottom-up AE rows (torch) at full scale; the quick scale records "full run only"."""
    from reproduce.ae import FULL_AE, run_ae

    if scale.name != "full":
        print("reproduce: ae: full run only")
        return {"status": "not run: full run only (the quick scale leaves the AE trainings out)", "rows": []}
    return run_ae(runner, FULL_AE, work, failures)


def _has_numpy_ref(python: str) -> bool:
    """Whether ``python`` can import numpy-ref (the re-run's reference); else the gate uses a framework's."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('enhancenet_numpy') is None)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    scale = SCALES["quick" if args.quick else "full"]
    repo_results = (ROOT / "results").resolve()
    into_repo = args.results_root.resolve() == repo_results
    if (args.report is not None or args.allow_dirty or os.environ.get(REPORT_ENV)) and into_repo:
        print(f"reproduce: refused: --report / --allow-dirty / {REPORT_ENV} may not publish into the repository's "
              "results/ (give --results-root elsewhere)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    frameworks: dict[str, FrameworkInfo] = {}
    for fw in args.frameworks:
        from reproduce.runner import probe_framework

        frameworks[fw] = probe_framework(fw, getattr(args, f"{fw}_python") or default_python(fw))
    usable = [fw for fw, info in frameworks.items() if info.usable]
    versions = {DISTRIBUTION[fw]: frameworks[fw].version for fw in usable}
    try:
        commit = current_commit(ROOT)
        pythons = None if args.plan else {fw: frameworks[fw].python for fw in usable}
        if pythons is not None and _has_numpy_ref(default_python("numpy")):
            pythons["numpy"] = default_python("numpy")
        gate = check_gate(args.report, commit, versions, usable, ROOT, allow_dirty=args.allow_dirty,
                          pythons=pythons)
    except ConformanceGateError as exc:
        print(f"reproduce: refused by the conformance gate: {exc}", file=sys.stderr)
        return 2
    if into_repo and not gate.report.official:
        print("reproduce: refused: only the repository's own conformance/report.json may publish into results/",
              file=sys.stderr)
        return 2
    status = {fw: ("not run: " + info.reason) if not info.usable else
              ("not run: " + gate.excluded[fw]) if fw in gate.excluded else "run"
              for fw, info in frameworks.items()}
    run_fws = [fw for fw in usable if fw not in gate.excluded]
    for fw, st in status.items():
        print(f"reproduce: {fw} ({frameworks[fw].python}): {st}")
    if not run_fws:
        print("reproduce: refused: no framework can run (see above)", file=sys.stderr)
        return 2
    grid = build_grid(scale, run_fws)
    print(f"reproduce: {scale.name} scale: {len(grid.trains)} trainings, {len(grid.evals)} evaluations")
    if args.plan:
        for pre in grid.pretrains:
            print(f"  {pre.key}  pretrain {pre.name} (whose weights its runs start from)")
        for ev in grid.evals:
            print(f"  {ev.key}  {ev.name}")
        return 0

    work = args.work_dir or ROOT / "runs" / "reproduce" / scale.name
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(work, {fw: frameworks[fw].python for fw in run_fws}, threads=args.threads,
                    log=lambda line: None)
    data_root = ensure_data(scale.data, work)
    failures: dict[str, str] = {}
    jobs: list[TrainRun | EvalRun] = [*grid.trains, *grid.evals]
    bar = progress_bar(total=len(jobs) + len(grid.pretrains), desc=f"reproduce ({scale.name})")
    pretrain_records: dict[str, dict[str, Any]] = {}
    for pre in grid.pretrains:  # the scale's base model, then CPN's when the scale has a CPN pair
        bar.set_postfix_str(f"pretrain {pre.name}") if hasattr(bar, "set_postfix_str") else None
        try:
            pretrain_records[pre.key] = runner.pretrain(pre, ensure_data(pre.data, work))
        except RunFailed as exc:
            failures[pre.key] = str(exc)
            print(f"FAILED backbone pretraining {pre.name}: {exc}", file=sys.stderr)
        bar.update(1)
    pretrain_record = pretrain_records.get(grid.pretrain.key) if grid.pretrain is not None else None
    for job in jobs:
        bar.set_postfix_str(job.name) if hasattr(bar, "set_postfix_str") else None
        try:
            if isinstance(job, TrainRun):
                if job.pretrain is not None and job.pretrain.key in failures:
                    failures[job.key] = f"backbone pretraining failed ({job.pretrain.name})"
                else:
                    runner.train(job, data_root)
            elif job.train.key in failures:
                failures[job.key] = f"training failed ({job.train.name})"
            else:
                runner.evaluate(job, data_root)
        except RunFailed as exc:
            failures[job.key] = str(exc)
            bar.write(f"FAILED {job.name}: {exc}") if hasattr(bar, "write") else print(f"FAILED {job.name}: {exc}")
        bar.update(1)
    bar.close()
    fig1 = _fig1(grid, runner, data_root, failures)
    if scale.name == "full":
        from reproduce.sanity import sanity_panel

        sanity = sanity_panel(grid, runner, data_root, runner.work_dir / "sanity" / "panel.png", failures)
    else:
        print("reproduce: sanity panel: full run only")
        sanity = {"status": "not run: full run only (8 predictions do not fit the quick scale)", "images": []}
    frozen = _frozen(scale, grid, runner, data_root, failures)
    mpii = _mpii(scale, runner, work, failures)
    ae = _ae(scale, runner, work, failures)

    results: dict[str, Any] = {
        "format": "enhancenet-reproduce-results", "format_version": 1, "commit": gate.commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "conformance_report": {"path": str(gate.report.path), "created": gate.report.created,
                               "commit": gate.report.commit},
        "scale": {"name": scale.name, "why": scale.why, "seeds": list(scale.seeds), "data": vars(scale.data),
                  "overrides": [list(o) for o in scale.overrides], "max_steps": scale.max_steps,
                  "long_schedule": None if scale.long_schedule is None else {
                      "overrides": [list(o) for o in scale.long_schedule.overrides],
                      "max_steps": scale.long_schedule.max_steps, "label": scale.long_schedule.label,
                      "short": scale.long_schedule.short}},
        "frameworks": {fw: {"version": info.version, "python": info.python, "status": status[fw]}
                       for fw, info in frameworks.items()},
        "reference_framework": grid.reference_framework,
        "pretrain": _pretrain_summary(grid, scale, runner, pretrain_record, failures),
        "pretrain_cpn": None if grid.cpn_pretrain is None else {
            "name": grid.cpn_pretrain.name, "key": grid.cpn_pretrain.key, "max_steps": grid.cpn_pretrain.max_steps,
            "overrides": [list(o) for o in grid.cpn_pretrain.overrides],
            "status": "ok" if grid.cpn_pretrain.key in pretrain_records else
                      "not run: " + failures.get(grid.cpn_pretrain.key, ""),
            "train_seconds": pretrain_records.get(grid.cpn_pretrain.key, {}).get("seconds")},
        "experiments": [{"table": e.table, "label": e.label, "framework": e.framework, "variant": e.variant.name,
                         "decoder": e.evals[0].decoder, "maps": e.evals[0].maps,
                         "evals": [ev.key for ev in e.evals]} for e in grid.experiments],
        "not_run": [f"{fw}: {st}" for fw, st in status.items() if st != "run"]
                   + [f"{k}: {v.splitlines()[0]}" for k, v in failures.items()],
        "fig1_source": fig1,
        "frozen": frozen,
        "mpii": mpii,
        "ae": ae,
        "sanity": sanity,
    }
    results["evals"] = collect(grid, runner, data_root, frameworks, failures)
    ann_file = data_root / "annotations" / "person_keypoints_val.json"
    results["error_types"] = _error_types(grid, results, ann_file)
    if any(e.table == "table4_long" for e in grid.experiments):
        results["error_types_long"] = _error_types(grid, results, ann_file, table="table4_long")
    results["wall_seconds"] = round(time.perf_counter() - start, 1)
    results["head_at_end"] = current_commit(ROOT)

    try:  # again: nothing under results/ without a passing report for the commit the runs started from
        check_gate(args.report, gate.commit, versions, run_fws, ROOT, allow_dirty=args.allow_dirty)
    except ConformanceGateError as exc:
        print(f"reproduce: refused by the conformance gate at the end: {exc}", file=sys.stderr)
        return 2
    from reproduce.tables import comparisons, comparisons_json, render_tables

    results["statistics"] = comparisons_json(comparisons(results))

    out = args.results_root / gate.commit
    out.mkdir(parents=True, exist_ok=True)
    results["figures"] = _figures(grid, results, out, runner, data_root)
    atomic_write_text(out / "tables.md", render_tables(results))
    atomic_write_json(out / "results.json", results)
    atomic_write_json(args.bench_dir / f"{scale.name}.json", _bench(results, scale))
    print(f"reproduce: wrote {out}/ (results.json, tables.md, {', '.join(results['figures'])}) in "
          f"{results['wall_seconds']:.0f} s; {len(failures)} failures")
    for key, why in failures.items():  # the results name them too ("not_run"); a smoke test must not pass them
        print(f"reproduce: failed: {key}: {why.splitlines()[0] if why else ''}", file=sys.stderr)
    return 1 if failures else 0
