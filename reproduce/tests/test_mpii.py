"""The MPII grid of reproduce.mpii (hourglass and DLCM, base vs +EnhanceNet) and its table, without training."""

from __future__ import annotations

from pathlib import Path

import pytest

from reproduce import mpii
from reproduce.experiments import EvalRun, TrainRun
from reproduce.mpii import FULL_MPII, QUICK_MPII, mpii_grid, render_mpii_table
from reproduce.runner import RunFailed


def test_full_grid_is_two_models_two_variants_three_seeds_in_torch() -> None:
    rows = mpii_grid(FULL_MPII)
    assert [(m, v.name) for m, v, _ in rows] == [("hourglass", "base"), ("hourglass", "enhancenet"),
                                                 ("dlcm", "base"), ("dlcm", "enhancenet")]
    runs = [ev.train for _, _, evs in rows for ev in evs]
    assert len(runs) == 12 and len({r.key for r in runs}) == 12 and {r.framework for r in runs} == {"torch"}
    pre = {m: mpii.mpii_pretrain(FULL_MPII, m) for m in ("hourglass", "dlcm")}
    assert all(r.pretrain == pre[r.tag.removeprefix("mpii-")] for r in runs)  # each model from its own network
    assert all(dict(r.overrides)["model.base.pretrained_scope"] == "base" for r in runs)
    assert pre["dlcm"].config == "mpii_dlcm_256x256_base" and pre["dlcm"].max_steps == 600
    assert dict(pre["dlcm"].overrides)["train.epochs"] == "5" and pre["dlcm"].data != FULL_MPII.data
    assert {r.config for r in runs} == {"mpii_hourglass_2stage_256x256_base", "mpii_hourglass_2stage_256x256_enhancenet",
                                        "mpii_dlcm_256x256_base", "mpii_dlcm_256x256_enhancenet"}
    assert [m for m, _, _ in mpii_grid(QUICK_MPII)] == ["dlcm", "dlcm"]


def test_table_names_the_legacy_threshold() -> None:
    m = {"pckh@0.5": 50.0, "pckh@0.1": 10.0, "pckh_legacy_hrnet_0.1": 12.0, "head_pckh@0.1": 20.0}
    table = render_mpii_table([{"model": "dlcm", "variant": "+EnhanceNet", "metrics": [m, {**m, "pckh@0.5": 52.0}]}])
    assert "α = 0.11" in table and "51.00 ± 1.41" in table


def _metrics(bump: float, seed: int) -> dict:
    alphas = [0.0, 0.1, 0.2]
    return {"pckh@0.5": 50.0 + bump + seed, "pckh@0.1": 10.0 + bump + 0.5 * seed, "pckh_legacy_hrnet_0.1": 12.0,
            "head_pckh@0.1": 20.0 + bump, "alphas": alphas, "head": [0.0, 20.0, 60.0], "ankle": [0.0, 10.0, 40.0]}


class _FakeRunner:
    """Runner's train / evaluate / eval_dir, recording calls; ``fail`` names runs whose training fails."""

    def __init__(self, tmp: Path, fail: str = "") -> None:
        self.pythons, self.tmp, self.fail, self.calls = {"torch": "python"}, tmp, fail, []

    def train(self, run: TrainRun, data_root: Path) -> dict:
        if self.fail and self.fail in run.name:
            raise RunFailed(f"{run.name}: boom")
        self.calls.append(("train", run.key))
        return {"seconds": 2.0}

    def pretrain(self, run: TrainRun, data_root: Path) -> dict:
        if self.fail and self.fail in run.name:
            raise RunFailed(f"{run.name}: boom")
        self.calls.append(("pretrain", run.key))
        return {"seconds": 5.0, "convert_seconds": 1.0}

    def evaluate(self, ev: EvalRun, data_root: Path) -> dict:
        self.calls.append(("eval", ev.key))
        return {"wall_seconds": 0.5}

    def eval_dir(self, ev: EvalRun) -> Path:
        return self.tmp / ev.key


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mpii, "ensure_mpii_data", lambda spec, work: work / "data")
    monkeypatch.setattr(mpii, "mpii_metrics", lambda d, root: _metrics(1.0 if "enhancenet" in str(d) else 0.0, 0))


