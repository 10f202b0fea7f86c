"""Grid, hashes and resume logic (no framework is run)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from reproduce.experiments import FULL, QUICK, TABLE5, EvalRun, build_grid
from reproduce.runner import RunFailed, Runner


def test_full_grid_counts_and_sharing() -> None:
    g = build_grid(FULL, ["torch", "paddle", "mindspore"])
    # 3 frameworks x 2 variants x 3 seeds, the 10 Table 5 rows that are not the default run, the longer
    # schedule's pair and its Eq. 7-sum +EnhanceNet x 3 seeds and CPN's pair x 3 seeds in the reference framework
    assert len(g.trains) == 3 * 2 * 3 + 10 + 3 * 3 + 2 * 3
    # the default F+M/C=128/subpixel/r=4 run is shared by Table 4 and all four Table 5 sub-tables
    default = [e for e in g.experiments if e.table in ("table5a", "table5b", "table5c", "table5d")
               and e.variant.name == "enhancenet"]
    assert len(default) == 4 and len({e.evals[0].key for e in default}) == 1
    t4 = next(e for e in g.experiments if e.table == "table4" and e.framework == "torch" and e.variant.name == "enhancenet")
    assert default[0].evals[0].key == t4.evals[0].key
    # decoders, every seed: base LR x 3 (one shared with Table 4) + EnhanceNet LR x 3 + HR x 3 (one shared) = 7
    # more per seed; Table 5(d) again under HRNet's flip shift: 4 more
    assert len(g.evals) == len(g.trains) + 7 * 3 + 4
    assert g.reference_framework == "torch"


def test_long_schedule_runs_only_in_the_reference_framework_with_its_epochs() -> None:
    g = build_grid(FULL, ["paddle", "torch"])
    long = [e for e in g.experiments if e.table == "table4_long"]
    assert [e.variant.name for e in long] == ["base", "enhancenet", "enhancenet_sum"]
    runs = [ev.train for e in long[:2] for ev in e.evals]
    assert {r.framework for r in runs} == {"paddle"}  # the first framework given is the reference
    assert [r.seed for r in runs] == [*FULL.seeds, *FULL.seeds]
    for run in runs:
        sets = dict(run.overrides)
        assert len(sets) == len(run.overrides)  # one value per key: the schedule's replaces the scale's
        assert sets["train.epochs"] == "8" and sets["train.lr_steps"] == "[6]"
        assert run.max_steps is None and run.name.endswith("-long")
    short = {(ev.train.variant.name, ev.train.seed): ev.train for e in g.experiments if e.table == "table4"
             and e.framework == "paddle" for ev in e.evals}
    assert all(short[(r.variant.name, r.seed)].key != r.key for r in runs)
    assert all(dict(short[(r.variant.name, r.seed)].overrides)["train.epochs"] == "1" for r in runs)


def test_table5_variants_cover_the_paper() -> None:
    names = {v.name for _s, _t, vs in TABLE5 for v in vs}
    assert {"in_F", "in_M", "c64", "c256", "bilinear_conv3", "deconv3", "deconv12", "r2", "r3", "r5"} < names


def test_hash_changes_with_what_changes_the_result() -> None:
    g = build_grid(QUICK, ["torch"])
    run = g.trains[0]
    assert replace(run, seed=run.seed).key == run.key
    assert replace(run, framework="paddle").key != run.key
    assert replace(run, overrides=(*run.overrides, ("train.lr", "0.01"))).key != run.key
    assert replace(run, max_steps=99).key != run.key
    # order of overrides does not matter
    assert replace(run, overrides=tuple(reversed(run.overrides))).key == run.key
    assert EvalRun(run, "dark").key != EvalRun(run).key


def test_base_model_use_hr_is_irrelevant() -> None:
    g = build_grid(QUICK, ["torch"])
    base = next(t for t in g.trains if t.variant.name == "base")
    assert EvalRun(base, use_hr=True).key == EvalRun(base, use_hr=False).key
    enh = next(t for t in g.trains if t.variant.name == "enhancenet")
    assert EvalRun(enh, use_hr=True).key != EvalRun(enh, use_hr=False).key


def test_unknown_or_no_framework() -> None:
    with pytest.raises(ValueError, match="framework"):
        build_grid(QUICK, ["jax"])
    with pytest.raises(ValueError, match="no framework"):
        build_grid(QUICK, [])


def test_resume_skips_finished_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = build_grid(QUICK, ["torch"])
    runner = Runner(tmp_path, {"torch": "/nonexistent/python"})
    calls: list[list[str]] = []

    def fake_call(framework: str, args: list[str], log_file: Path) -> float:
        calls.append(args)
        out = Path(args[args.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        if args[0] == "train":
            (out / "checkpoint_last.pt").write_bytes(b"x")
        else:
            (out / "results.json").write_text(json.dumps({"metrics": {}}))
        return 1.5

    monkeypatch.setattr(runner, "_call", fake_call)
    backbone = runner.backbone(g.pretrain)  # as if pretrained already
    backbone.parent.mkdir(parents=True)
    backbone.write_bytes(b"w")
    run, ev = g.trains[0], g.evals[0]
    first = runner.train(run, tmp_path / "data")
    assert not first["cached"] and runner.train_done(run)
    again = runner.train(run, tmp_path / "data")
    assert again["cached"] and again["seconds"] == 1.5
    runner.evaluate(ev, tmp_path / "data")
    runner.evaluate(ev, tmp_path / "data")
    assert [c[0] for c in calls] == ["train", "eval"]
    # a changed experiment is a different directory: it runs
    other = replace(run, overrides=(*run.overrides, ("train.lr", "0.01")))
    runner.train(other, tmp_path / "data")
    assert [c[0] for c in calls] == ["train", "eval", "train"]
    assert "--max-steps" in calls[0] and f"data.root={tmp_path / 'data'}" in calls[0]


def test_every_run_starts_from_the_one_pretrained_backbone() -> None:
    g = build_grid(QUICK, ["paddle", "torch"])
    pre = g.pretrain
    assert pre is not None and pre.framework == "paddle" and not pre.variant.has_head
    assert pre.data != QUICK.data and pre.data.seed != QUICK.data.seed  # the experiments' val set stays unseen
    # every SimpleBaseline run starts from it; the CPN runs from CPN's own pretraining (another architecture)
    assert all(t.pretrain == (g.cpn_pretrain if "cpn" in t.tag else pre) for t in g.trains) and pre not in g.trains
    # another pretraining is another backbone: every run that starts from it changes
    other = replace(pre, max_steps=3)
    assert replace(g.trains[0], pretrain=other).key != g.trains[0].key
    assert replace(g.trains[0], pretrain=None).key != g.trains[0].key


def test_pretrain_converts_once_and_runs_load_the_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = build_grid(QUICK, ["torch"])
    runner = Runner(tmp_path, {"torch": "/nonexistent/python"})
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], log_file: Path) -> float:
        calls.append(cmd)
        if cmd[1:3] == ["-m", "enhancenet_runtime.convert"]:
            Path(cmd[4]).write_bytes(b"weights")
        else:
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "checkpoint_last.pt").write_bytes(b"x")
        return 2.0

    monkeypatch.setattr(runner, "_run", fake_run)
    run = g.trains[0]
    with pytest.raises(RunFailed, match=r"pretrained backbone .* does not exist"):
        runner.train(run, tmp_path / "data")
    record = runner.pretrain(g.pretrain, tmp_path / "pre")
    assert record["convert_seconds"] == 2.0 and runner.backbone(g.pretrain).read_bytes() == b"weights"
    convert = calls[-1]
    assert convert[3] == str(runner.checkpoint(g.pretrain)) and convert[5:] == ["--torch-python", "/nonexistent/python"]
    again = runner.pretrain(g.pretrain, tmp_path / "pre")
    assert again["cached"] and again["convert_seconds"] is None and len(calls) == 2
    runner.train(run, tmp_path / "data")
    assert f"model.base.pretrained={runner.backbone(g.pretrain)}" in calls[-1]
    assert "model.base.pretrained=" not in " ".join(calls[0])  # the pretraining itself starts from scratch


def test_evidence_parts_of_the_grid() -> None:
    for scale in (FULL, QUICK):  # quick exercises every part
        g = build_grid(scale, ["torch", "paddle"])
        tables = {e.table for e in g.experiments}
        assert {"table4_long", "cpn", "table5d_hrnet", "decoders"} <= tables
        side = scale.side_seeds or scale.seeds  # quick's trim: one seed beside the reference pair
        # the Eq. 7 variant: the long schedule's +EnhanceNet with the HR term summed, over every (side) seed
        sums = [e for e in g.experiments if e.table == "table4_long" and e.variant.name == "enhancenet_sum"]
        assert len(sums) == (scale is FULL) and all(len(e.evals) == len(side) for e in sums)  # quick: left out
        assert all(dict(ev.train.overrides)["loss.hr_reduction"] == "sum" for e in sums for ev in e.evals)
        assert {e.variant.name for e in g.experiments if e.table == "table4_long"} >= {"base", "enhancenet"}
        # CPN: its own pretraining (a CPN base model), OHKM, every seed, reference framework only
        cpn = [ev.train for e in g.experiments if e.table == "cpn" for ev in e.evals]
        assert g.cpn_pretrain is not None and g.pretrains == (g.pretrain, g.cpn_pretrain)
        assert dict(g.cpn_pretrain.overrides)["model.base.name"] == "cpn"
        assert len(cpn) == 2 * len(scale.cpn_seeds or scale.seeds) and {t.framework for t in cpn} == {"torch"}
        assert all(t.pretrain is g.cpn_pretrain and dict(t.overrides)["loss.ohkm"] == "true" for t in cpn)
        # Table 5(d) under both flip rules on the same trained models; the exact rule is the default everywhere
        hrnet = [ev for e in g.experiments if e.table == "table5d_hrnet" for ev in e.evals]
        exact = {ev.train.key for e in g.experiments if e.table == "table5d" for ev in e.evals}
        assert hrnet and {ev.train.key for ev in hrnet} == exact and all(ev.flip_shift == "hrnet" for ev in hrnet)
        assert all(ev.flip_shift == "exact" for ev in g.evals if ev not in hrnet)
        assert all(dict(ev.overrides)["test.flip_shift"] == ev.flip_shift for ev in g.evals)
        # every decoder on both maps of +EnhanceNet (and the base's M^LR), over every seed
        dec = [e for e in g.experiments if e.table == "decoders"]
        cells = {(e.variant.name, e.evals[0].maps, e.evals[0].decoder) for e in dec}
        assert len(dec) == (3 * 3 if scale is FULL else 5) and all(len(e.evals) == len(side) for e in dec)
        assert {c[2] for c in cells} == {"argmax_quarter", "dark", "unbiased"}  # quick: each decoder at least once
        assert {("base", "lr", "argmax_quarter"), ("enhancenet", "lr", "argmax_quarter"),
                ("enhancenet", "hr", "argmax_quarter")} <= cells  # a head- and a training-effect comparison
        # the reference pair over every seed (the paired test), the other frameworks' pairs over the side seeds
        t4 = {e.framework: len(e.evals) for e in g.experiments if e.table == "table4"}
        assert t4 == {"torch": len(scale.seeds), "paddle": len(side)}
        assert {(e.variant.name, e.evals[0].maps) for e in dec} == {("base", "lr"), ("enhancenet", "lr"),
                                                                    ("enhancenet", "hr")}
    run = build_grid(QUICK, ["torch"]).trains[0]
    assert EvalRun(run, flip_shift="hrnet").key != EvalRun(run).key
