"""enhancenet_runtime.engine.training: the framework-free training loop, driven by a pure-NumPy fake framework.

The fake "framework" fits ``w`` of ``y = x · w`` by SGD on (N, D) data; its data order is a function of
``(seed, epoch)`` and every hook call is recorded, so the tests can check where the loop stops, what it
checkpoints, that a resumed run continues at the saved position with the same result, and the CSV log.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from enhancenet_core.config import Config, TrainConfig, config_to_dict
from enhancenet_runtime.engine import training
from enhancenet_runtime.engine.checkpointing import describe_architecture
from enhancenet_runtime.engine.logs import LOG_FIELDS
from enhancenet_runtime.engine.training import (
    RunState,
    StepOutput,
    TrainHooks,
    checkpoint_dict,
    full_batches_per_epoch,
    lr_at_epoch,
    run_training_loop,
)

N, D, BATCH = 10, 3, 3  # 10 samples in batches of 3: 3 full batches per epoch (the last sample is dropped)
STEPS = N // BATCH


class FakeFramework:
    """SGD on ``mean((x·w - y)²)`` over batches of ``BATCH`` (x: (N, D), y: (N,), w: (D,)); records every hook call.

    ``save`` keeps a deep copy of the checkpoint (``w`` and :meth:`RunState.checkpoint_fields`) per name.
    """

    def __init__(self, tcfg: TrainConfig, out: Path, metrics: list[float | None] | None = None,
                 nan_at_step: int | None = None) -> None:
        data = np.random.default_rng(123)
        self.x = data.normal(size=(N, D))
        self.y = self.x @ np.array([1.0, -2.0, 0.5]) + 0.1 * data.normal(size=N)
        self.w = np.zeros(D)
        self.tcfg, self.out, self.metrics, self.nan_at_step = tcfg, out, metrics, nan_at_step
        self.lr = float(tcfg.lr)
        self.calls: list[tuple[Any, ...]] = []
        self.saved: dict[str, dict[str, Any]] = {}
        self.steps_taken = 0

    def batches(self, epoch: int, skip: int) -> Iterator[np.ndarray]:
        self.calls.append(("batches", epoch, skip))
        order = np.random.default_rng([self.tcfg.seed, epoch]).permutation(N)
        for b in range(skip, STEPS):
            yield order[b * BATCH : (b + 1) * BATCH]

    def on_epoch_start(self, epoch: int) -> None:
        self.calls.append(("start", epoch))
        self.lr = lr_at_epoch(self.tcfg, epoch)

    def on_epoch_end(self, epoch: int) -> None:
        self.calls.append(("end", epoch))

    def step(self, idx: np.ndarray) -> StepOutput:
        self.steps_taken += 1
        x, y = self.x[idx], self.y[idx]
        err = x @ self.w - y
        loss = float(np.mean(err**2))
        self.w = self.w - self.lr * (2.0 / len(idx)) * (x.T @ err)
        if self.nan_at_step is not None and self.steps_taken == self.nan_at_step:
            loss = float("nan")
        return StepOutput(loss=loss, loss_lr=loss / 2, loss_hr=None, lr=self.lr)

    def save(self, state: RunState, best: bool) -> Path:
        name = "best" if best else "last"
        self.calls.append(("save", name, state.epoch, state.batch_in_epoch, state.step))
        self.saved[name] = copy.deepcopy({"w": self.w, **state.checkpoint_fields(1, {"seed": self.tcfg.seed})})
        return self.out / name

    def validate(self, epoch: int) -> Mapping[str, Any] | None:
        self.calls.append(("validate", epoch))
        assert self.metrics is not None
        value = self.metrics[epoch]
        return None if value is None else {"metric": value, "metric_name": "AP"}

    def hooks(self, validate: bool = False, **kw: Any) -> TrainHooks:
        return TrainHooks(batches=self.batches, step=self.step, save=self.save, on_epoch_start=self.on_epoch_start,
                          on_epoch_end=self.on_epoch_end, validate=self.validate if validate else None, **kw)

    def saves(self) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == "save"]


def _tcfg(**kw: Any) -> TrainConfig:
    return dataclasses.replace(TrainConfig(), lr=0.05, lr_steps=(2,), lr_factor=0.5, batch_size=BATCH, **kw)


def _run(fw: FakeFramework, state: RunState | None = None, epochs: int = 4, resumed: bool = False,
         validate: bool = False, hooks: TrainHooks | None = None, **kw: Any) -> training.TrainResult:
    return run_training_loop(state or RunState(), hooks or fw.hooks(validate), epochs=epochs, steps_per_epoch=STEPS,
                             out_dir=fw.out, config={"train": {"epochs": epochs}}, resumed=resumed, progress=False,
                             **kw)


def _log(out: Path) -> list[dict[str, str]]:
    with (out / "train_log.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_full_run_steps_every_batch_and_checkpoints_each_epoch_end(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    result = _run(fw, epochs=2)
    assert (result.epoch, result.step, len(result.losses)) == (2, 2 * STEPS, 2 * STEPS)
    assert fw.calls[:2] == [("start", 0), ("batches", 0, 0)]
    assert [c for c in fw.calls if c[0] in ("end", "save")] == [
        ("end", 0), ("save", "last", 1, 0, 3), ("end", 1), ("save", "last", 2, 0, 6)]
    assert result.checkpoint == tmp_path / "last" and result.best_metric is None and result.history == []
    assert json.loads((tmp_path / "config.json").read_text()) == {"train": {"epochs": 2}}


def test_max_steps_inside_an_epoch_checkpoints_that_position(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    result = _run(fw, max_steps=5)
    assert (result.epoch, result.step) == (1, 5)
    # the end of epoch 0 (next: epoch 1, batch 0), then the stop after batch 2 of epoch 1
    assert fw.saves() == [("last", 1, 0, 3), ("last", 1, 2, 5)]
    assert ("end", 1) not in fw.calls  # the stopped epoch is not completed
    saved = fw.saved["last"]
    assert (saved["epoch"], saved["batch_in_epoch"], saved["step"]) == (1, 2, 5)


def test_max_steps_at_an_epoch_end_completes_that_epoch(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    result = _run(fw, max_steps=STEPS)
    assert (result.epoch, result.step) == (1, STEPS)
    assert fw.saves() == [("last", 1, 0, STEPS)] and ("end", 0) in fw.calls


@pytest.mark.parametrize("stop_at", [2, 5, 6])
def test_resume_continues_at_the_saved_position_with_the_same_result(tmp_path: Path, stop_at: int) -> None:
    full = FakeFramework(_tcfg(), tmp_path / "full")
    full_result = _run(full)

    first = FakeFramework(_tcfg(), tmp_path / "split")
    _run(first, max_steps=stop_at)
    saved = first.saved["last"]
    second = FakeFramework(_tcfg(), tmp_path / "split")
    second.w = saved["w"].copy()  # what a framework restores from its checkpoint
    state = RunState.from_checkpoint(saved)
    result = _run(second, state, resumed=True)

    assert second.calls[:2] == [("start", stop_at // STEPS), ("batches", stop_at // STEPS, stop_at % STEPS)]
    assert result.step == full_result.step and result.epoch == 4
    assert result.losses == full_result.losses[stop_at:]
    np.testing.assert_array_equal(second.w, full.w)  # bit for bit
    # the log of the resumed run holds every step once, with the losses of the run never stopped
    rows, full_rows = _log(tmp_path / "split"), _log(tmp_path / "full")
    assert [int(r["step"]) for r in rows] == list(range(1, 4 * STEPS + 1))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]


def test_a_resume_at_the_wrong_position_is_detected(tmp_path: Path) -> None:
    """The comparison above can fail: resuming one batch early repeats a step and changes the weights."""
    full = FakeFramework(_tcfg(), tmp_path / "full")
    _run(full)
    first = FakeFramework(_tcfg(), tmp_path / "split")
    _run(first, max_steps=5)
    second = FakeFramework(_tcfg(), tmp_path / "split")
    second.w = first.saved["last"]["w"].copy()
    state = RunState.from_checkpoint({**first.saved["last"], "batch_in_epoch": 1})
    _run(second, state, resumed=True)
    assert not np.array_equal(second.w, full.w)


def test_a_run_resumed_past_max_steps_does_nothing(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    result = _run(fw, RunState(epoch=1, step=5, batch_in_epoch=2), resumed=True, max_steps=5)
    assert (result.epoch, result.step, result.losses, result.checkpoint) == (1, 5, [], None)
    assert fw.calls == []


@pytest.mark.parametrize("max_steps", [-1, 0, 2.5, True])
def test_max_steps_must_be_a_positive_integer(tmp_path: Path, max_steps: Any) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    with pytest.raises(ValueError, match=rf"^max_steps: expected None or an integer >= 1, got {max_steps!r}$"):
        _run(fw, max_steps=max_steps)
    assert fw.calls == [] and not (tmp_path / "config.json").exists()  # refused before anything ran


def test_checkpoint_every_saves_at_its_multiples_of_the_step(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    _run(fw, epochs=2, checkpoint_every=2)
    assert fw.saves() == [
        ("last", 0, 2, 2),  # step 2, inside epoch 0
        ("last", 1, 0, 3),  # end of epoch 0
        ("last", 1, 1, 4),
        ("last", 1, 3, 6),  # step 6 is the last batch of epoch 1: saved before the epoch is completed
        ("last", 2, 0, 6),  # end of epoch 1
    ]


def test_best_model_follows_the_highest_metric(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, metrics=[0.5, 0.7, 0.6, 0.9])
    result = _run(fw, validate=True)
    assert (result.best_metric, result.best_epoch) == (0.9, 3)
    assert result.history == [{"epoch": e, "step": (e + 1) * STEPS, "AP": m} for e, m in enumerate([0.5, 0.7, 0.6, 0.9])]
    best_saves = [s for s in fw.saves() if s[0] == "best"]
    assert best_saves == [("best", 1, 0, 3), ("best", 2, 0, 6), ("best", 4, 0, 12)]  # not after epoch 2 (0.6)
    # validation follows the scheduler step of its epoch; the best model is written before checkpoint_last
    i = fw.calls.index(("end", 1))
    assert fw.calls[i + 1 : i + 4] == [("validate", 1), ("save", "best", 2, 0, 6), ("save", "last", 2, 0, 6)]
    assert fw.saved["best"]["best_epoch"] == 3 and fw.saved["best"]["metric_name"] == "AP"


def test_best_tracking_continues_after_resume(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, metrics=[0.5, 0.9, 0.6, 0.8])
    _run(fw, validate=True, max_steps=7)
    state = RunState.from_checkpoint(fw.saved["last"])
    assert (state.best_metric, state.best_epoch, len(state.history)) == (0.9, 1, 2)
    again = FakeFramework(_tcfg(), tmp_path, metrics=[0.5, 0.9, 0.6, 0.8])
    result = _run(again, state, validate=True, resumed=True)
    assert (result.best_metric, result.best_epoch) == (0.9, 1)  # 0.6 and 0.8 are not better
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3]
    assert not [s for s in again.saves() if s[0] == "best"]


def test_no_metric_means_no_history_and_no_best_model(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, metrics=[None, None])
    result = _run(fw, epochs=2, validate=True)
    assert ("validate", 0) in fw.calls and result.history == [] and result.best_metric is None
    assert all(s[0] == "last" for s in fw.saves())


def test_non_finite_loss_raises_naming_step_and_epoch(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, nan_at_step=5)
    with pytest.raises(FloatingPointError, match=r"^training loss is nan at step 5 \(epoch 1\)$"):
        _run(fw)
    assert [int(r["step"]) for r in _log(tmp_path)] == [1, 2, 3, 4]  # the log is closed with the finite steps
    assert fw.saves() == [("last", 1, 0, 3)]  # nothing is saved after the bad step


def test_csv_log_rows(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path)
    result = _run(fw, epochs=3)
    text = (tmp_path / "train_log.csv").read_text().splitlines()
    assert text[0] == ",".join(LOG_FIELDS)
    rows = _log(tmp_path)
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(e, e * STEPS + b + 1) for e in range(3)
                                                                for b in range(STEPS)]
    assert [float(r["loss"]) for r in rows] == result.losses
    assert all(float(r["loss_lr"]) == float(r["loss"]) / 2 and r["loss_hr"] == "" for r in rows)
    assert [float(r["lr"]) for r in rows] == [0.05] * 6 + [0.025] * 3  # lr_steps=(2,), factor 0.5
    assert all(float(r["seconds"]) >= 0 for r in rows)


def test_log_scalar_receives_the_train_and_val_scalars(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, metrics=[0.5])
    scalars: list[tuple[str, float, int]] = []
    _run(fw, epochs=1, hooks=fw.hooks(True, log_scalar=lambda t, v, s: scalars.append((t, v, s))))
    assert [t for t, _, _ in scalars] == ["train/loss", "train/lr"] * STEPS + ["val/AP"]
    assert scalars[-1] == ("val/AP", 0.5, STEPS)


def test_other_ranks_write_no_files_and_take_metrics_from_the_broadcast(tmp_path: Path) -> None:
    fw = FakeFramework(_tcfg(), tmp_path, metrics=[0.5, 0.7])
    shared = {"metric": 0.8, "metric_name": "AP"}
    hooks = fw.hooks(True, broadcast=lambda obj: shared if obj is None else pytest.fail("rank 1 validated"))
    result = _run(fw, epochs=2, hooks=hooks, is_main=False)
    assert list(tmp_path.iterdir()) == []  # no config.json, no log
    assert not [c for c in fw.calls if c[0] == "validate"]  # only the main process validates
    assert result.history == [{"epoch": 0, "step": 3, "AP": 0.8}, {"epoch": 1, "step": 6, "AP": 0.8}]
    assert (result.best_metric, result.best_epoch) == (0.8, 0)  # every rank tracks the same best
    assert ("save", "best", 1, 0, 3) in fw.calls  # save runs on every rank (the framework decides who writes)


def test_run_state_checkpoint_round_trip_and_key_order() -> None:
    state = RunState(epoch=2, step=7, batch_in_epoch=1, best_metric=0.4, best_epoch=1, metric_name="PCKh",
                     history=[{"epoch": 1, "step": 6, "PCKh": 0.4}])
    fields = state.checkpoint_fields(2, ["r0", "r1"], mode="graph")
    assert list(fields) == ["epoch", "batch_in_epoch", "step", "world_size", "mode", "rng", "best_metric",
                            "best_epoch", "metric_name", "history"]
    assert RunState.from_checkpoint(fields) == state
    old = {"epoch": "3", "step": 9, "batch_in_epoch": 0}  # an older checkpoint without best/history
    assert RunState.from_checkpoint(old) == RunState(epoch=3, step=9)
    with pytest.raises(KeyError, match="batch_in_epoch"):
        RunState.from_checkpoint({"epoch": 0, "step": 0})


def test_checkpoint_dict_holds_the_common_fields_around_the_framework_entries() -> None:
    cfg = Config()
    ckpt = checkpoint_dict(RunState(step=4), cfg, "enhancenet-x-checkpoint", 1, {"model": {"w": 1}, "optimizer": {}},
                           world_size=1, rng=[{"python": 0}])
    assert list(ckpt)[:6] == ["format", "version", "architecture", "config", "model", "optimizer"]
    assert list(ckpt)[6:] == list(RunState().checkpoint_fields(1, None))
    assert ckpt["architecture"] == describe_architecture(cfg.model) and ckpt["config"] == config_to_dict(cfg)
    assert (ckpt["format"], ckpt["step"], ckpt["rng"]) == ("enhancenet-x-checkpoint", 4, [{"python": 0}])


def _multistep_lrs(lr: float, milestones: tuple[int, ...], gamma: float, epochs: int) -> list[float]:
    """torch's MultiStepLR, stepped once per epoch: the lr in use during each epoch."""
    out, current = [], lr
    for epoch in range(epochs):
        out.append(current)
        current *= gamma ** list(milestones).count(epoch + 1)  # scheduler.step() after the epoch
    return out


