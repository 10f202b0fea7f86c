"""Table 4's bottom-up rows in small: Associative Embedding (pose-ae-train's stacked hourglass), base vs
+EnhanceNet on the detection branch, on synthetic multi-person scenes (:mod:`enhancenet_runtime.data.synthetic_multi`:
several people per image, overlaps, people cut by the border, crowd regions), in PyTorch over the scale's seeds.

Reported per variant (mean ± std over seeds): bottom-up COCO AP, AP50, AP75 and AR of the whole-image evaluation
(grouping by tags, :mod:`enhancenet_core.bottomup`; the base decodes its 4×-downsampled detection maps, +EnhanceNet
its M^HR at r× that resolution, tags at the LR resolution in both), read from each evaluation's ``results.json``;
the paired (same seed) +EnhanceNet − base difference per metric, 95 % t interval, Holm over the section's 4 tests.

Its runs are ordinary :class:`~reproduce.experiments.TrainRun` / :class:`~reproduce.experiments.EvalRun` with the
shipped AE configs (``coco_ae_hourglass4_512x512_{base,enhancenet}`` made small by overrides), run by
:class:`~reproduce.runner.Runner`: standalone ``python -m reproduce.ae [--quick] [--work DIR] [--out DIR]``, and as
a part of the full ``python -m reproduce`` (:func:`run_ae`, behind its gate; ``--quick`` leaves it out, "full run
only", as it does the MPII rows: 4 more interpreter start-ups do not fit its 5 minutes).

Scale (torch, this 2-core machine): FULL trains 2 variants × 3 seeds = 6 runs of ``max_steps`` steps at 128×128
input (2 stacks, 32 channels, r = 2) on 240 scenes of 128×128 with 1-3 people and evaluates each on the 60 val
scenes with flip test. The wall time is recorded per run in ``benchmarks/reproduce/full.json`` (``seconds_per_part``).
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

__all__ = ["AE_METRICS", "FULL_AE", "QUICK_AE", "AeData", "AeScale", "ae_grid", "ae_metrics", "ae_pretrain",
           "ae_section", "ensure_ae_data", "render_ae_table", "run_ae"]

#: the metrics of the table and of the paired comparisons, in % (COCO's bottom-up summary)
AE_METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "AR")
CONFIG_STEM = "coco_ae_hourglass4_512x512"


@dataclass(frozen=True)
class AeData(DataSpec):
    """The synthetic multi-person scenes: ``num_images`` square images (a quarter of them val), crowd regions."""

    @property
    def key(self) -> str:
        lo, hi = self.people_per_image
        return f"synthetic-multi-{self.num_images}-{self.image_size[0]}-s{self.seed}-p{lo}-{hi}"


@dataclass(frozen=True)
class AeScale:
    """``pretrain_steps`` of the base AE network (no head) on ``pretrain_data`` (other scenes than the
    experiments', so their val images stay unseen), converted to canonical safetensors; every run starts its whole
    AE network from it (``model.base.pretrained_scope: base``; +EnhanceNet's head starts fresh from the run's
    seed) and trains ``max_steps`` more: the plug-in protocol of the top-down tables. None: no pretraining."""

    name: str
    data: AeData
    seeds: tuple[int, ...]
    overrides: tuple[tuple[str, str], ...]
    max_steps: int
    pretrain_data: AeData | None = None
    pretrain_steps: int = 0


def _common(input_size: int, epochs: int, lr: float) -> tuple[tuple[str, str], ...]:
    """The shipped 4-stack, 256-channel, 512×512 network made small (2 stacks of 16 channels, 34 output channels
    a stack: 17 detection + 17 tag maps); Adam without weight decay; pose-ae-train's augmentation without rotation
    (flip, scale 0.75-1.25, translation as it does)."""
    return (("data.dataset", "synthetic"), ("data.train_set", "train"), ("data.test_set", "val"),
            ("model.input_size", f"[{input_size}, {input_size}]"), ("model.base.stages", "2"),
            ("model.base.hourglass_channels", "16"), ("model.base.hourglass_increase", "8"),
            ("model.base.ae_output_channels", "34"), ("train.batch_size", "8"), ("train.lr", str(lr)),
            ("train.workers", "0"), ("train.amp", "false"), ("train.epochs", str(epochs)),
            ("train.lr_steps", f"[{epochs}]"), ("test.batch_size", "8"), ("bottomup.rotation", "0"))


#: 128×128 scenes with 1-2 people, input 128 (32×32 LR maps, 4 image px per LR px; 64×64 M^HR at r = 2): the AE
#: network pretrained for 1200 steps (20 epochs of 480 scenes, lr 2e-3), then each run 150 steps (5 epochs of 240
#: scenes, lr 1e-3). At 64×64 the stick figures' OKS scale (√area, 8-14 px) leaves about 1 px of tolerance
#: against 4 px LR pixels and no keypoint of the pretrained base matched: AP 0.0 (measured)
FULL_AE = AeScale("full", AeData(320, (128, 128), people_per_image=(1, 2)), (0, 1, 2), _common(128, 5, 1e-3), 150,
                  pretrain_data=AeData(640, (128, 128), seed=1, people_per_image=(1, 2)), pretrain_steps=1200)
QUICK_AE = AeScale("quick", AeData(16, (64, 64), people_per_image=(1, 3)), (0,), _common(64, 1, 2e-3), 2,
                   pretrain_data=AeData(16, (64, 64), seed=1, people_per_image=(1, 3)), pretrain_steps=2)


def _variant(head: bool) -> Variant:
    if head:
        return Variant("enhancenet", "+EnhanceNet", (("model.head.channels", "16"), ("model.head.upscale", "2")))
    return Variant("base", "AE (base)", (("model.head.enabled", "false"),))


def ae_pretrain(scale: AeScale, framework: str = "torch") -> TrainRun | None:
    """The scale's base-AE pretraining run (seed 0, no head), or None."""
    if scale.pretrain_data is None:
        return None
    v = _variant(False)
    per_epoch = max(1, scale.pretrain_data.num_images * 3 // 4 // 8)  # 3/4 of the scenes train, batch 8
    epochs = str(-(-scale.pretrain_steps // per_epoch))
    longer = {**dict(scale.overrides), "train.lr": "0.002", "train.epochs": epochs, "train.lr_steps": f"[{epochs}]"}
    return TrainRun(framework, v, 0, (*longer.items(), *v.overrides, ("train.seed", "0")), scale.pretrain_data,
                    scale.pretrain_steps, config=f"{CONFIG_STEM}_base", tag="ae-pretrain")


def ae_grid(scale: AeScale, framework: str = "torch") -> list[tuple[Variant, tuple[EvalRun, ...]]]:
    """(variant, one evaluation per seed), base then +EnhanceNet; each evaluation decodes the model's own maps.
    With a pretraining, every run starts its whole AE network from it."""
    pre = ae_pretrain(scale, framework)
    scope = () if pre is None else (("model.base.pretrained_scope", "base"),)
    rows = []
    for head in (False, True):
        v = _variant(head)
        config = f"{CONFIG_STEM}_{'enhancenet' if head else 'base'}"
        evals = tuple(EvalRun(TrainRun(framework, v, s, (*scale.overrides, *scope, *v.overrides,
                                                         ("train.seed", str(s))),
                                       scale.data, scale.max_steps, config=config, pretrain=pre, tag="ae"))
                      for s in scale.seeds)
        rows.append((v, evals))
    return rows


def ensure_ae_data(spec: AeData, work_dir: Path) -> Path:
    """Generate the synthetic scenes once (deterministic by seed); returns their root."""
    from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco

    root = work_dir / "data" / spec.key
    if not (root / "annotations" / "person_keypoints_val.json").is_file():
        generate_multi_person_coco(root, spec.num_images, spec.seed, spec.image_size, spec.people_per_image,
                                   val_fraction=0.25, overwrite=True)
    return root


def ae_metrics(results: dict[str, Any]) -> dict[str, float]:
    """AP, AP50, AP75, AR in % from a bottom-up evaluation's ``results.json`` (its ``metrics.coco`` block)."""
    coco = results["metrics"]["coco"]
    return {k: 100.0 * float(coco[k]) for k in AE_METRICS}


def _ms(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def render_ae_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown of Table 4's AE rows in small: one row per variant, metrics mean ± std over seeds."""
    lines = ["| method | seeds | AP | AP50 | AP75 | AR |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [_ms([m[k] for m in r["metrics"]]) for k in AE_METRICS]
        lines.append(f"| {r['variant']} | {len(r['metrics'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_ae(runner: Any, scale: AeScale, work: Path, failures: dict[str, str] | None = None) -> dict[str, Any]:
    """Train and evaluate the AE grid with ``runner`` (a :class:`~reproduce.runner.Runner` holding a torch
    interpreter; finished runs are reused) and score it.

    Returns ``{"status": "ok" | "partial: ..." | "not run: ...", "scale", "rows": [{"variant", "metrics": [per
    seed]}], "seconds"}``; ``seconds`` sums each run's training and evaluation time (a cached run counts with the
    time it took when it ran). A failed run is left out of its row and named in ``failures``."""
    from reproduce.runner import RunFailed

    failures = {} if failures is None else failures
    if "torch" not in runner.pythons:
        return {"status": "not run: PyTorch is not among the frameworks that run", "scale": scale.name, "rows": []}
    data_root = ensure_ae_data(scale.data, work)
    rows, seconds, failed = [], 0.0, 0
    pre = ae_pretrain(scale)
    if pre is not None:
        try:
            record = runner.pretrain(pre, ensure_ae_data(scale.pretrain_data, work))
            seconds += float(record["seconds"]) + float(record.get("convert_seconds") or 0.0)
        except RunFailed as exc:  # every run needs it: nothing to score
            failures[pre.key] = str(exc)
            return {"status": f"not run: the AE pretraining failed: {str(exc).splitlines()[0]}", "scale": scale.name,
                    "rows": [], "seconds": round(seconds, 1)}
    for variant, evals in ae_grid(scale):
        metrics = []
        for ev in evals:
            try:
                seconds += float(runner.train(ev.train, data_root)["seconds"])
                record = runner.evaluate(ev, data_root)
            except RunFailed as exc:
                failures[ev.key] = str(exc)
                failed += 1
                continue
            seconds += float(record.get("wall_seconds") or 0.0)
            metrics.append(ae_metrics(record))
        rows.append({"variant": variant.label, "head": variant.has_head, "metrics": metrics})
    status = "ok" if not failed else f"partial: {failed} AE run(s) failed (see not_run); rows over the rest"
    data = {"num_images": scale.data.num_images, "image_size": list(scale.data.image_size),
            "people_per_image": list(scale.data.people_per_image), "max_steps": scale.max_steps,
            "pretrain_steps": scale.pretrain_steps if pre is not None else 0}
    return {"status": status, "scale": scale.name, "rows": [r for r in rows if r["metrics"]], "data": data,
            "seconds": round(seconds, 1)}


def ae_section(result: dict[str, Any] | None) -> list[str]:
    """tables.md's bottom-up section: the table, then +EnhanceNet − base as a paired t over seeds per metric."""
    from reproduce.stats import holm, paired_t

    if not result:
        return []
    title = "## Table 4 in small, bottom-up: Associative Embedding (synthetic multi-person scenes), PyTorch"
    if not result.get("rows"):
        return [title, "", f"Not run: {result['status'].removeprefix('not run: ')}.", ""]
    d = result.get("data") or {}
    lo, hi = d.get("people_per_image", ["?", "?"])
    size = "×".join(str(v) for v in d.get("image_size", ["?"]))
    pre = (f"the AE network pretrained once for {d['pretrain_steps']} steps on other scenes, then every run "
           f"{d['max_steps']} steps from it (the head fresh)" if d.get("pretrain_steps") else "from scratch")
    lines = [title, "", f"Synthetic COCO-format scenes of {size} with {lo}-{hi} people, overlaps, border cuts and "
             f"crowd regions; not COCO; {pre}. Mean ± sample std over seeds; AP in %.",
             *(["", f"Status: {result['status']}."] if result["status"] != "ok" else []), "",
             render_ae_table(result["rows"]), "Paired (same seed) +EnhanceNet − AE, points:", ""]
    by = {bool(r["head"]): r["metrics"] for r in result["rows"]}
    base, enh = by.get(False), by.get(True)
    if not base or not enh or len(base) != len(enh):
        return [*lines, "- no complete pair", ""]
    tests = [(k, paired_t([m[k] for m in base], [m[k] for m in enh])) for k in AE_METRICS]
    adjusted = holm([t.p for _, t in tests])  # Holm over this section's family, apart from the other tables'
    for (name, test), p in zip(tests, adjusted, strict=True):
        holm_p = "n/a" if np.isnan(p) else f"{p:.3f}"
        lines.append(f"- {name}: {test.describe()}, Holm p = {holm_p}: {test.verdict()}")
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    from reproduce.runner import Runner, default_python

    p = argparse.ArgumentParser(prog="python -m reproduce.ae", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one tiny pair, 2 steps (a smoke test)")
    p.add_argument("--work", type=Path, default=Path("reproduce_work"), help="run directory (resumable)")
    p.add_argument("--out", type=Path, default=Path("runs") / "reproduce" / "ae",
                   help="where the table and JSON go (not results/: a standalone part passes no gate)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    scale = QUICK_AE if args.quick else FULL_AE
    start = time.perf_counter()
    work = args.work.resolve()
    failures: dict[str, str] = {}
    result = run_ae(Runner(work, {"torch": default_python("torch")}, threads=args.threads), scale, work, failures)
    if failures:
        print("\n".join(f"FAILED {k}: {v}" for k, v in failures.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    section = "\n".join(ae_section(result))
    (args.out / "ae_tables.md").write_text(section)
    (args.out / "ae_results.json").write_text(json.dumps(result, indent=1))
    print(section + f"\n{result['status']}; reproduce.ae ({scale.name}): {time.perf_counter() - start:.0f} s, "
          f"wrote {args.out}")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
