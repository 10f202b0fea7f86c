"""The MindSpore training loop: Adam/SGD, the multi-step schedule, PYNATIVE or GRAPH step, exact resume.

One process: ``enhancenet-mindspore train CONFIG``. Several (data parallel):
``msrun --worker_num=N --local_worker_num=N $(which enhancenet-mindspore) train CONFIG`` (msrun runs a script
file with the ``python`` of ``PATH``; or a rank table on Ascend): when ``MS_WORKER_NUM`` > 1 or
``RANK_TABLE_FILE`` is set, :func:`init_distributed` calls ``mindspore.communication.init()`` (CPU collectives
here; HCCL on Ascend, NCCL on GPU), sets
``set_auto_parallel_context(parallel_mode=DATA_PARALLEL, gradients_mean=True)`` and the step averages the gradients
of all ranks with ``nn.DistributedGradReducer``. ``train.batch_size`` is per process.

The step is ``mindspore.value_and_grad`` of (model → :class:`~enhancenet_mindspore.losses.EnhanceNetLoss`) over
the trainable parameters, followed by the optimizer; ``mode="graph"`` compiles that step with ``mindspore.jit``
(one compilation per run: every training batch has the same shape), ``mode="pynative"`` runs it eagerly. The
global execution mode (``set_context(mode=...)``) is not changed. AMP (``train.amp``) runs only on GPU/Ascend:
``mindspore.amp.auto_mixed_precision(model, "O2")`` (BatchNorm kept in float32) with a dynamic loss scaler; it is
off on CPU.

Learning rate: piecewise constant per epoch, as torch's ``MultiStepLR``: during 0-based epoch ``e`` it is
``lr × lr_factor ** #{m in lr_steps : m ≤ e}``, written into the optimizer's ``learning_rate`` Parameter at the
start of every epoch.

Exact resume: batch order is a function of ``(seed, epoch, rank)`` (:class:`~enhancenet_mindspore.data.BatchLoader`)
and each sample's augmentation of ``(seed, epoch, index)`` (enhancenet-core); the checkpoint holds the model, the
optimizer state (Adam moments, global step, lr), the RNG states and the position
``(epoch, batch_in_epoch, step)``. A run killed after its last checkpoint and resumed reaches the same weights, bit
for bit on CPU (tested), as a run that was never stopped.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.amp import all_finite

from enhancenet_core.config import Config, TrainConfig, config_to_dict
from enhancenet_core.engine.io import atomic_write_json
from enhancenet_core.engine.logs import CsvLog, progress_bar
from enhancenet_mindspore.checkpoint import (
    BEST_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST_NAME,
    architecture_of,
    assign_tensors,
    atomic_save,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    optimizer_state,
    restore_rng_state,
)
from enhancenet_mindspore.data import BatchLoader, build_pose_dataset
from enhancenet_mindspore.losses import EnhanceNetLoss
from enhancenet_mindspore.optim import TorchAdam

__all__ = [
    "MODES",
    "DistContext",
    "TrainResult",
    "TrainStep",
    "build_optimizer",
    "init_distributed",
    "lr_at_epoch",
    "make_train_step",
    "resolve_device",
    "seed_everything",
    "train",
]

MODES = ("pynative", "graph")
_DEVICES = {"cpu": "CPU", "gpu": "GPU", "cuda": "GPU", "ascend": "Ascend", "npu": "Ascend"}


@dataclass(frozen=True)
class DistContext:
    """This process: ``rank`` of ``world_size`` and the MindSpore device target (``CPU``, ``GPU``, ``Ascend``)."""

    rank: int = 0
    world_size: int = 1
    device_target: str = "CPU"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank)."""

    out_dir: Path
    epoch: int  # epoch in progress (== epochs when finished)
    step: int  # optimizer steps done in the whole run
    losses: list[float]  # the loss of every step of this call (mean over ranks)
    best_metric: float | None
    best_epoch: int | None
    checkpoint: Path | None  # the last checkpoint written (rank 0), else None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation metric per epoch