def test_run_mpii_trains_evaluates_and_times_every_run(tmp_path: Path, no_data: None) -> None:
    runner = _FakeRunner(tmp_path)
    out = mpii.run_mpii(runner, FULL_MPII, tmp_path)
    assert out["status"] == "ok" and out["scale"] == "full" and out["seconds"] == 2 * 6 + 12 * 2.5
    assert [len(r["metrics"]) for r in out["rows"]] == [3, 3, 3, 3] and len(runner.calls) == 2 + 24
    assert [c[0] for c in runner.calls[:2]] == ["pretrain", "pretrain"]
    lost: dict[str, str] = {}
    no_dlcm = mpii.run_mpii(_FakeRunner(tmp_path, fail="dlcm-pretrain"), FULL_MPII, tmp_path, lost)
    assert no_dlcm["status"].startswith("partial: 6") and [r["model"] for r in no_dlcm["rows"]] == 2 * ["hourglass"]
    assert len(lost) == 1
    failures: dict[str, str] = {}
    bad = mpii.run_mpii(_FakeRunner(tmp_path, fail="seed1"), FULL_MPII, tmp_path, failures)
    assert bad["status"].startswith("partial: 4") and len(failures) == 4
    assert [len(r["metrics"]) for r in bad["rows"]] == [2, 2, 2, 2]
    no_torch = _FakeRunner(tmp_path)
    no_torch.pythons = {"paddle": "python"}
    assert "PyTorch" in mpii.run_mpii(no_torch, FULL_MPII, tmp_path)["status"]


def _result() -> dict:
    rows = [{"model": m, "variant": label, "metrics": [_metrics(bump, s) for s in (0, 1, 2)]}
            for m in ("hourglass", "dlcm") for label, bump in (("base model", 0.0), ("+EnhanceNet", 1.0))]
    rows[3]["metrics"][1]["pckh@0.5"] += 0.5  # spread in one difference: a testable pair
    return {"status": "ok", "scale": "full", "rows": rows, "seconds": 30.0}


def test_section_table_paired_tests_and_figure(tmp_path: Path) -> None:
    md = "\n".join(mpii.mpii_section(_result()))
    assert "## Tables 1 and 3 in small: MPII" in md and "| DLCM | +EnhanceNet | 3 |" in md
    assert "- DLCM pckh@0.5: +1.17 [" in md and "Holm p = " in md
    assert "- Hourglass (2 stacks) pckh@0.5: +1.00 (n = 3: no interval)" in md  # equal differences: no spread
    assert mpii.mpii_section(None) == []
    assert "Not run: full run only" in "\n".join(mpii.mpii_section({"status": "not run: full run only", "rows": []}))
    png = mpii.render_fig5(_result()["rows"], tmp_path / "fig5_mpii.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_cli_quick_skips_full_records_tables_seconds_and_figure(tmp_path: Path, no_data: None,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from reproduce import cli
    from reproduce.experiments import QUICK, SCALES
    from reproduce.tables import render_tables
    from reproduce.tests.test_tables_figures import _fake_results

    quick = cli._mpii(QUICK, _FakeRunner(tmp_path), tmp_path, {})
    assert quick["status"].startswith("not run: full run only") and "mpii: full run only" in capsys.readouterr().out
    full = cli._mpii(SCALES["full"], _FakeRunner(tmp_path), tmp_path, {})
    assert full["status"] == "ok" and len(full["rows"]) == 4
    results = {**_fake_results(), "mpii": _result()}
    assert "## Tables 1 and 3 in small: MPII" in render_tables(results)
    assert "Not run: full run only" in render_tables({**_fake_results(), "mpii": quick})
    assert cli._seconds_per_part({**results, "experiments": []}) == {"mpii": 30.0}
    assert "mpii" not in cli._seconds_per_part({**results, "experiments": [], "mpii": quick})
