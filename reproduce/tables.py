"""``tables.md`` from a results set: Tables 4 and 5 in small laid out like the paper, the paper's numbers beside
ours, the spread over seeds, the decoders, and a plain verdict on whether EnhanceNet helped at this scale."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reproduce import paper
from reproduce.ae import ae_section
from reproduce.experiments import TABLE5
from reproduce.frozen import render_frozen
from reproduce.mpii import mpii_section
from reproduce.stats import PairedTest, holm, paired_t

__all__ = ["METRICS", "comparisons", "effect", "paired", "render_tables", "summarize"]

METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "AR", "PCK@0.05", "PCK@0.1")
COCO_COLS: tuple[str, ...] = ("AP", "AP50", "AP75", "AR")


def summarize(results: Mapping[str, Any], keys: Sequence[str], metric: str) -> tuple[float, float, int]:
    """Mean, sample std (0 for one value) and count of ``metric`` (percent) over evaluations that ran."""
    vals = [100.0 * results["evals"][k]["metrics"][metric] for k in keys
            if results["evals"].get(k, {}).get("status") == "ok"]
    if not vals:
        return math.nan, math.nan, 0
    arr = np.asarray(vals, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, int(arr.size)


def _cell(results: Mapping[str, Any], keys: Sequence[str], metric: str) -> str:
    mean, std, n = summarize(results, keys, metric)
    if n == 0:
        reason = next((results["evals"].get(k, {}).get("status", "not run") for k in keys), "not run")
        return "not run" if reason == "ok" else reason.split(":")[0]
    return f"{mean:.1f} ± {std:.1f}" if n > 1 else f"{mean:.1f}"


def _pairs(results: Mapping[str, Any], before: Sequence[str], after: Sequence[str], metric: str
           ) -> tuple[list[float], list[float]]:
    """``metric`` (percent) of the pairs (``before[i]``, ``after[i]``: same seed) where both evaluations ran."""
    a, b = [], []
    for kb, ka in zip(before, after, strict=False):
        rb, ra = results["evals"].get(kb, {}), results["evals"].get(ka, {})
        if rb.get("status") == "ok" and ra.get("status") == "ok":
            a.append(100.0 * rb["metrics"][metric])
            b.append(100.0 * ra["metrics"][metric])
    return a, b


def paired(results: Mapping[str, Any], before: Sequence[str], after: Sequence[str], metric: str
           ) -> PairedTest | None:
    """The paired t test of ``after - before`` over seeds (None when no pair ran)."""
    a, b = _pairs(results, before, after, metric)
    return paired_t(a, b) if a else None


def effect(results: Mapping[str, Any], base: Sequence[str], enh: Sequence[str], metric: str = "AP") -> str:
    """Plain words from the paired 95 % t interval of +EnhanceNet minus base (pairs share the seed): "helps",
    "hurts" or "no significant difference"."""
    test = paired(results, base, enh, metric)
    if test is None:
        return "not measured"
    return f"Δ{metric} {test.describe()}: " + test.verdict("EnhanceNet helps", "EnhanceNet hurts")


STAT_METRICS: tuple[str, ...] = ("AP", "PCK@0.05", "PCK@0.1")
#: Tables whose rows are a base model and models compared with it, per framework, pair by pair over the seeds.
PAIRED_TABLES: tuple[str, ...] = ("table4", "table4_long", "cpn")


def _comparison_pairs(results: Mapping[str, Any]) -> list[tuple[str, str, str, Sequence[str], Sequence[str]]]:
    """(table, framework, what, before keys, after keys) of every paired comparison the tables make."""
    out: list[tuple[str, str, str, Sequence[str], Sequence[str]]] = []
    for table in PAIRED_TABLES:
        by_fw: dict[str, dict[str, Mapping[str, Any]]] = {}
        for e in _exps(results, table):
            by_fw.setdefault(e["framework"], {})[e["variant"]] = e
        for fw, rows in by_fw.items():
            base = rows.get("base")
            for name, e in rows.items():
                if base is not None and name != "base":
                    out.append((table, fw, f"{e['label']} − {base['label']}", base["evals"], e["evals"]))
            if "enhancenet" in rows and "enhancenet_sum" in rows:
                a, b = rows["enhancenet"], rows["enhancenet_sum"]
                out.append((table, fw, f"{b['label']} − {a['label']}", a["evals"], b["evals"]))
    dec = {(e["variant"], e.get("maps"), e.get("decoder")): e for e in _exps(results, "decoders")}
    for (variant, maps, decoder), e in dec.items():
        if variant != "enhancenet" or maps != "hr":
            continue
        lr = dec.get(("enhancenet", "lr", decoder))
        base = dec.get(("base", "lr", decoder))
        if lr is not None:  # the same trained model, HR vs LR map: what the head adds at decoding
            out.append(("decoders", e["framework"], f"head effect ({decoder}): M^HR − M^LR of +EnhanceNet",
                        lr["evals"], e["evals"]))
        if lr is not None and base is not None:  # the M^LR of both models: what training with the HR loss did
            out.append(("decoders", e["framework"], f"training effect ({decoder}): M^LR of +EnhanceNet − base",
                        base["evals"], lr["evals"]))
    return out


def comparisons(results: Mapping[str, Any], metrics: Sequence[str] = STAT_METRICS) -> list[dict[str, Any]]:
    """Every paired comparison of the tables for each of ``metrics``: the paired t test (percent points) and
    Holm's adjusted p-value over all of them (the family: every testable row returned)."""
    rows: list[dict[str, Any]] = []
    for table, fw, what, before, after in _comparison_pairs(results):
        for metric in metrics:
            test = paired(results, before, after, metric)
            if test is not None:
                rows.append({"table": table, "framework": fw, "comparison": what, "metric": metric, "test": test})
    adjusted = holm([r["test"].p for r in rows])
    for row, p_holm in zip(rows, adjusted, strict=True):
        row["p_holm"] = p_holm
    return rows