def resolve_device(device: str | None) -> str:
    """Set and return the MindSpore device target: ``None`` keeps the current one; ``cpu``, ``gpu``/``cuda``,
    ``ascend``/``npu``, optionally ``:N`` for the device id."""
    if device is None:
        return str(ms.get_context("device_target"))
    name, _, index = str(device).partition(":")
    target = _DEVICES.get(name.lower())
    if target is None:
        raise ValueError(f"device {device!r}: expected cpu, gpu (cuda) or ascend (npu), optionally ':N'")
    if index and not index.isdigit():
        raise ValueError(f"device {device!r}: the device id after ':' must be a number")
    kwargs: dict[str, Any] = {}
    if index:
        kwargs["device_id"] = int(index)
    if target != ms.get_context("device_target") or kwargs:
        try:
            ms.set_context(device_target=target, **kwargs)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"device {device!r}: MindSpore cannot use {target} here ({exc})") from exc
    return target


def init_distributed(device: str | None = None) -> DistContext:
    """Initialise data parallelism when launched by ``msrun`` (``MS_WORKER_NUM`` > 1) or with a rank table.

    Calls ``mindspore.communication.init()`` and sets ``DATA_PARALLEL`` with gradient averaging; otherwise a
    single process (rank 0 of 1).
    """
    target = resolve_device(device)
    workers = int(os.environ.get("MS_WORKER_NUM", "1") or 1)
    if workers <= 1 and not os.environ.get("RANK_TABLE_FILE"):
        return DistContext(device_target=target)
    from mindspore.communication import get_group_size, get_rank, init

    init()
    world = int(get_group_size())
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=world)
    return DistContext(rank=int(get_rank()), world_size=world, device_target=target)


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, NumPy and MindSpore with ``seed + rank``."""
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)  # noqa: NPY002 - seeds the global state third-party code may use
    ms.set_seed(s)


def lr_at_epoch(cfg: TrainConfig, epoch: int) -> float:
    """The learning rate of 0-based ``epoch``: ``lr × lr_factor ** #{m in lr_steps : m ≤ epoch}`` (MultiStepLR)."""
    return float(cfg.lr) * float(cfg.lr_factor) ** sum(int(epoch) >= int(m) for m in cfg.lr_steps)


def build_optimizer(params: list[ms.Parameter], cfg: TrainConfig) -> nn.Optimizer:
    """Adam (HRNet's default; :class:`~enhancenet_mindspore.optim.TorchAdam`, ``torch.optim.Adam``'s update rule,
    not ``nn.Adam``'s) or ``nn.SGD`` with momentum; the learning rate is a Parameter set per epoch."""
    lr = ms.Parameter(ms.Tensor(float(cfg.lr), ms.float32), name="learning_rate", requires_grad=False)
    name = str(cfg.optimizer).lower()
    if name == "adam":
        return TorchAdam(params, learning_rate=lr, weight_decay=float(cfg.weight_decay))
    if name == "sgd":
        return nn.SGD(params, learning_rate=lr, momentum=float(cfg.momentum), weight_decay=float(cfg.weight_decay))
    raise ValueError(f"train.optimizer: expected 'adam' or 'sgd', got {cfg.optimizer!r}")


class _NetWithLoss(nn.Cell):
    """``(image, target_lr, weight_lr, target_hr, weight_hr) -> (loss, loss_lr, loss_hr)``: model then loss."""

    def __init__(self, model: nn.Cell, criterion: EnhanceNetLoss, loss_scaler: Any | None = None) -> None:
        super().__init__(auto_prefix=False)  # keep the model's parameter names
        self.model = model
        self.criterion = criterion
        self.head = bool(criterion.head_enabled)
        self.loss_scaler = loss_scaler
        self.scaled = loss_scaler is not None

    def construct(self, image, target_lr, weight_lr, target_hr, weight_hr):
        outputs = self.model(image)
        batch = {"target_lr": target_lr, "target_weight_lr": weight_lr}
        if self.head:
            batch["target_hr"] = target_hr
            batch["target_weight_hr"] = weight_hr
        terms = self.criterion(outputs, batch)
        loss = terms["loss"]
        if self.scaled:
            loss = self.loss_scaler.scale(loss)
        loss_hr = terms["loss_hr"] if self.head else terms["loss_lr"] * 0.0
        return loss, terms["loss_lr"], loss_hr