@pytest.mark.parametrize(("steps", "factor"), [((2,), 0.5), ((1, 3), 0.1), ((170, 200), 0.1), ((), 0.1)])
def test_lr_at_epoch_matches_multistep_lr(steps: tuple[int, ...], factor: float) -> None:
    tcfg = dataclasses.replace(TrainConfig(), lr=1e-3, lr_steps=steps, lr_factor=factor)
    want = _multistep_lrs(1e-3, steps, factor, 210)
    got = [lr_at_epoch(tcfg, e) for e in range(210)]
    assert got == pytest.approx(want, rel=1e-12)
    assert got[0] == 1e-3 and len(set(got)) == len(steps) + 1


def test_full_batches_per_epoch_and_the_error_for_none() -> None:
    assert full_batches_per_epoch(10, 4, 10, 1) == 2
    assert full_batches_per_epoch(5, 5, 10, 2) == 1
    msg = ("train.batch_size=4: larger than the 3 training samples per process (5 samples, 2 processes); "
           "no full batch to train on")
    with pytest.raises(ValueError, match=f"^{msg.replace('(', '[(]').replace(')', '[)]')}$"):
        full_batches_per_epoch(3, 4, 5, 2)


def test_rank_info() -> None:
    single, second = training.RankInfo(), training.RankInfo(rank=1, world_size=2)
    assert single.is_main and not single.distributed
    assert second.distributed and not second.is_main
