"""The training loop: Adam/SGD with a multi-step schedule, AMP on CUDA, DDP via ``torchrun``, exact resume.

Launch one process (``enhancenet-torch train CONFIG``) or several (``torchrun --nproc_per_node=N -m
enhancenet_torch.cli train CONFIG``): the process group is initialised from torchrun's environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) with NCCL on CUDA and gloo on CPU.
``train.batch_size`` is per process; the global batch is ``batch_size × world_size``.

Exact resume: the data order is a function of ``(seed, epoch)`` (:class:`ResumableDistributedSampler`) and each
sample's augmentation of ``(seed, epoch, index)`` (enhancenet-core), and the checkpoint holds model, optimizer,
scheduler, AMP scaler, RNG states and the position ``(epoch, batch_in_epoch, step)``. A run killed after its
last checkpoint and resumed reaches the same weights, bit for bit on CPU, as a run that was never stopped.

:func:`train` hands the loop's bookkeeping (position, checkpoints, ``train_log.csv``, best model) to
:func:`enhancenet_runtime.engine.training.run_training_loop` and keeps torch's part: the step (AMP, DDP),
the sampler, TensorBoard and ``torch.save``.
"""

from __future__ import annotations

import os
import random
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
from enhancenet_runtime.engine.logs import LOG_FIELDS
from enhancenet_runtime.engine.training import (
    RankInfo,
    RunState,
    StepOutput,
    TrainHooks,
    TrainResult,
    checkpoint_dict,
    full_batches_per_epoch,
    run_training_loop,
)
from enhancenet_torch.checkpoint import (
    BEST_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST_NAME,
    atomic_save,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
)
from enhancenet_torch.data import ResumableDistributedSampler, TorchPoseDataset, build_loader
from enhancenet_torch.device import resolve_device
from enhancenet_torch.losses import build_loss

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
class DistContext(RankInfo):
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its node."""

    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


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


def _broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


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
        out_dir: run directory: ``checkpoint_last.safetensors``, ``model_best.safetensors``, ``train_log.csv``, ``tb/``,
            ``config.json``, ``eval/epoch_XXX/`` (rank 0 writes; created if missing).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``None`` for CUDA when available. Under torchrun each
            process uses ``cuda:LOCAL_RANK``.
        resume: continue from ``out_dir/checkpoint_last.safetensors`` when it exists (its architecture must match).
        max_steps: stop after this many global optimizer steps (counted from the start of the run, not of this
            call) and write a checkpoint there; ``None`` trains all ``train.epochs`` epochs.
        checkpoint_every: also write a checkpoint every this many steps (0: only at epoch ends and at stop).
        validate: after each epoch evaluate on the test split (``True``: :func:`enhancenet_torch.evaluate.evaluate`;
            a callable ``(cfg, model, device, out_dir, epoch) -> metrics`` with ``"metric"`` and ``"metric_name"``;
            ``False``: no validation, no best model).
        progress: a tqdm bar on rank 0.
        model_fn: builds the model from the config (default :func:`enhancenet_torch.models.build_model`).
        train_dataset: a torch dataset of samples (default: the core data set of ``cfg``'s train split: whole
            images for a bottom-up config, person crops otherwise).
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
    criterion = build_loss(cfg)  # the AE loss (bottom-up), DlcmLoss (DLCM), else Eq. 8
    optimizer = build_optimizer(model.parameters(), tcfg)
    scheduler = build_scheduler(optimizer, tcfg)
    use_amp = bool(tcfg.amp) and ctx.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    run = RunState()
    ckpt_path = latest_checkpoint(out) if resume else None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, cfg.model, map_location=ctx.device)
        _unwrap(model).load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if use_amp and ckpt.get("scaler") is not None:
            scaler.load_state_dict(ckpt["scaler"])
        run = RunState.from_checkpoint(ckpt)
        rng = ckpt.get("rng") or []
        if len(rng) == ctx.world_size:
            restore_rng_state(rng[ctx.rank])
        else:
            seed_everything(tcfg.seed + run.step, ctx.rank)
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
    steps_per_epoch = full_batches_per_epoch(sampler.num_samples, tcfg.batch_size, len(dataset), ctx.world_size)

    def batches(epoch: int, skip: int) -> Any:
        sampler.set_epoch(epoch)
        sampler.set_skip_batches(skip)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        return loader

    def train_step(batch: Mapping[str, Any]) -> StepOutput:
        batch = move_batch(batch, ctx.device)
        autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext()
        with autocast:
            outputs = model(batch["image"])
        terms = criterion(outputs, batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms["loss"]).backward()
        scaler.step(optimizer)
        scaler.update()
        return StepOutput(
            loss=float(_all_mean(terms["loss"], ctx)),
            loss_lr=float(terms["loss_lr"]),
            loss_hr=float(terms["loss_hr"]) if "loss_hr" in terms else None,
            lr=optimizer.param_groups[0]["lr"],
        )

    def save(state: RunState, best: bool) -> Path | None:
        rng_states = _gather_rng(ctx)
        if not ctx.is_main:
            return None
        framework = {
            "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if use_amp else None,
        }
        ckpt = checkpoint_dict(state, cfg, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, framework, ctx.world_size, rng_states)
        return atomic_save(ckpt, out / (BEST_NAME if best else LAST_NAME))

    def validate_epoch(epoch: int) -> Mapping[str, Any] | None:
        fn = _default_validate if validate is True else validate
        bare = _unwrap(model)
        metrics = fn(cfg, bare, ctx.device, out, epoch)
        bare.train()
        return metrics

    tb = _tensorboard(out / "tb") if tensorboard and ctx.is_main else None
    hooks = TrainHooks(batches, train_step, save, on_epoch_start=lambda epoch: model.train(),
                       on_epoch_end=lambda epoch: scheduler.step(), validate=validate_epoch if validate else None,
                       broadcast=_broadcast if ctx.distributed else None,
                       log_scalar=tb.add_scalar if tb is not None else None)
    try:
        result = run_training_loop(
            run, hooks, epochs=tcfg.epochs, steps_per_epoch=steps_per_epoch, out_dir=out,
            config=config_to_dict(cfg), resumed=ckpt_path is not None, is_main=ctx.is_main, max_steps=max_steps,
            checkpoint_every=checkpoint_every, progress=progress,
        )
    finally:
        if tb is not None:
            tb.close()
    if ctx.distributed:
        dist.barrier()
    return result