class TrainStep(nn.Cell):
    """One optimizer step as a Cell: ``value_and_grad`` of model → loss over the optimizer's parameters
    (one forward pass, so batch-norm statistics move once per step), the optional data-parallel gradient mean,
    then the optimizer. With a loss scaler (AMP) a step with non-finite gradients is skipped."""

    def __init__(self, model: nn.Cell, criterion: EnhanceNetLoss, optimizer: nn.Optimizer,
                 grad_reducer: nn.Cell | None = None, loss_scaler: Any | None = None) -> None:
        super().__init__(auto_prefix=False)
        self.network = _NetWithLoss(model, criterion, loss_scaler)
        self.optimizer = optimizer
        self.grad_fn = ms.value_and_grad(self.network, None, optimizer.parameters, has_aux=True)
        self.reduce = grad_reducer is not None
        self.grad_reducer = grad_reducer if grad_reducer is not None else nn.Identity()
        self.loss_scaler = loss_scaler
        self.scaled = loss_scaler is not None

    def construct(self, image, target_lr, weight_lr, target_hr, weight_hr):
        (loss, loss_lr, loss_hr), grads = self.grad_fn(image, target_lr, weight_lr, target_hr, weight_hr)
        if self.reduce:
            grads = self.grad_reducer(grads)
        if self.scaled:
            loss = self.loss_scaler.unscale(loss)
            grads = self.loss_scaler.unscale(grads)
            finite = all_finite(grads)
            if finite:
                self.optimizer(grads)
            self.loss_scaler.adjust(finite)
        else:
            self.optimizer(grads)
        return loss, loss_lr, loss_hr


