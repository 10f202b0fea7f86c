"""tables.md from a fake results set; figure files written."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np

from reproduce.experiments import FULL, QUICK, build_grid
from reproduce.figures import plot_error_change, plot_pck_curves
from reproduce.tables import comparisons, comparisons_json, effect, render_tables, summarize


def _fake_results() -> dict:
    # every part over both seeds and every decoder / long-schedule row (the quick scale trims those; tables need
    # pairs and all rows here)
    assert QUICK.long_schedule is not None and FULL.long_schedule is not None
    long = dataclasses.replace(QUICK.long_schedule, variants=FULL.long_schedule.variants)
    grid = build_grid(dataclasses.replace(QUICK, side_seeds=None, decoder_cells=None, long_schedule=long),
                      ["torch", "paddle"])
    rng = np.random.default_rng(0)
    evals = {}
    for ev in grid.evals:
        bump = 0.05 if ev.train.variant.name == "enhancenet" else 0.0
        m = {k: 0.5 + bump + rng.normal(0, 0.001) for k in ("AP", "AP50", "AP75", "AR", "PCK@0.05", "PCK@0.1")}
        m["median_error_lr_px"] = 2.0 - 10 * bump
        evals[ev.key] = {"status": "ok", "metrics": m, "variant": ev.train.variant.name,
                         "complexity": {"params": 123456, "flops": 7890000} if ev.train.variant.has_head else None,
                         "complexity_paper_scale": None}
    paddle_keys = [e for e in grid.experiments if e.framework == "paddle" and e.variant.name == "enhancenet"]
    for ev in paddle_keys[0].evals:
        evals[ev.key] = {"status": "not run: training failed (paddle)", "variant": "enhancenet"}
    return {
        "scale": {"name": "quick", "why": "because", "seeds": list(QUICK.seeds)}, "commit": "abc", "created": "now",
        "frameworks": {"torch": {"version": "2.13.0", "status": "run"},
                       "paddle": {"version": "3.3.1", "status": "run"},
                       "mindspore": {"version": None, "status": "not run: enhancenet_mindspore.cli does not exist"}},
        "reference_framework": "torch",
        "pretrain": {"name": "torch-base-seed0", "framework": "torch", "seed": 0, "status": "ok", "max_steps": 2,
                     "scope": "base",
                     "data": {"num_images": 12, "image_size": [64, 96], "seed": 1}, "train_seconds": 3.0},
        "experiments": [{"table": e.table, "label": e.label, "framework": e.framework, "variant": e.variant.name,
                         "decoder": e.evals[0].decoder, "maps": e.evals[0].maps,
                         "evals": [ev.key for ev in e.evals]} for e in grid.experiments],
        "evals": evals, "not_run": ["mindspore: not run: enhancenet_mindspore.cli does not exist"],
    }


def test_summarize_mean_std_over_seeds() -> None:
    res = {"evals": {"a": {"status": "ok", "metrics": {"AP": 0.5}}, "b": {"status": "ok", "metrics": {"AP": 0.7}},
                     "c": {"status": "not run: x"}}}
    mean, std, n = summarize(res, ["a", "b", "c"], "AP")
    assert (round(mean, 6), round(std, 6), n) == (60.0, round(np.std([50.0, 70.0], ddof=1), 6), 2)
    assert "no interval" in effect(res, ["a", "b"], ["a", "b"])  # identical pairs: no spread, no test


def test_tables_layout_and_paper_numbers() -> None:
    md = render_tables(_fake_results())
    assert "## Table 4 in small" in md and "### (a) Input of EnhanceNet" in md and "### (d) Upscaling ratio r" in md
    assert "70.2 / 88.7 / 77.7 / 76.1" in md and "71.3 / 88.9 / 78.5 / 77.1" in md  # paper Table 4
    assert "0.5 / 1.52" in md  # paper's #Params / GFLOPs of the default head
    assert "0.123M" in md
    assert " ± " in md  # several seeds
    assert "EnhanceNet helps" in md  # +5 points with 0.1-point noise
    torch_row = next(line for line in md.splitlines() if line.startswith("| torch | +EnhanceNet"))
    assert "| 2 |" in torch_row
    paddle_row = next(line for line in md.splitlines() if line.startswith("| paddle | +EnhanceNet"))
    assert "not run" in paddle_row
    assert "mindspore" in md and "not run" in md.split("## Not run")[1]
    assert "## Decoders" in md and "dark" in md and "unbiased" in md
    assert "median keypoint error 2.00 (base) / 1.50 (+EnhanceNet) LR pixels" in md
    assert "**Initialisation.**" in md and "12 images, data seed 1" in md and "2 steps" in md
    assert "whole base model" in md and "The EnhanceNet head starts fresh" in md
    assert "**Initialisation.**" not in render_tables({**_fake_results(), "pretrain": None})
    assert "Frameworks (base model PCK@0.1): spread of the means" in md  # torch and paddle ran it
    assert "longer schedule" not in md  # the scale records no long schedule


def test_long_schedule_table_in_the_reference_framework() -> None:
    res = _fake_results()
    res["scale"] = {**res["scale"], "max_steps": 2, "long_schedule": {"label": "4 steps", "max_steps": 4}}
    md = render_tables(res)
    assert "(L=3, C=128, r=4, η=1, flip test; 2 steps per run)" in md
    section = md.split("## Table 4 in small, longer schedule (reference framework torch: 4 steps)")[1]
    section = section.split("## Table 4 in small, CPN")[0]
    rows = [line for line in section.splitlines() if line.startswith("| torch |") or line.startswith("| paddle |")]
    assert len(rows) == 3 and all(r.startswith("| torch |") for r in rows)
    assert "Eq. 7 sums" in rows[2] and "- torch (+EnhanceNet (Eq. 7 sums: η·r²)): ΔAP" in section
    cpn = md.split("## Table 4 in small, CPN")[1].split("## Table 5")[0]
    assert "| torch | CPN +EnhanceNet |" in cpn and "- torch: ΔAP" in cpn
    assert "### (d) again with HRNet's flip shift" in md and "| r = 4 | " in md.split("HRNet's flip shift")[1]
    assert "- torch: ΔAP" in section and "EnhanceNet helps" in section


def test_figures_are_png(tmp_path: Path) -> None:
    t = np.linspace(0, 0.3, 31)
    curves = {"base": {g: t for g in ("head", "ankle", "mean")},
              "+EnhanceNet": {g: np.sqrt(t) for g in ("head", "ankle", "mean")}}
    for path in (plot_pck_curves(t, curves, tmp_path / "fig5.png"),
                 plot_error_change({"good": 0.02, "jitter": -0.01, "inversion": 0.0, "swap": 0.0, "miss": -0.01},
                                   tmp_path / "sub" / "fig7.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_every_markdown_table_has_as_many_separator_cells_as_header_cells() -> None:
    lines = render_tables(_fake_results()).splitlines()
    tables = 0
    for head, sep in itertools.pairwise(lines):
        if head.startswith("|") and sep.startswith("|---"):
            tables += 1
            assert head.count("|") == sep.count("|"), f"header {head!r} has another width than {sep!r}"
    assert tables >= 5


def test_paired_comparisons_section_and_holm_family() -> None:
    res = _fake_results()
    md = render_tables(res)
    section = md.split("## Paired comparisons (95 % t intervals)")[1].split("## Not run")[0]
    rows = comparisons(res)
    m = sum(1 for r in rows if r["test"].testable)
    assert f"m = {m} testable comparisons" in section
    # torch Table 4 (2 seeds) and the decoders (head and training effect per decoder, 3 metrics each)
    assert any(r["table"] == "table4" and r["framework"] == "torch" for r in rows)
    assert {r["comparison"].split(" (")[0] for r in rows if r["table"] == "decoders"} == {"head effect",
                                                                                        "training effect"}
    assert all(r["p_holm"] >= r["test"].p for r in rows if r["test"].testable)
    assert "paddle" not in {r["framework"] for r in rows if r["table"] == "table4"}  # its +EnhanceNet did not run
    plain = comparisons_json(rows)
    assert json.loads(json.dumps(plain)) == plain  # NaN written as null
