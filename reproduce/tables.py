"""``tables.md`` from a results set: Tables 4 and 5 in small laid out like the paper, the paper's numbers beside
ours, the spread over seeds, the decoders, and a plain verdict on whether EnhanceNet helped at this scale."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reproduce import paper
from reproduce.experiments import TABLE5

__all__ = ["METRICS", "effect", "render_tables", "summarize"]

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


def effect(results: Mapping[str, Any], base: Sequence[str], enh: Sequence[str], metric: str = "AP") -> str:
    """Plain words: "helps", "hurts" or "within seed noise" (|Δ| ≤ 2 standard errors of the difference)."""
    mb, sb, nb = summarize(results, base, metric)
    me, se, ne = summarize(results, enh, metric)
    if nb == 0 or ne == 0:
        return "not measured"
    delta = me - mb
    if nb < 2 or ne < 2:
        return f"Δ{metric} {delta:+.1f} (one seed: no noise estimate)"
    noise = 2 * math.sqrt(sb**2 / nb + se**2 / ne)
    word = "within seed noise" if abs(delta) <= noise else ("EnhanceNet helps" if delta > 0 else "EnhanceNet hurts")
    return f"Δ{metric} {delta:+.1f} (2 s.e. = {noise:.1f}): {word}"


def _exps(results: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    return [e for e in results["experiments"] if e["table"] == table]


def _fmt_paper(values: Sequence[float | None]) -> list[str]:
    return ["-" if v is None else f"{v:g}" for v in values]


def _median_errors(results: Mapping[str, Any], pair: Mapping[str, Mapping[str, Any]]) -> str:
    """``; median error base 1.9 / +EnhanceNet 1.8 LR px`` (mean over seeds), or "" when not recorded."""
    out = []
    for variant in ("base", "enhancenet"):
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
        for variant in ("base", "enhancenet"):
            e = pair.get(variant)
            if e is None:
                continue
            cells = [_cell(results, e["evals"], m) for m in METRICS]
            n = summarize(results, e["evals"], "AP")[2]
            lines.append(f"| {fw} | {e['label']} | " + " | ".join(cells) +
                         f" | {n} | {' / '.join(_fmt_paper(paper.TABLE4[variant]))} |")
        if "base" in pair and "enhancenet" in pair:
            verdicts.append(f"- {fw}: " + "; ".join(
                effect(results, pair["base"]["evals"], pair["enhancenet"]["evals"], m)
                for m in ("AP", "PCK@0.05", "PCK@0.1")) + _median_errors(results, pair))
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

    # Decoders
    dec = _exps(results, "decoders")
    if dec:
        lines += ["## Decoders on the same trained models (LR and HR maps)", "",
                  "argmax_quarter = HRNet's argmax + ¼ px; dark = DARK with its kernel from σ (σ_HR = r·σ); "
                  "unbiased = the DARK step on the pixel-centre grid.", "",
                  "| model / map / decoder | " + " | ".join(METRICS) + " |", "|" + "---|" * (1 + len(METRICS))]
        for e in dec:
            lines.append(f"| {e['label']} | " + " | ".join(_cell(results, e["evals"], m) for m in METRICS) + " |")
        lines.append("")
    if results.get("not_run"):
        lines += ["## Not run", ""] + [f"- {item}" for item in results["not_run"]] + [""]
    return "\n".join(lines)