def comparisons_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`comparisons` as plain JSON (NaN as None)."""
    def num(v: float) -> float | None:
        return None if math.isnan(v) else v

    return [{"table": r["table"], "framework": r["framework"], "comparison": r["comparison"], "metric": r["metric"],
             "n": r["test"].n, "mean_diff": r["test"].mean, "sd_diff": r["test"].sd, "t": num(r["test"].t),
             "df": r["test"].df, "p": num(r["test"].p), "ci95": list(r["test"].ci), "p_holm": num(r["p_holm"])}
            for r in rows]


def _statistics(results: Mapping[str, Any]) -> list[str]:
    rows = comparisons(results)
    if not rows:
        return []
    m = sum(1 for r in rows if r["test"].testable)
    lines = ["## Paired comparisons (95 % t intervals)", "",
             "Each row pairs runs that share the seed, the data and the pretrained base: Δ = mean over pairs of "
             "(after − before) in percent points, its two-sided 95 % Student t interval (n − 1 degrees of freedom), "
             f"the paired t p-value and Holm's adjusted p-value over the m = {m} testable comparisons of this file "
             "(family-wise error 5 %: a row is significant after adjustment when Holm p < 0.05). With 2 or 3 pairs "
             "the t quantile is large (4.30 at n = 3): a wide interval is the honest statement of what was measured.",
             "", "| table | framework | comparison | metric | n | Δ [95 % CI] | p | Holm p |", "|" + "---|" * 8]
    for r in rows:
        t: PairedTest = r["test"]
        ci = f"{t.mean:+.2f} [{t.ci[0]:+.2f}, {t.ci[1]:+.2f}]" if t.testable else f"{t.mean:+.2f} (no interval)"
        p = "-" if math.isnan(t.p) else f"{t.p:.3g}"
        ph = "-" if math.isnan(r["p_holm"]) else f"{r['p_holm']:.3g}"
        lines.append(f"| {r['table']} | {r['framework']} | {r['comparison']} | {r['metric']} | {t.n} | {ci} | {p} "
                     f"| {ph} |")
    return [*lines, ""]


def _exps(results: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    return [e for e in results["experiments"] if e["table"] == table]


def _fmt_paper(values: Sequence[float | None]) -> list[str]:
    return ["-" if v is None else f"{v:g}" for v in values]


def _median_errors(results: Mapping[str, Any], pair: Mapping[str, Mapping[str, Any]],
                   other: str = "enhancenet") -> str:
    """``; median error base 1.9 / +EnhanceNet 1.8 LR px`` (mean over seeds), or "" when not recorded."""
    out = []
    for variant in ("base", other):
        vals = [results["evals"][k]["metrics"].get("median_error_lr_px") for k in pair[variant]["evals"]
                if results["evals"].get(k, {}).get("status") == "ok"]
        vals = [v for v in vals if v is not None]
        if not vals:
            return ""
        out.append(f"{float(np.mean(vals)):.2f}")
    return f"; median keypoint error {out[0]} (base) / {out[1]} (+EnhanceNet) LR pixels"


def _table4(results: Mapping[str, Any], table: str, title: str) -> list[str]:
    """Table 4's with/without rows of ``table`` per framework, the verdicts, and the framework spread."""
    lines = [title, ""]
    header = "| framework | method | " + " | ".join(METRICS) + " | seeds | paper (R-50, val2017) AP / AP50 / AP75 / AR |"
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    verdicts = []
    by_fw: dict[str, dict[str, Mapping[str, Any]]] = {}
    for e in _exps(results, table):
        by_fw.setdefault(e["framework"], {})[e["variant"]] = e
    for fw, pair in by_fw.items():
        for variant, e in pair.items():
            cells = [_cell(results, e["evals"], m) for m in METRICS]
            n = summarize(results, e["evals"], "AP")[2]
            printed = " / ".join(_fmt_paper(paper.TABLE4[variant])) if variant in paper.TABLE4 else "-"
            lines.append(f"| {fw} | {e['label']} | " + " | ".join(cells) + f" | {n} | {printed} |")
        for variant, e in pair.items():
            if "base" in pair and variant != "base":
                who = "" if variant == "enhancenet" else f" ({e['label']})"
                verdicts.append(f"- {fw}{who}: " + "; ".join(
                    effect(results, pair["base"]["evals"], e["evals"], m)
                    for m in ("AP", "PCK@0.05", "PCK@0.1")) + _median_errors(results, pair, variant))
    lines += ["", "**Does EnhanceNet help here?**", "", *verdicts, "",
              "Heat-map quantisation alone costs at most half an LR pixel (argmax) and about a quarter with HRNet's "
              "quarter-pixel step; EnhanceNet can only win back that part, so it can matter only when the median "
              "error above is near it.", ""]
    for variant, label in (("base", "base model"), ("enhancenet", "+EnhanceNet")):
        for metric in ("AP", "PCK@0.1"):
            means = {fw: summarize(results, p[variant]["evals"], metric) for fw, p in by_fw.items() if variant in p}
            ran = {fw: v for fw, v in means.items() if v[2] > 0}
            if len(ran) > 1:
                spread = max(v[0] for v in ran.values()) - min(v[0] for v in ran.values())
                std = max(v[1] for v in ran.values())
                inside = "inside" if spread <= 2 * std else "outside"
                lines.append(f"- Frameworks ({label} {metric}): spread of the means {spread:.1f} vs largest seed std "
                             f"{std:.1f}: the framework difference is {inside} seed noise (2 std).")
    lines.append("")
    return lines


