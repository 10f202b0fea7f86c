"""The framework-free half of every implementation's training loop, written once.

A framework's ``train(...)`` builds its model, optimizer, scheduler, data loader and (for several processes) its
process group, restores them from a checkpoint, then hands the loop to :func:`run_training_loop` through
:class:`TrainHooks`: plain callables for what only the framework can do (iterate its loader from a position,
take one optimizer step and report the loss as python floats, serialise a checkpoint, evaluate). This module
holds the rest:

* :class:`RunState`: the position ``(epoch, batch_in_epoch, step)``, the best validation metric and the
  validation history; read from a checkpoint (:meth:`RunState.from_checkpoint`) and written into one
  (:meth:`RunState.checkpoint_fields`);
* :func:`run_training_loop`: epochs and batches, ``max_steps`` (a stop in the middle of an epoch checkpoints
  that position), ``checkpoint_every``, the finite-loss check, ``config.json``, the ``train_log.csv`` rows
  (:data:`~enhancenet_runtime.engine.logs.LOG_FIELDS`), the progress bar, validation and the best model;
* :func:`full_batches_per_epoch`: batches per epoch, with the error for a batch larger than a process's data;
* :func:`lr_at_epoch`: the piecewise-constant learning rate of an epoch (``MultiStepLR``);
* :class:`TrainResult`: what every ``train(...)`` returns; :class:`RankInfo`: a process's rank.

Nothing here draws random numbers, so moving the loop here leaves every framework's RNG consumption as it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enhancenet_core.config import Config, TrainConfig, config_to_dict
from enhancenet_core.files import remove_stale_temp_files
from enhancenet_runtime.engine.checkpointing import describe_architecture
from enhancenet_runtime.engine.io import atomic_write_json
from enhancenet_runtime.engine.logs import CsvLog, progress_bar

__all__ = [
    "RankInfo",
    "RunState",
    "StepOutput",
    "TrainHooks",
    "TrainResult",
    "checkpoint_dict",
    "full_batches_per_epoch",
    "lr_at_epoch",
    "run_training_loop",
]


@dataclass(frozen=True)
class RankInfo:
    """This process: ``rank`` of ``world_size`` processes. Frameworks subclass it with their device fields."""

    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class TrainResult:
    """What every framework's ``train(...)`` returns (on every rank)."""

    out_dir: Path
    epoch: int  # epoch in progress (== epochs when finished)
    step: int  # global optimizer steps done in the whole run
    losses: list[float]  # the mean loss of every step of this call (all ranks averaged)
    best_metric: float | None
    best_epoch: int | None
    checkpoint: Path | None  # the last checkpoint written (rank 0), else None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation metrics per epoch


@dataclass
class RunState:
    """Where a run stands: the next batch is ``batch_in_epoch`` (0-based) of 0-based ``epoch``, after ``step``
    optimizer steps in the whole run; the best validation ``metric_name`` so far (``best_metric`` after epoch
    ``best_epoch``) and every validation as ``{"epoch", "step", metric_name: value}`` in ``history``."""

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None
    metric_name: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, Any]) -> RunState:
        """The state a training checkpoint recorded (``epoch``, ``step``, ``batch_in_epoch`` are required)."""
        return cls(
            epoch=int(ckpt["epoch"]),
            step=int(ckpt["step"]),
            batch_in_epoch=int(ckpt["batch_in_epoch"]),
            best_metric=ckpt.get("best_metric"),
            best_epoch=ckpt.get("best_epoch"),
            metric_name=ckpt.get("metric_name"),
            history=list(ckpt.get("history", [])),
        )

    def checkpoint_fields(self, world_size: int, rng: Any, **extra: Any) -> dict[str, Any]:
        """The entries every framework's checkpoint holds after its own (format, model, optimizer, ...), in this
        order: ``epoch``, ``batch_in_epoch``, ``step``, ``world_size``, then ``extra``, ``rng`` (the RNG states
        to restore), ``best_metric``, ``best_epoch``, ``metric_name``, ``history``."""
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "world_size": world_size,
            **extra,
            "rng": rng,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "metric_name": self.metric_name,
            "history": self.history,
        }


@dataclass(frozen=True)
class StepOutput:
    """One optimizer step as python floats: ``loss`` averaged over all ranks, this rank's ``loss_lr`` and
    ``loss_hr`` (``None`` without the head) and the learning rate the step used."""

    loss: float
    loss_lr: float
    loss_hr: float | None
    lr: float


