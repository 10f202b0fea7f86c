"""Table 4's bottom-up rows (reproduce.ae: AE base vs +EnhanceNet): grid, scoring, section, CLI hook, without
training (the real trainings run in the full reproduce and ``python -m reproduce.ae --quick``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reproduce import ae
from reproduce.ae import FULL_AE, QUICK_AE, ae_grid, ae_metrics, render_ae_table
from reproduce.experiments import EvalRun
from reproduce.tests.test_mpii import _FakeRunner


def _coco(ap: float) -> dict:
    return {"metrics": {"coco": {"AP": ap, "AP50": ap + 0.2, "AP75": ap / 2, "AR": ap + 0.1, "APm": 0.0}}}


class _AeRunner(_FakeRunner):
    """Evaluations return a bottom-up results.json: AP 0.30 + 0.01·seed for the base, +0.02 with the head."""

    def evaluate(self, ev: EvalRun, data_root: Path) -> dict:
        self.calls.append(("eval", ev.key))
        return {**_coco(0.30 + 0.01 * ev.train.seed + (0.02 if ev.train.variant.has_head else 0.0)),
                "wall_seconds": 0.5}


def test_full_grid_is_base_and_enhancenet_over_three_seeds_in_torch() -> None:
    pre = ae.ae_pretrain(FULL_AE)
    assert pre is not None and pre.config == "coco_ae_hourglass4_512x512_base" and pre.data != FULL_AE.data
    assert pre.max_steps == 1200 and dict(pre.overrides)["train.epochs"] == "20"  # 60 steps an epoch
    rows = ae_grid(FULL_AE)
    assert [v.name for v, _ in rows] == ["base", "enhancenet"]
    runs = [ev.train for _, evs in rows for ev in evs]
    assert len({r.key for r in runs}) == 6 and {r.framework for r in runs} == {"torch"}
    assert [r.config for r in runs] == 3 * ["coco_ae_hourglass4_512x512_base"] + 3 * [
        "coco_ae_hourglass4_512x512_enhancenet"]
    assert all(("train.seed", str(r.seed)) in r.overrides for r in runs)
    assert all(r.pretrain == pre and dict(r.overrides)["model.base.pretrained_scope"] == "base" for r in runs)
    base, enh = rows[0][1][0], rows[1][1][0]
    assert base.maps == "lr" and enh.maps == "hr"  # each variant decodes its own output maps
    assert len(ae_grid(QUICK_AE)[0][1]) == 1 and FULL_AE.data.key != QUICK_AE.data.key


def test_metrics_are_percent_of_the_coco_block() -> None:
    assert ae_metrics(_coco(0.5)) == pytest.approx({"AP": 50.0, "AP50": 70.0, "AP75": 25.0, "AR": 60.0})
    with pytest.raises(KeyError):
        ae_metrics({"metric": 0.5})  # a top-down results.json has no COCO bottom-up block: not scored silently


def test_run_scores_times_and_names_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ae, "ensure_ae_data", lambda spec, work: work / "data")
    runner = _AeRunner(tmp_path)
    out = ae.run_ae(runner, FULL_AE, tmp_path)
    assert out["status"] == "ok" and out["seconds"] == 6 + 6 * 2.5 and len(runner.calls) == 13
    assert runner.calls[0][0] == "pretrain" and out["data"]["pretrain_steps"] == FULL_AE.pretrain_steps
    failed_pre: dict[str, str] = {}
    none = ae.run_ae(_AeRunner(tmp_path, fail="ae-pretrain"), FULL_AE, tmp_path, failed_pre)
    assert none["status"].startswith("not run: the AE pretraining failed") and not none["rows"] and failed_pre
    assert [[m["AP"] for m in r["metrics"]] for r in out["rows"]] == [pytest.approx([30.0, 31.0, 32.0]),
                                                                      pytest.approx([32.0, 33.0, 34.0])]
    failures: dict[str, str] = {}
    bad = ae.run_ae(_AeRunner(tmp_path, fail="seed2"), FULL_AE, tmp_path, failures)
    assert bad["status"].startswith("partial: 2") and len(failures) == 2
    no_torch = _AeRunner(tmp_path)
    no_torch.pythons = {"paddle": "python"}
    assert "PyTorch" in ae.run_ae(no_torch, FULL_AE, tmp_path)["status"]


def test_section_table_and_paired_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ae, "ensure_ae_data", lambda spec, work: work / "data")
    result = ae.run_ae(_AeRunner(tmp_path), FULL_AE, tmp_path)
    result["rows"][1]["metrics"][0]["AP"] += 1.0  # spread in the differences: an interval exists
    md = "\n".join(ae.ae_section(result))
    assert "## Table 4 in small, bottom-up" in md and "| +EnhanceNet | 3 | 33.33 ± 0.58 |" in md
    assert "scenes of 128×128 with 1-2 people" in md and "pretrained once for 1200 steps" in md
    assert "- AP: +2.33 [" in md and "Holm p = " in md
    assert "- AP50: +2.00 (n = 3: no interval)" in md  # equal differences: no spread, no verdict
    assert ae.ae_section(None) == []
    assert "Not run: full run only" in "\n".join(ae.ae_section({"status": "not run: full run only", "rows": []}))
    one_sided = {**result, "rows": result["rows"][:1]}
    assert "- no complete pair" in ae.ae_section(one_sided)
    assert render_ae_table(result["rows"]).count("\n") == 4


def test_cli_hook_quick_skips_full_runs_and_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from reproduce import cli
    from reproduce.experiments import QUICK, SCALES
    from reproduce.tables import render_tables
    from reproduce.tests.test_tables_figures import _fake_results

    monkeypatch.setattr(ae, "ensure_ae_data", lambda spec, work: work / "data")
    quick = cli._ae(QUICK, _AeRunner(tmp_path), tmp_path, {})
    assert quick["status"].startswith("not run: full run only") and "ae: full run only" in capsys.readouterr().out
    full = cli._ae(SCALES["full"], _AeRunner(tmp_path), tmp_path, {})
    assert full["status"] == "ok" and len(full["rows"]) == 2
    assert "## Table 4 in small, bottom-up" in render_tables({**_fake_results(), "ae": full})
    assert cli._seconds_per_part({**_fake_results(), "experiments": [], "ae": full}) == {"ae": full["seconds"]}
