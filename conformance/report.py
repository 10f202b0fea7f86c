"""Cross-framework steps and the report: ``python -m conformance.report [--python IMPL=PY ...]``.

Run from the repository root after each implementation's pytest session (``nox -s conformance`` does it all):

1. merges ``<artifacts>/results-*.json`` (one per implementation session);
2. training-step parity for every pair of implementations that wrote ``<impl>/train_<case>.npz``;
3. the conversion round trip torch -> canonical -> paddle -> canonical [-> mindspore -> canonical] -> torch
   through ``enhancenet_runtime.convert`` (each framework in its own interpreter, ``--python torch=PATH``);
   weights must come back bit-exact;
4. the framework-free spec checks (decoders, COCO evaluator vs pycocotools, PCKh) from the JUnit XML of the
   core test files run in the numpy session (``<artifacts>/spec-junit.xml``);
5. writes ``conformance/report.json`` and ``conformance/report.md`` (git commit, dirty flag, versions, the
   SHA-256 of the golden tensors and of the check table, which the publish gate recomputes), and
   exits 1 when any check failed. An implementation with no results is listed as "not run: <reason>".
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from conformance.adapters import ADAPTERS
from enhancenet_runtime.gate import REPORT_FORMAT, REPORT_FORMAT_VERSION
from enhancenet_runtime.gate_evidence import checks_digest, golden_digest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADAM_EPS = 1e-8
LR = 1e-3  # conformance/test_train_step.py LR (checked against the artifacts' own record below)
#: pairwise float32 training-step tolerances
LOSS_RTOL = 1e-5  # |loss_a - loss_b| <= LOSS_RTOL * max(1, |loss|)
GRAD_RTOL = 1e-3  # per tensor: max |g_a - g_b| <= GRAD_RTOL * max(max |g_a|, GRAD_FLOOR * max |g_a| over the case)
#: measured (torch-paddle) head 2.2e-7, R18 1.7e-4, AE 1.9e-6 with or without the floor (no worst tensor under it).
#: The floor is for tensors whose true gradient is zero: a conv bias before a train-mode BN is cancelled by it, so
#: its float32 gradient is summation noise (DLCM: 229 such biases, float64 gradient <= 2e-15 of the largest; float32
#: up to ~5e-7 of it, the stem's, summed over every pixel), and a ratio to its own max |g| measures nothing.
GRAD_FLOOR = 1e-3
STAT_RTOL = 1e-5  # BN running statistics after the step: relative to max(1, |stat|)
ROUND_TRIP = ("torch", "paddle", "mindspore")
#: training-step cases of conformance/test_train_step.py (train_<case>.npz)
TRAIN_CASES = ("head", "r18", "ae", "dlcm")
#: the cases whose models have BN (their running statistics after the step are compared too)
BN_CASES = ("r18", "dlcm")
#: (grads, BN stats) tolerances of a case whose float32 step cannot meet GRAD_RTOL / STAT_RTOL. DLCM (five
#: hourglasses, train-mode BN on 4x4 inner maps): each framework's float32 step against torch's float64 one of the
#: same weights and batch misses by up to 0.029 (torch), 0.038 (paddle), 0.042 (MindSpore) per tensor and 3.9e-6 /
#: 1.3e-5 / 6.4e-5 in the running statistics (measured), so a pair may differ by their sum; the bounds are that,
#: rounded up (0.1, 2e-4). They still catch a real difference: a biased-vs-unbiased variance or another momentum
#: convention moves the statistics by >= 3e-3, a wrong gradient by O(1).
CASE_TOLERANCES: dict[str, tuple[float, float]] = {"dlcm": (0.1, 2e-4)}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _check(check: str, impl: str, status: str, max_error=None, tolerance=None, detail: str = "") -> dict[str, Any]:
    return {"check": check, "implementation": impl, "status": status,
            "max_error": None if max_error is None else float(max_error),
            "tolerance": None if tolerance is None else float(tolerance), "detail": detail}


def _pass(err: float, tol: float) -> str:
    return "pass" if err <= tol else "fail"


def train_pairs(artifacts: Path, impls: list[str]) -> list[dict[str, Any]]:
    """Loss, every gradient, learnable weights after one Adam step and BN statistics, for each pair."""
    out = []
    have = [i for i in impls if any((artifacts / i).glob("train_*.npz"))]
    for a, b in itertools.combinations(have, 2):
        pair = f"{a}-{b}"
        for case in TRAIN_CASES:
            fa, fb = artifacts / a / f"train_{case}.npz", artifacts / b / f"train_{case}.npz"
            if not (fa.is_file() and fb.is_file()):
                out.append(_check(f"train_parity.{case}", pair, "not run", detail=f"missing {fa.name} of {a} or {b}"))
                continue
            A, B = np.load(fa), np.load(fb)
            if set(A.files) - {"adam_update"} != set(B.files) - {"adam_update"}:
                out.append(_check(f"train_parity.{case}.names", pair, "fail",
                                  detail=f"tensor sets differ: {sorted(set(A.files) ^ set(B.files))[:6]}"))
                continue
            rules = {n: str(F["adam_update"]) for n, F in ((a, A), (b, B)) if "adam_update" in F.files}
            la, lb = float(A["loss"]), float(B["loss"])
            tol = LOSS_RTOL * max(1.0, abs(la))
            out.append(_check(f"train_parity.{case}.loss", pair, _pass(abs(la - lb), tol), abs(la - lb), tol))
            worst_g, worst_name = 0.0, ""
            gkeys = [f for f in A.files if f.startswith("grad/")]
            floor = GRAD_FLOOR * max((float(np.max(np.abs(A[k]))) for k in gkeys), default=0.0)
            for k in gkeys:
                rel = float(np.max(np.abs(A[k] - B[k]))) / max(float(np.max(np.abs(A[k]))), floor, 1e-30)
                if rel > worst_g:
                    worst_g, worst_name = rel, k[5:]
            grad_tol, stat_tol = CASE_TOLERANCES.get(case, (GRAD_RTOL, STAT_RTOL))
            out.append(_check(f"train_parity.{case}.grads", pair, _pass(worst_g, grad_tol), worst_g, grad_tol,
                              f"max over tensors of max|Δg| / max(max|g|, {GRAD_FLOOR:g}·max|g| of the case) (worst {worst_name})"))
            # Adam's first step is lr * g / (|g| + eps) per element (m̂ = g, v̂ = g²): a gradient difference moves
            # the new weight by at most lr * min(2, 2 |Δg| / (max(|g_a|, |g_b|) + eps)); report the worst ratio
            worst_w, worst_s = 0.0, (0.0, "")
            for k in (f for f in A.files if f.startswith("new/")):
                name = k[4:]
                diff = np.abs(A[k].astype(np.float64) - B[k].astype(np.float64))
                if f"grad/{name}" in A.files:
                    ga, gb = A[f"grad/{name}"].astype(np.float64), B[f"grad/{name}"].astype(np.float64)
                    bound = LR * np.minimum(2.0, 2.0 * np.abs(ga - gb) / (np.maximum(np.abs(ga), np.abs(gb)) + ADAM_EPS))
                    bound += 1e-6 * np.maximum(1.0, np.abs(A[k]))
                    worst_w = max(worst_w, float(np.max(diff / bound)))
                else:  # BN running statistics
                    rel = float(np.max(diff / np.maximum(1.0, np.abs(A[k]))))
                    if rel > worst_s[0]:
                        worst_s = (rel, name)
            rule_note = ""
            if rules and len(set(rules.values())) == 1 and len(rules) == 2:
                rule_note = f"; both: {next(iter(rules.values()))}"
            elif rules:
                rule_note = "; Adam update rules differ: " + "; ".join(f"{n}: {r}" for n, r in rules.items()) + (
                    f"; {next(n for n in (a, b) if n not in rules)}: not stated (torch and paddle: "
                    "w -= lr*m_hat/(sqrt(v_hat)+eps), the torch.optim.Adam form)"
                    if len(rules) == 1 else "")
            out.append(_check(f"train_parity.{case}.weights_after_adam", pair, _pass(worst_w, 1.0), worst_w, 1.0,
                              "max |Δw| / (lr·min(2, 2|Δg|/(max|g|+eps)) + 1e-6·max(1,|w|)): float32 rounding "
                              "of g carried through Adam's normalisation" + rule_note))
            if case in BN_CASES:
                out.append(_check(f"train_parity.{case}.bn_running_stats", pair, _pass(worst_s[0], stat_tol),
                                  worst_s[0], stat_tol, f"running_mean/var after one train-mode step (worst {worst_s[1]})"))
    return out


def round_trip(pythons: dict[str, str], work: Path) -> list[dict[str, Any]]:
    """torch -> canonical -> paddle -> canonical [-> mindspore -> canonical] -> torch, weights bit-exact."""
    from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
    from enhancenet_core.conventions import BaseModelName, ShuffleOrder
    from enhancenet_numpy.weights import init_weights, load_weights, save_weights
    from enhancenet_runtime.convert import ConvertError, convert_weights

    chain = [fw for fw in ROUND_TRIP if fw in pythons]
    missing = [fw for fw in ROUND_TRIP if fw not in pythons]
    results = []
    if "torch" not in chain or len(chain) < 2:
        return [_check("round_trip", "-".join(ROUND_TRIP), "not run",
                       detail=f"needs torch and another framework; missing interpreters: {missing}")]
    suffix = {"torch": ".pt", "paddle": ".pdparams", "mindspore": ".ckpt"}
    pickle_suffixes = (".pt", ".pdparams")
    cfgs = {
        "simple_baseline_r18_paper_order": ModelConfig(
            base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18),
            head=EnhanceNetConfig(upscale=4, shuffle_order=ShuffleOrder.PAPER), input_size=(64, 96)),
        "hourglass_2_deconv": ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2),
                                          head=EnhanceNetConfig(upscale=2, upsampler="deconv"), input_size=(64, 64)),
        # the tiny AE hourglass of conformance/_ae.py (pose-ae-train's PoseNet names) with the head
        "ae_hourglass_2_r2": ModelConfig(base=BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2,
                                                              hourglass_channels=16, hourglass_increase=8,
                                                              ae_output_channels=34),
                                         head=EnhanceNetConfig(channels=16, upscale=2), input_size=(64, 64)),
    }
    name_chain = "->".join(["torch", *[fw for fw in chain if fw != "torch"], "torch"])
    for cname, cfg in cfgs.items():
        d = work / cname
        d.mkdir()
        params = init_weights(cfg, 1, np.float32)
        save_weights(d / "start.safetensors", params, cfg)
        def convert(src: Path, dst: Path, cfg: ModelConfig = cfg, d: Path = d) -> None:
            # A native .pt / .pdparams is a pickle: read only the files this check wrote moments ago into its own
            # temporary directory (the explicit opt-in users give for a file they trust).
            convert_weights(src, dst, cfg, pythons, trust_pickle=src.parent == d and src.suffix in pickle_suffixes)

        try:
            convert(d / "start.safetensors", d / "torch0.pt")
            current = d / "torch0.pt"
            for i, fw in enumerate([f for f in chain if f != "torch"]):
                convert(current, d / f"c{i}.safetensors")
                convert(d / f"c{i}.safetensors", d / f"{fw}{suffix[fw]}")
                convert(d / f"{fw}{suffix[fw]}", d / f"c{i}b.safetensors")
                current = d / f"c{i}b.safetensors"
            convert(current, d / "torch1.pt")
            convert(d / "torch1.pt", d / "end.safetensors")
            back = load_weights(d / "end.safetensors", cfg)
            bad = [k for k in params if back[k].dtype != params[k].dtype or not np.array_equal(back[k], params[k])]
            err = max(float(np.max(np.abs(back[k] - params[k]))) for k in params)
            results.append(_check(f"round_trip.{cname}", name_chain, "pass" if not bad else "fail", err, 0.0,
                                  f"{len(params)} tensors bit-exact" if not bad else f"differ: {bad[:5]}"))
        except (ConvertError, FileNotFoundError, ValueError) as exc:
            results.append(_check(f"round_trip.{cname}", name_chain, "fail", detail=str(exc)[:500]))
    for fw in missing:
        results.append(_check(f"round_trip.{fw}", fw, "not run",
                              detail=f"no {fw} interpreter given (--python {fw}=PATH: a virtualenv with "
                                     f"enhancenet-{fw})"))
    return results


def spec_checks(junit: Path) -> list[dict[str, Any]]:
    """(e) framework-free checks from the core test files' JUnit XML."""
    if not junit.is_file():
        return [_check("spec", "spec", "not run", detail=f"{junit.name} missing: the numpy session did not run them")]
    groups: dict[str, list[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        groups.setdefault(module, []).append("fail" if failed else ("skip" if skipped else "pass"))
    out = []
    for module, st in sorted(groups.items()):
        status = "fail" if "fail" in st else ("pass" if "pass" in st else "not run")
        out.append(_check(f"spec.{module}", "spec", status,
                          detail=f"{st.count('pass')} passed, {st.count('fail')} failed, {st.count('skip')} skipped "
                                 f"(packages/core-spec/tests/{module}.py)"))
    return out


def build_report(artifacts: Path, pythons: dict[str, str]) -> dict[str, Any]:
    checks: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    impl_info: dict[str, dict[str, Any]] = {}
    for f in sorted(artifacts.glob("results-*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        checks.extend(data["checks"])
        for name, v in data.get("versions", {}).items():
            if "not run" in v:
                impl_info.setdefault(name, {"status": "not run", "reason": v["not run"]})
            else:
                impl_info[name] = {"status": "run", "versions": v}
                for dist in ("torch", "paddlepaddle", "mindspore"):
                    if dist in v:
                        versions[dist] = v[dist]
    for name in ADAPTERS:
        if name not in impl_info or impl_info[name]["status"] != "run":
            module = ADAPTERS[name][0]
            default = ("no conformance session ran it" if importlib.util.find_spec(module) is not None
                       else f"no adapter {module} yet")
            reason = impl_info.get(name, {}).get("reason") or default
            impl_info[name] = {"status": "not run", "reason": reason}
            if not any(c["implementation"] == name for c in checks):
                checks.append(_check("all", name, "not run", detail=reason))
    checks.extend(train_pairs(artifacts, [n for n in ADAPTERS if impl_info[n]["status"] == "run"]))
    with tempfile.TemporaryDirectory(prefix="conformance-roundtrip-") as tmp:
        checks.extend(round_trip(pythons, Path(tmp)))
    checks.extend(spec_checks(artifacts / "spec-junit.xml"))
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    failed = [c for c in checks if c["status"] == "fail"]
    return {
        "format": REPORT_FORMAT, "format_version": REPORT_FORMAT_VERSION,
        "commit": _git("rev-parse", "HEAD"), "dirty": dirty,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": versions, "golden_digest": golden_digest(HERE / "golden" / "data"),
        "checks_digest": checks_digest(checks), "implementations": impl_info, "checks": checks,
        "passed": not failed and any(c["status"] == "pass" for c in checks),
    }


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.3g}"


def to_markdown(report: dict[str, Any]) -> str:
    impls = [*[n for n in ADAPTERS], "spec"]
    lines = [
        "# Conformance report",
        "",
        f"- commit `{report['commit']}`{' (**dirty tree**)' if report['dirty'] else ''}, {report['created']}",
        f"- golden tensors sha256 `{report['golden_digest'][:16]}…`, check table sha256 "
        f"`{report['checks_digest'][:16]}…` (the publish gate recomputes both)",
        f"- result: **{'PASS' if report['passed'] else 'FAIL'}** "
        f"({sum(c['status'] == 'fail' for c in report['checks'])} failed, "
        f"{sum(c['status'] == 'pass' for c in report['checks'])} passed, "
        f"{sum(c['status'] == 'not run' for c in report['checks'])} not run)",
        "",
        "| implementation | status | versions |",
        "| --- | --- | --- |",
    ]
    for name, info in report["implementations"].items():
        v = ", ".join(f"{k} {x}" for k, x in info.get("versions", {}).items())
        lines.append(f"| {name} | {info['status']}{': ' + info['reason'] if info.get('reason') else ''} | {v} |")
    lines += ["", "| check | implementation | status | max error | tolerance | detail |", "| --- | --- | --- | --- | --- | --- |"]
    order = {n: i for i, n in enumerate(impls)}
    for c in sorted(report["checks"], key=lambda c: (c["check"], order.get(c["implementation"], 99), c["implementation"])):
        status = {"pass": "pass", "fail": "**FAIL**", "not run": "not run"}[c["status"]]
        detail = c.get("detail", "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {c['check']} | {c['implementation']} | {status} | {_fmt(c['max_error'])} | "
                     f"{_fmt(c['tolerance'])} | {detail} |")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.report")
    parser.add_argument("--artifacts", default=str(HERE / ".artifacts"))
    parser.add_argument("--python", action="append", default=[], metavar="IMPL=PATH",
                        help="interpreter of a framework's virtualenv, for the round trip (torch=..., paddle=...)")
    parser.add_argument("--out", default=str(HERE), help="directory for report.json / report.md")
    args = parser.parse_args(argv)
    pythons = {}
    for item in args.python:
        key, _, path = item.partition("=")
        if not path:
            parser.error(f"--python {item!r}: expected IMPL=PATH")
        pythons[key] = path
    report = build_report(Path(args.artifacts), pythons)
    out = Path(args.out)
    _atomic_write(out / "report.json", json.dumps(report, indent=1) + "\n")
    _atomic_write(out / "report.md", to_markdown(report))
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    for c in failed:
        print(f"FAIL {c['check']} [{c['implementation']}] {_fmt(c['max_error'])} > {_fmt(c['tolerance'])} {c['detail']}",
              file=sys.stderr)
    print(f"conformance: {'PASS' if report['passed'] else 'FAIL'}; wrote {out / 'report.json'} and report.md")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