def make_train_step(
    model: nn.Cell,
    criterion: EnhanceNetLoss,
    optimizer: nn.Optimizer,
    mode: str = "pynative",
    grad_reducer: nn.Cell | None = None,
    loss_scaler: Any | None = None,
) -> Callable[..., tuple[ms.Tensor, ms.Tensor, ms.Tensor]]:
    """One optimizer step: ``step(image, target_lr, weight_lr, target_hr, weight_hr) -> (loss, loss_lr, loss_hr)``.

    Shapes: image (B, 3, H, W), target_lr (B, K, h, w), weight_lr (B, K), target_hr (B, K, rh, rw), weight_hr
    (B, K); without the head pass the LR target and weight again in the HR slots (they are not used) and
    ``loss_hr`` is 0. ``mode="graph"`` compiles :class:`TrainStep` with ``mindspore.jit``.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    step = TrainStep(model, criterion, optimizer, grad_reducer, loss_scaler)
    return ms.jit(step.construct) if mode == "graph" else step


def _default_model(cfg: Config) -> nn.Cell:
    from enhancenet_mindspore.models import build_model

    return build_model(cfg.model)


def _default_validate(cfg: Config, model: nn.Cell, out_dir: Path, epoch: int) -> Mapping[str, Any]:
    from enhancenet_mindspore.evaluate import evaluate

    return evaluate(cfg, model, out_dir=out_dir / "eval" / f"epoch_{epoch:03d}", progress=False)


def _batch_tensors(batch: Mapping[str, Any], head: bool) -> tuple[ms.Tensor, ...]:
    t = {k: ms.Tensor(np.ascontiguousarray(batch[k], dtype=np.float32))
         for k in ("image", "target_lr", "target_weight_lr", "target_hr", "target_weight_hr") if k in batch}
    if head:
        return t["image"], t["target_lr"], t["target_weight_lr"], t["target_hr"], t["target_weight_hr"]
    return t["image"], t["target_lr"], t["target_weight_lr"], t["target_lr"], t["target_weight_lr"]


def train(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    device: str | None = None,
    resume: bool = True,
    max_steps: int | None = None,
    checkpoint_every: int = 0,
    validate: bool | Callable[..., Mapping[str, Any] | None] = True,
    progress: bool = True,
    mode: str = "pynative",
    model_fn: Callable[[Config], nn.Cell] | None = None,
    train_dataset: Any | None = None,
) -> TrainResult:
    """Train the model of ``cfg``; writes checkpoints, the CSV log and (with validation) the best model.

    Args:
        cfg: the experiment config.
        out_dir: run directory: ``checkpoint_last.ckpt``, ``model_best.ckpt``, ``train_log.csv``, ``config.json``,
            ``eval/epoch_XXX/`` (rank 0 writes; created if missing).
        device: ``"cpu"``, ``"gpu"``, ``"ascend"`` (``:N`` for a device id) or ``None`` for the current target.
        resume: continue from ``out_dir/checkpoint_last.ckpt`` when it exists (its architecture must match).
        max_steps: stop after this many optimizer steps of the whole run (not of this call) and checkpoint there;
            ``None`` trains all ``train.epochs`` epochs.
        checkpoint_every: also checkpoint every this many steps (0: at epoch ends and at the stop only).
        validate: after each epoch evaluate on the test split (``True``: :func:`enhancenet_mindspore.evaluate.evaluate`;
            a callable ``(cfg, model, out_dir, epoch) -> {"metric", "metric_name"}``; ``False``: none, no best model).
        progress: the engine's progress bar on rank 0.
        mode: ``"pynative"`` (eager) or ``"graph"`` (the step compiled by ``mindspore.jit``).
        model_fn: builds the model (default :func:`enhancenet_mindspore.models.build_model`); it must return the
            ``{"lr", "hr"?, ...}`` dict of ``PoseModel``.
        train_dataset: the training samples (default: the core ``PoseDataset`` of the train split).

    Returns:
        A :class:`TrainResult`.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    out = Path(out_dir)
    ctx = init_distributed(device)
    tcfg = cfg.train
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(tcfg.seed, 0)  # the same initial weights on every rank

    model = (model_fn or _default_model)(cfg)
    use_amp = bool(tcfg.amp) and ctx.device_target in ("GPU", "Ascend")
    loss_scaler = None
    if use_amp:
        from mindspore.amp import DynamicLossScaler, auto_mixed_precision

        model = auto_mixed_precision(model, "O2")
        loss_scaler = DynamicLossScaler(scale_value=2.0**16, scale_factor=2, scale_window=1000)
    criterion = EnhanceNetLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    optimizer = build_optimizer(model.trainable_params(), tcfg)
    reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True, degree=ctx.world_size) if ctx.distributed else None

    epoch, step, batch_in_epoch = 0, 0, 0
    best_metric: float | None = None
    best_epoch: int | None = None
    metric_name: str | None = None
    history: list[dict[str, Any]] = []
    ckpt_path = latest_checkpoint(out) if resume else None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, cfg.model)
        assign_tensors([(p.name, p) for p in model.get_parameters()], ckpt["tensors"], os.fspath(ckpt_path))
        assign_tensors(optimizer_state(optimizer, model), ckpt["optimizer"], f"{ckpt_path} (optimizer state)")
        epoch, step, batch_in_epoch = int(ckpt["epoch"]), int(ckpt["step"]), int(ckpt["batch_in_epoch"])
        best_metric, best_epoch, metric_name = ckpt.get("best_metric"), ckpt.get("best_epoch"), ckpt.get("metric_name")
        history = list(ckpt.get("history", []))
        if ckpt.get("rng") and ctx.world_size == int(ckpt.get("world_size", 1)) == 1:
            restore_rng_state(ckpt["rng"])
        else:
            seed_everything(tcfg.seed + step, ctx.rank)
    else:
        seed_everything(tcfg.seed, ctx.rank)

    dataset = train_dataset if train_dataset is not None else build_pose_dataset(cfg, train=True)
    loader = BatchLoader(dataset, tcfg.batch_size, train=True, seed=tcfg.seed, rank=ctx.rank,
                         world_size=ctx.world_size, workers=tcfg.workers)
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError(
            f"train.batch_size={tcfg.batch_size}: larger than the {loader.samples_per_rank} training samples per "
            f"process ({len(dataset)} samples, {ctx.world_size} processes); no full batch to train on"
        )
    train_step = make_train_step(model, criterion, optimizer, mode, reducer, loss_scaler)
    all_mean = None
    if ctx.distributed:
        all_reduce = ops.AllReduce()

        def all_mean(x: ms.Tensor) -> ms.Tensor:
            return all_reduce(x) / ctx.world_size

    csv_log = None
    total = tcfg.epochs * steps_per_epoch if max_steps is None else min(tcfg.epochs * steps_per_epoch, max_steps)
    bar = progress_bar(total=total, initial=min(step, total), desc="train", enabled=progress and ctx.is_main)
    if ctx.is_main:
        atomic_write_json(out / "config.json", config_to_dict(cfg))
        csv_log = CsvLog(out / "train_log.csv", step if ckpt_path is not None else None)
    last_ckpt: Path | None = None

    def save(next_epoch: int, next_batch: int, name: str = LAST_NAME) -> None:
        nonlocal last_ckpt
        if not ctx.is_main:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "framework": "mindspore",
            "mindspore_version": ms.__version__,
            "architecture": architecture_of(cfg.model),
            "config": config_to_dict(cfg),
            "epoch": next_epoch,
            "batch_in_epoch": next_batch,
            "step": step,
            "world_size": ctx.world_size,
            "mode": mode,
            "rng": capture_rng_state(),
            "best_metric": best_metric,
            "best_epoch": best_epoch,
            "metric_name": metric_name,
            "history": history,
        }
        last_ckpt = atomic_save(model, out / name, state, optimizer)

    losses: list[float] = []
    head = bool(cfg.model.head.enabled)
    stopped = max_steps is not None and step >= max_steps
    try:
        while epoch < tcfg.epochs and not stopped:
            # in place: after the optimizer has run, Parameter.set_data no longer reaches it in PYNATIVE mode
            ops.assign(optimizer.learning_rate, ms.Tensor(lr_at_epoch(tcfg, epoch), ms.float32))
            model.set_train(True)
            t0 = time.perf_counter()
            for batch in loader.batches(epoch, skip_batches=batch_in_epoch):
                loss, loss_lr, loss_hr = train_step(*_batch_tensors(batch, head))
                if all_mean is not None:
                    loss = all_mean(loss)
                step += 1
                batch_in_epoch += 1
                value = float(loss.asnumpy())
                if not math.isfinite(value):
                    raise FloatingPointError(f"training loss is {value} at step {step} (epoch {epoch})")
                losses.append(value)
                if csv_log is not None:
                    csv_log.write({
                        "epoch": epoch, "step": step, "loss": value, "loss_lr": float(loss_lr.asnumpy()),
                        "loss_hr": float(loss_hr.asnumpy()) if head else "",
                        "lr": float(optimizer.learning_rate.asnumpy()), "seconds": round(time.perf_counter() - t0, 4),
                    })  # fmt: skip
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{value:.6f}")
                t0 = time.perf_counter()
                if max_steps is not None and step >= max_steps:
                    stopped = True
                    break
                if checkpoint_every and step % checkpoint_every == 0:
                    save(epoch, batch_in_epoch)
            if stopped and batch_in_epoch < steps_per_epoch:
                save(epoch, batch_in_epoch)
                break
            epoch += 1  # the epoch is complete
            batch_in_epoch = 0
            if validate and ctx.is_main:
                fn = _default_validate if validate is True else validate
                metrics = fn(cfg, model, out, epoch - 1)
                model.set_train(True)
                if metrics is not None:
                    metric_name = str(metrics["metric_name"])
                    value = float(metrics["metric"])
                    history.append({"epoch": epoch - 1, "step": step, metric_name: value})
                    if best_metric is None or value > best_metric:
                        best_metric, best_epoch = value, epoch - 1
                        save(epoch, 0, name=BEST_NAME)
            save(epoch, 0)
    finally:
        if csv_log is not None:
            csv_log.close()
        bar.close()
    return TrainResult(out_dir=out, epoch=epoch, step=step, losses=losses, best_metric=best_metric,
                       best_epoch=best_epoch, checkpoint=last_ckpt, history=history)