@dataclass(frozen=True)
class TrainHooks:
    """What :func:`run_training_loop` asks of a framework.

    Attributes:
        batches: ``(epoch, skip) -> iterable`` of the batches of ``epoch`` after its first ``skip`` (the data
            order is a function of the seed and the epoch, so a resumed run reads the same batches).
        step: ``batch -> StepOutput``: forward, loss, backward, optimizer step (and the all-reduce of the loss).
        save: ``(state, best) -> path | None``: write ``model_best`` (``best``) or ``checkpoint_last`` from
            ``state`` (:meth:`RunState.checkpoint_fields`); called on every rank (collectives allowed), returns
            the file on the rank that wrote it, else ``None``.
        on_epoch_start: ``epoch -> None`` before the epoch's batches (train mode, the epoch's learning rate).
        on_epoch_end: ``epoch -> None`` once the epoch is complete, before validation (the scheduler step).
        validate: ``epoch -> {"metric", "metric_name"} | None`` after the completed ``epoch`` (higher is better),
            on the main process only; ``None`` (the hook or its answer): no validation, no best model.
        broadcast: ``obj -> obj``: the main process's ``obj`` on every process (a collective), so that every
            rank records the same validation; ``None``: the other processes record none.
        log_scalar: ``(tag, value, step) -> None`` on the main process, e.g. TensorBoard (``train/loss``,
            ``train/lr`` each step, ``val/<metric_name>`` after validation).
    """

    batches: Callable[[int, int], Iterable[Any]]
    step: Callable[[Any], StepOutput]
    save: Callable[[RunState, bool], Path | None]
    on_epoch_start: Callable[[int], object] | None = None  # the return value is ignored
    on_epoch_end: Callable[[int], object] | None = None
    validate: Callable[[int], Mapping[str, Any] | None] | None = None
    broadcast: Callable[[Any], Any] | None = None
    log_scalar: Callable[[str, float, int], object] | None = None


def checkpoint_dict(
    state: RunState, cfg: Config, fmt: str, version: int, framework: Mapping[str, Any], world_size: int, rng: Any
) -> dict[str, Any]:
    """A training checkpoint: ``format`` (``fmt``), ``version``, ``architecture`` (:func:`~enhancenet_runtime.engine.
    checkpointing.describe_architecture`), ``config`` (plain dict), the ``framework`` entries (model, optimizer,
    ...), then :meth:`RunState.checkpoint_fields`."""
    return {
        "format": fmt,
        "version": version,
        "architecture": describe_architecture(cfg.model),
        "config": config_to_dict(cfg),
        **framework,
        **state.checkpoint_fields(world_size, rng),
    }


def lr_at_epoch(cfg: TrainConfig, epoch: int) -> float:
    """The learning rate of 0-based ``epoch``: ``lr × lr_factor ** #{m in lr_steps : m ≤ epoch}`` (MultiStepLR)."""
    return float(cfg.lr) * float(cfg.lr_factor) ** sum(int(epoch) >= int(m) for m in cfg.lr_steps)


def full_batches_per_epoch(samples_per_process: int, batch_size: int, num_samples: int, world_size: int) -> int:
    """Full batches of ``batch_size`` in the ``samples_per_process`` samples a process reads per epoch.

    Raises:
        ValueError: not one full batch (names ``train.batch_size``, the samples and the processes).
    """
    steps = int(samples_per_process) // int(batch_size)
    if steps == 0:
        raise ValueError(
            f"train.batch_size={batch_size}: larger than the {samples_per_process} training samples per "
            f"process ({num_samples} samples, {world_size} processes); no full batch to train on"
        )
    return steps


