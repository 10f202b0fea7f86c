"""The training loop: Adam/SGD with a multi-step schedule, AMP on CUDA, DDP via ``torchrun``, exact resume.

Launch one process (``enhancenet-torch train CONFIG``) or several (``torchrun --nproc_per_node=N -m
enhancenet_torch.cli train CONFIG``): the process group is initialised from torchrun's environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) with NCCL on CUDA and gloo on CPU.
``train.batch_size`` is per process; the global batch is ``batch_size × world_size``.

Exact resume: the data order is a function of ``(seed, epoch)`` (:class:`ResumableDistributedSampler`) and each
sample's augmentation of ``(seed, epoch, index)`` (enhancenet-core), and the checkpoint holds model, optimizer,
scheduler, AMP scaler, RNG states and the position ``(epoch, batch_in_epoch, step)``. A run killed after its
last checkpoint and resumed reaches the same weights, bit for bit on CPU, as a run that was never stopped.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from enhancenet_core.config import Config, TrainConfig, config_to_dict
from enhancenet_core.engine.io import atomic_write_json
from enhancenet_core.engine.logs import LOG_FIELDS, CsvLog, progress_bar
from enhancenet_torch.checkpoint import (
    BEST_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST_NAME,
    atomic_save,
    capture_rng_state,
    describe_architecture,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
)
from enhancenet_torch.data import ResumableDistributedSampler, TorchPoseDataset, build_loader
from enhancenet_torch.losses import EnhanceNetLoss

__all__ = [
    "LOG_FIELDS",
    "DistContext",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "init_distributed",
    "move_batch",
    "resolve_device",
    "seed_everything",
    "train",
]

@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

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
    step: int  # global optimizer steps done
    losses: list[float]  # the mean loss of every step of this call (all ranks averaged)
    best_metric: float | None
    best_epoch: int | None
    checkpoint: Path | None  # the last checkpoint written (rank 0), else None
    history: list[dict[str, Any]] = field(default_factory=list)  # validation metrics per epoch


def resolve_device(device: str | torch.device | None, local_rank: int = 0) -> torch.device:
    """``None``: CUDA (``cuda:local_rank``) when available, else CPU. Raises for an unavailable CUDA."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device}: CUDA is not available on this machine (use --device cpu)")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def init_distributed(device: str | torch.device | None = None) -> DistContext:
    """Initialise the process group from torchrun's environment when ``WORLD_SIZE`` > 1.

    NCCL when the device is CUDA, gloo on CPU. Without torchrun's variables this is a single process.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            backend = "nccl" if dev.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, NumPy and torch (CPU and CUDA) with ``seed + rank``."""
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)  # noqa: NPY002 - seeds the global state third-party code may use
    torch.manual_seed(s)


def build_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (HRNet's default) or SGD with momentum, from ``train.optimizer``."""
    name = str(cfg.optimizer).lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"train.optimizer: expected 'adam' or 'sgd', got {cfg.optimizer!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """MultiStepLR over epochs: lr × ``lr_factor`` at each epoch of ``lr_steps`` (HRNet: 170, 200)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.lr_steps), gamma=cfg.lr_factor)