def render_tables(results: Mapping[str, Any]) -> str:
    """The whole ``tables.md``."""
    scale = results["scale"]
    lines = [f"# EnhanceNet reproduced in small ({scale['name']} scale)", "",
             f"Commit `{results['commit']}`; created {results['created']}. Synthetic COCO-format data, not COCO: "
             "absolute numbers are not comparable with the paper's, only the with/without difference is.", "",
             f"**Scale.** {scale['why']}", ""]
    pre = results.get("pretrain")
    if pre:
        data = pre["data"]
        how = (f"trained {pre['train_seconds']:.0f} s" if pre["status"] == "ok" else pre["status"])
        steps = f"{pre['max_steps']} steps" if pre["max_steps"] is not None else "all epochs"
        whole = pre.get("scope") == "base"
        what, fresh = (("whole base model (ResNet, deconvolutions, final layer)", "The EnhanceNet head starts")
                       if whole else ("ResNet backbone", "Deconvolutions, final layer and head start"))
        lines += [f"**Initialisation.** Every run's {what} starts from one pretraining: the base model in "
                  f"{pre['framework']}, seed {pre['seed']}, on a separate synthetic set ({data['num_images']} "
                  f"images, data seed {data['seed']}), {steps}, {how}; converted to canonical safetensors and "
                  f"loaded by every framework. {fresh} fresh from each run's seed.", ""]
    lines += ["**Frameworks.**", ""]
    for fw, info in results["frameworks"].items():
        lines.append(f"- {fw} {info.get('version') or ''}: {info['status']}")
    lines += ["", "AP, AR through our COCO evaluator (equal to pycocotools); PCK@t = share of labelled keypoints "
              "within t × max(box w, h). Mean ± sample std over seeds where there are several.", ""]

    lines += _table4(results, "table4", "## Table 4 in small: SimpleBaseline ResNet-18 with and without EnhanceNet "
                     f"(L=3, C=128, r=4, η=1, flip test; {scale.get('max_steps') or 'all'} steps per run)")
    long_schedule = scale.get("long_schedule")
    if long_schedule and _exps(results, "table4_long"):
        lines += _table4(results, "table4_long", "## Table 4 in small, longer schedule (reference framework "
                         f"{results.get('reference_framework', '?')}: {long_schedule['label']})")
        lines += ["The Eq. 7 row trains the same +EnhanceNet with `loss.hr_reduction: sum`: L^HR as a sum over the "
                  "r² times more pixels of M^HR, i.e. η·r² = 16 against HRNet's per-pixel mean (the default, η = 1 "
                  "as in HRNet-based code); the paper does not say which it used.", ""]
    if _exps(results, "cpn"):
        lines += _table4(results, "cpn", "## Table 4 in small, CPN (ResNet, GlobalNet + RefineNet, OHKM top 8 on the "
                         "final map, after the head with EnhanceNet as Eq. 8 places it; reference framework "
                         f"{results.get('reference_framework', '?')}, its own pretrained CPN)")

    lines += render_frozen(results.get("frozen"))
    lines += ae_section(results.get("ae"))
    sanity = results.get("sanity") or {}
    if sanity:
        lines += ["## Sanity panel (real COCO sample images; not a benchmark)", "",
                  (f"`sanity_panel.png`: {', '.join(sanity['images'])}, each person box predicted by "
                   f"{' and '.join(sanity['models'])} (models trained on synthetic figures)."
                   if sanity.get("status") == "ok" else f"Not run: {sanity['status'].removeprefix('not run: ')}."), ""]
    lines += mpii_section(results.get("mpii"))
    # Table 5
    lines += ["## Table 5 in small: ablations (reference framework "
              f"{results.get('reference_framework', '?')}, seed {scale['seeds'][0]})", "",
              "#Params / GFLOPs: the head alone (weights, multiply-adds; enhancenet_core.complexity) at our scale, "
              "and at the paper's scale (ResNet-50, 256x192) computed by the same code, beside the paper's "
              "printed values.", ""]
    for sub, title, _variants in TABLE5:
        exps = _exps(results, f"table5{sub}")
        if sub == "d":
            exps = [e for e in _exps(results, "table4") if e["variant"] == "base"
                    and e["framework"] == results.get("reference_framework")][:1] + exps
        if not exps:
            continue
        lines += [f"### ({sub}) {title}", "",
                  "| row | #Params (ours) | GFLOPs (ours) | #Params / GFLOPs at paper scale | "
                  + " | ".join(METRICS) + " | paper #Params / GFLOPs | paper AP / AP50 / AP75 / AR |",
                  "|" + "---|" * (6 + len(METRICS))]
        for e in exps:
            keys = e["evals"][:1]
            rec = results["evals"].get(keys[0], {})
            cx, cxp = rec.get("complexity"), rec.get("complexity_paper_scale")
            ours = ("-", "-") if not cx else (f"{cx['params'] / 1e6:.3f}M", f"{cx['flops'] / 1e9:.3f}")
            at_paper = "-" if not cxp else f"{cxp['params'] / 1e6:.2f}M / {cxp['flops'] / 1e9:.2f}"
            pp = paper.TABLE5.get(e["variant"])
            p_cx = "-" if pp is None else " / ".join(_fmt_paper(pp[:2]))
            p_acc = "-" if pp is None else " / ".join(_fmt_paper(pp[2:]))
            cells = [_cell(results, keys, m) for m in METRICS]
            lines.append(f"| {e['label']} | {ours[0]} | {ours[1]} | {at_paper} | " + " | ".join(cells) +
                         f" | {p_cx} | {p_acc} |")
        lines.append("")

    hr5 = _exps(results, "table5d_hrnet")
    if hr5:
        exact = {e["variant"]: e for e in _exps(results, "table5d")}
        lines += ["### (d) again with HRNet's flip shift (`test.flip_shift: hrnet`) on the same models", "",
                  "HRNet rounds the flip-test shift (s − 1)/s of each map to whole pixels; on M^HR (stride 4/r) that "
                  "leaves a bias of +0.5 input px at r = 2, −1/6 at r = 3, 0 at r = 4 and +0.1 at r = 5. The rows "
                  "above use the exact shift (the default).", "",
                  "| row | " + " | ".join(f"{m} exact → hrnet" for m in ("AP", "PCK@0.05", "PCK@0.1")) + " |",
                  "|" + "---|" * 4]
        for e in hr5:
            ex = exact.get(e["variant"])
            cells = [f"{_cell(results, ex['evals'][:1], m) if ex else '-'} → {_cell(results, e['evals'][:1], m)}"
                     for m in ("AP", "PCK@0.05", "PCK@0.1")]
            lines.append(f"| {e['label']} | " + " | ".join(cells) + " |")
        lines.append("")

    # Decoders
    dec = _exps(results, "decoders")
    if dec:
        lines += ["## Decoders on the same trained models (LR and HR maps)", "",
                  "argmax_quarter = HRNet's argmax + ¼ px; dark = DARK with its kernel from σ (σ_HR = r·σ); "
                  "unbiased = the DARK step on the pixel-centre grid. Every seed. M^HR − M^LR of the +EnhanceNet "
                  "model is what the head adds at decoding (head effect); its M^LR − the base model's M^LR is what "
                  "training with the HR loss did to the base (training effect): both are tested in the paired "
                  "comparisons below.", "",
                  "| model / map / decoder | " + " | ".join(METRICS) + " |", "|" + "---|" * (1 + len(METRICS))]
        for e in dec:
            lines.append(f"| {e['label']} | " + " | ".join(_cell(results, e["evals"], m) for m in METRICS) + " |")
        lines.append("")
    lines += _statistics(results)
    if results.get("not_run"):
        lines += ["## Not run", ""] + [f"- {item}" for item in results["not_run"]] + [""]
    return "\n".join(lines)