def run_training_loop(
    state: RunState,
    hooks: TrainHooks,
    *,
    epochs: int,
    steps_per_epoch: int,
    out_dir: Path,
    config: Mapping[str, Any],
    resumed: bool,
    is_main: bool = True,
    max_steps: int | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
) -> TrainResult:
    """Train from ``state`` (updated in place) to the end of epoch ``epochs - 1`` or to step ``max_steps``.

    On the main process first removes the temporary files an interrupted atomic write left in ``out_dir``
    (``.<name>.XXXXXXXX.tmp``), then writes ``config`` to ``out_dir/config.json`` and one ``train_log.csv`` row per step
    (a resumed run first drops the rows past ``state.step``), and shows a progress bar when ``progress``.
    Checkpoints (``hooks.save``): every ``checkpoint_every`` steps (0: never), at a ``max_steps`` stop inside an
    epoch (at that position), and after each complete epoch (after the best model, when the validation metric
    is the highest so far).

    Args:
        state: the run's position and best metric; :meth:`RunState.from_checkpoint` when resuming.
        hooks: the framework's callables.
        epochs: epochs of the whole run (``train.epochs``).
        steps_per_epoch: batches per epoch on each process (:func:`full_batches_per_epoch`).
        out_dir: the run directory (exists on the main process).
        config: the JSON form of the config.
        resumed: ``state`` comes from a checkpoint (the CSV log is kept up to ``state.step``).
        is_main: this process writes the files.
        max_steps: stop after this many optimizer steps of the whole run; ``None``: all epochs.
        checkpoint_every: also checkpoint every this many steps.
        progress: a progress bar on the main process.

    Returns:
        The :class:`TrainResult` (``losses`` of this call only).

    Raises:
        FloatingPointError: a non-finite loss (names the step and the epoch).
        ValueError: ``max_steps`` is not None or an integer >= 1.
    """
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps: expected None or an integer >= 1, got {max_steps!r}")
    out = Path(out_dir)
    total = epochs * steps_per_epoch if max_steps is None else min(epochs * steps_per_epoch, max_steps)
    bar = progress_bar(total=total, initial=min(state.step, total), desc="train", enabled=progress and is_main)
    csv_log: CsvLog | None = None
    losses: list[float] = []
    last_ckpt: Path | None = None

    def save(best: bool = False) -> None:
        nonlocal last_ckpt
        path = hooks.save(state, best)
        if path is not None:
            last_ckpt = path

    stopped = max_steps is not None and state.step >= max_steps
    try:
        if is_main:
            remove_stale_temp_files(out)  # what a kill during an atomic write (a checkpoint, the log) left behind
            atomic_write_json(out / "config.json", config)
            csv_log = CsvLog(out / "train_log.csv", state.step if resumed else None)
        while state.epoch < epochs and not stopped:
            epoch = state.epoch
            if hooks.on_epoch_start is not None:
                hooks.on_epoch_start(epoch)
            batches = hooks.batches(epoch, state.batch_in_epoch)
            t0 = time.perf_counter()
            for batch in batches:
                out_step = hooks.step(batch)
                state.step += 1
                state.batch_in_epoch += 1
                loss = out_step.loss
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss is {loss} at step {state.step} (epoch {epoch})")
                losses.append(loss)
                if csv_log is not None:
                    csv_log.write({
                        "epoch": epoch,
                        "step": state.step,
                        "loss": loss,
                        "loss_lr": out_step.loss_lr,
                        "loss_hr": "" if out_step.loss_hr is None else out_step.loss_hr,
                        "lr": out_step.lr,
                        "seconds": round(time.perf_counter() - t0, 4),
                    })  # fmt: skip
                if is_main and hooks.log_scalar is not None:
                    hooks.log_scalar("train/loss", loss, state.step)
                    hooks.log_scalar("train/lr", out_step.lr, state.step)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss:.6f}")
                t0 = time.perf_counter()
                if max_steps is not None and state.step >= max_steps:
                    stopped = True
                    break
                if checkpoint_every and state.step % checkpoint_every == 0:
                    save()
            if stopped and state.batch_in_epoch < steps_per_epoch:
                save()
                break
            # the epoch is complete
            if hooks.on_epoch_end is not None:
                hooks.on_epoch_end(epoch)
            state.epoch += 1
            state.batch_in_epoch = 0
            metrics = _validate(hooks, epoch, is_main) if hooks.validate is not None else None
            if metrics is not None:
                name, value = metrics["metric_name"], metrics["metric"]
                state.metric_name = name
                state.history.append({"epoch": epoch, "step": state.step, name: value})
                if is_main and hooks.log_scalar is not None:
                    hooks.log_scalar(f"val/{name}", value, state.step)
                if state.best_metric is None or value > state.best_metric:
                    state.best_metric, state.best_epoch = value, epoch
                    save(best=True)
            save()
    finally:
        if csv_log is not None:
            csv_log.close()
        bar.close()
    return TrainResult(
        out_dir=out, epoch=state.epoch, step=state.step, losses=losses, best_metric=state.best_metric,
        best_epoch=state.best_epoch, checkpoint=last_ckpt, history=state.history,
    )


def _validate(hooks: TrainHooks, epoch: int, is_main: bool) -> dict[str, Any] | None:
    """``{"metric": float, "metric_name": str}`` of the main process's validation (on every process with
    ``hooks.broadcast``), or ``None``."""
    summary = None
    if is_main and hooks.validate is not None:
        metrics = hooks.validate(epoch)
        if metrics is not None:
            summary = {"metric": float(metrics["metric"]), "metric_name": str(metrics["metric_name"])}
    if hooks.broadcast is not None:
        summary = hooks.broadcast(summary)
    return summary