def move_batch(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """Tensors of a collated batch to ``device`` (non-blocking); other values unchanged."""
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _tensorboard(log_dir: Path) -> Any:
    """A SummaryWriter when tensorboard is installed, else ``None`` (logging is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_dir))


def _all_mean(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    value = value.detach().float().clone()
    if ctx.distributed:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= ctx.world_size
    return value


def _gather_rng(ctx: DistContext) -> list[dict[str, Any]]:
    state = capture_rng_state()
    if not ctx.distributed:
        return [state]
    states: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(states, state)
    return states


def _default_model(cfg: Config) -> nn.Module:
    from enhancenet_torch.models import build_model

    return build_model(cfg.model)


def _default_validate(cfg: Config, model: nn.Module, device: torch.device, out_dir: Path, epoch: int) -> dict:
    from enhancenet_torch.evaluate import evaluate

    return evaluate(cfg, model, device=device, out_dir=out_dir / "eval" / f"epoch_{epoch:03d}", progress=False)


def train(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    device: str | torch.device | None = None,
    resume: bool = True,
    max_steps: int | None = None,
    checkpoint_every: int = 0,
    validate: bool | Callable[..., Mapping[str, Any]] = True,
    progress: bool = True,
    model_fn: Callable[[Config], nn.Module] | None = None,
    train_dataset: TorchPoseDataset | Any | None = None,
    tensorboard: bool = True,
) -> TrainResult:
    """Train the model of ``cfg``; writes checkpoints, logs and (with validation) the best model to ``out_dir``.

    Args:
        cfg: the experiment config.
        out_dir: run directory: ``checkpoint_last.pt``, ``model_best.pt``, ``train_log.csv``, ``tb/``,
            ``config.json``, ``eval/epoch_XXX/`` (rank 0 writes; created if missing).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``None`` for CUDA when available. Under torchrun each
            process uses ``cuda:LOCAL_RANK``.
        resume: continue from ``out_dir/checkpoint_last.pt`` when it exists (its architecture must match).
        max_steps: stop after this many global optimizer steps (counted from the start of the run, not of this
            call) and write a checkpoint there; ``None`` trains all ``train.epochs`` epochs.
        checkpoint_every: also write a checkpoint every this many steps (0: only at epoch ends and at stop).
        validate: after each epoch evaluate on the test split (``True``: :func:`enhancenet_torch.evaluate.evaluate`;
            a callable ``(cfg, model, device, out_dir, epoch) -> metrics`` with ``"metric"`` and ``"metric_name"``;
            ``False``: no validation, no best model).
        progress: a tqdm bar on rank 0.
        model_fn: builds the model from the config (default :func:`enhancenet_torch.models.build_model`).
        train_dataset: a torch dataset of samples (default: the core ``PoseDataset`` of ``cfg``'s train split).
        tensorboard: also log to TensorBoard when it is installed.

    Returns:
        A :class:`TrainResult`.
    """
    out = Path(out_dir)
    ctx = init_distributed(device)
    tcfg = cfg.train
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(tcfg.seed, 0)  # same initial weights on every rank (DDP also broadcasts them)

    model = (model_fn or _default_model)(cfg).to(ctx.device)
    criterion = EnhanceNetLoss(cfg.loss, head_enabled=cfg.model.head.enabled)
    optimizer = build_optimizer(model.parameters(), tcfg)
    scheduler = build_scheduler(optimizer, tcfg)
    use_amp = bool(tcfg.amp) and ctx.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    epoch, step, batch_in_epoch = 0, 0, 0
    best_metric: float | None = None
    best_epoch: int | None = None
    metric_name: str | None = None
    history: list[dict[str, Any]] = []
    ckpt_path = latest_checkpoint(out) if resume else None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, cfg.model, map_location=ctx.device)
        _unwrap(model).load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if use_amp and ckpt.get("scaler") is not None:
            scaler.load_state_dict(ckpt["scaler"])
        epoch, step, batch_in_epoch = int(ckpt["epoch"]), int(ckpt["step"]), int(ckpt["batch_in_epoch"])
        best_metric, best_epoch = ckpt.get("best_metric"), ckpt.get("best_epoch")
        metric_name = ckpt.get("metric_name")
        history = list(ckpt.get("history", []))
        rng = ckpt.get("rng") or []
        if len(rng) == ctx.world_size:
            restore_rng_state(rng[ctx.rank])
        else:
            seed_everything(tcfg.seed + step, ctx.rank)
    else:
        seed_everything(tcfg.seed, ctx.rank)

    if ctx.distributed:
        ddp_kwargs: dict[str, Any] = {"device_ids": [ctx.device.index]} if ctx.device.type == "cuda" else {}
        model = DistributedDataParallel(model, **ddp_kwargs)

    dataset = train_dataset
    if dataset is None:
        from enhancenet_torch.data import build_pose_dataset

        dataset = build_pose_dataset(cfg, train=True)
    loader = build_loader(
        dataset, tcfg.batch_size, train=True, workers=tcfg.workers, seed=tcfg.seed,
        num_replicas=ctx.world_size, rank=ctx.rank, pin_memory=ctx.device.type == "cuda",
    )
    sampler: ResumableDistributedSampler = loader.sampler  # type: ignore[assignment]
    steps_per_epoch = sampler.num_samples // tcfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"train.batch_size={tcfg.batch_size}: larger than the {sampler.num_samples} training samples per "
            f"process ({len(dataset)} samples, {ctx.world_size} processes); no full batch to train on"
        )

    csv_log = tb = bar = None
    if ctx.is_main:
        atomic_write_json(out / "config.json", config_to_dict(cfg))
        csv_log = CsvLog(out / "train_log.csv", step if ckpt_path is not None else None)
        tb = _tensorboard(out / "tb") if tensorboard else None
        if progress:
            total = tcfg.epochs * steps_per_epoch
            if max_steps is not None:
                total = min(total, max_steps)
            bar = progress_bar(total=total, initial=min(step, total), desc="train")

    last_ckpt: Path | None = None

    def save(next_epoch: int, next_batch: int, name: str = LAST_NAME) -> None:
        nonlocal last_ckpt
        rng_states = _gather_rng(ctx)
        if not ctx.is_main:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "architecture": describe_architecture(cfg.model),
            "config": config_to_dict(cfg),
            "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if use_amp else None,
            "epoch": next_epoch,
            "batch_in_epoch": next_batch,
            "step": step,
            "world_size": ctx.world_size,
            "rng": rng_states,
            "best_metric": best_metric,
            "best_epoch": best_epoch,
            "metric_name": metric_name,
            "history": history,
        }
        last_ckpt = atomic_save(state, out / name)

    losses: list[float] = []
    stopped = max_steps is not None and step >= max_steps
    try:
        while epoch < tcfg.epochs and not stopped:
            sampler.set_epoch(epoch)
            sampler.set_skip_batches(batch_in_epoch)
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            model.train()
            t0 = time.perf_counter()
            for batch in loader:
                batch = move_batch(batch, ctx.device)
                autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext()
                with autocast:
                    outputs = model(batch["image"])
                terms = criterion(outputs, batch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(terms["loss"]).backward()
                scaler.step(optimizer)
                scaler.update()
                step += 1
                batch_in_epoch += 1
                mean_loss = float(_all_mean(terms["loss"], ctx))
                if not math.isfinite(mean_loss):
                    raise FloatingPointError(f"training loss is {mean_loss} at step {step} (epoch {epoch})")
                losses.append(mean_loss)
                if ctx.is_main:
                    row = {
                        "epoch": epoch,
                        "step": step,
                        "loss": mean_loss,
                        "loss_lr": float(terms["loss_lr"]),
                        "loss_hr": float(terms["loss_hr"]) if "loss_hr" in terms else "",
                        "lr": optimizer.param_groups[0]["lr"],
                        "seconds": round(time.perf_counter() - t0, 4),
                    }
                    csv_log.write(row)
                    if tb is not None:
                        tb.add_scalar("train/loss", mean_loss, step)
                        tb.add_scalar("train/lr", row["lr"], step)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(epoch=epoch, loss=f"{mean_loss:.6f}")
                t0 = time.perf_counter()
                if max_steps is not None and step >= max_steps:
                    stopped = True
                    break
                if checkpoint_every and step % checkpoint_every == 0:
                    save(epoch, batch_in_epoch)
            if stopped and batch_in_epoch < steps_per_epoch:
                save(epoch, batch_in_epoch)
                break
            # the epoch is complete
            scheduler.step()
            epoch += 1
            batch_in_epoch = 0
            if validate:
                metrics = _run_validation(validate, cfg, model, ctx, out, epoch - 1)
                if metrics is not None:
                    metric_name = str(metrics["metric_name"])
                    value = float(metrics["metric"])
                    history.append({"epoch": epoch - 1, "step": step, metric_name: value})
                    if tb is not None:
                        tb.add_scalar(f"val/{metric_name}", value, step)
                    if best_metric is None or value > best_metric:
                        best_metric, best_epoch = value, epoch - 1
                        save(epoch, 0, name=BEST_NAME)
            save(epoch, 0)
    finally:
        if csv_log is not None:
            csv_log.close()
        if tb is not None:
            tb.close()
        if bar is not None:
            bar.close()
    if ctx.distributed:
        dist.barrier()
    return TrainResult(
        out_dir=out, epoch=epoch, step=step, losses=losses, best_metric=best_metric, best_epoch=best_epoch,
        checkpoint=last_ckpt if ctx.is_main else None, history=history,
    )


def _run_validation(
    validate: bool | Callable[..., Mapping[str, Any]],
    cfg: Config,
    model: nn.Module,
    ctx: DistContext,
    out: Path,
    epoch: int,
) -> Mapping[str, Any] | None:
    """Evaluate on rank 0 (the others wait); every rank gets ``{"metric", "metric_name"}`` (or ``None``)."""
    summary: list[Any] = [None]
    if ctx.is_main:
        fn = _default_validate if validate is True else validate
        bare = _unwrap(model)
        metrics = fn(cfg, bare, ctx.device, out, epoch)
        bare.train()
        if metrics is not None:
            summary = [{"metric": float(metrics["metric"]), "metric_name": str(metrics["metric_name"])}]
    if ctx.distributed:
        dist.broadcast_object_list(summary, src=0)
    return summary[0]
