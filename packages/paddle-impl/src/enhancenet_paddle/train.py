"""The training loop in Paddle: Adam/SGD with a multi-step schedule, AMP on GPU, data parallel, exact resume.

Launch one process (``enhancenet-paddle train CONFIG``) or several::

    python -m paddle.distributed.launch --nproc_per_node=N -m enhancenet_paddle.cli train CONFIG ...

or call :func:`train` inside ``paddle.distributed.spawn``. With more than one process (``PADDLE_TRAINERS_NUM``
> 1, set by both launchers) :func:`paddle.distributed.init_parallel_env` joins the group (NCCL on GPUs, gloo on
CPU) and the model is wrapped in :class:`paddle.DataParallel` (gradients averaged over ranks).
``train.batch_size`` is per process; the global batch is ``batch_size × world_size``.

Exact resume: the data order is a function of ``(seed, epoch)`` (:class:`~enhancenet_paddle.data.
ResumableDistributedBatchSampler`) and each sample's augmentation of ``(seed, epoch, index)`` (enhancenet-core);
the checkpoint holds model, optimizer, scheduler, AMP scaler, RNG states and the position ``(epoch,
batch_in_epoch, step)``. A run killed after its last checkpoint and resumed reaches the same weights, bit for
bit on CPU with the same thread count, as a run that was never stopped.

Position, checkpoints, ``train_log.csv`` and the best model are kept by
:func:`enhancenet_runtime.engine.training.run_training_loop`; here is Paddle's part: the step (AMP,
DataParallel), the batch sampler and ``paddle.save``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paddle
import paddle.distributed as dist
from paddle import nn

from enhancenet_core.config import Config, TrainConfig, config_to_dict
from enhancenet_paddle.checkpoint import (
    BEST_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST_NAME,
    atomic_save,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    optimizer_state_by_structure,
    restore_optimizer_state,
    restore_rng_state,
)
from enhancenet_paddle.data import PaddlePoseDataset, ResumableDistributedBatchSampler, build_loader
from enhancenet_paddle.device import resolve_device
from enhancenet_paddle.losses import build_loss
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

__all__ = [
    "DistContext",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "init_distributed",
    "resolve_device",
    "seed_everything",
    "train",
]


@dataclass(frozen=True)
class DistContext(RankInfo):
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its node, ``device``
    (Paddle's device string, ``"cpu"`` or ``"gpu:N"``)."""

    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("gpu")


def init_distributed(device: str | None = None) -> DistContext:
    """Join the process group when launched with more than one process (``PADDLE_TRAINERS_NUM`` > 1).

    ``paddle.distributed.launch`` and ``paddle.distributed.spawn`` set ``PADDLE_TRAINERS_NUM``,
    ``PADDLE_TRAINER_ID`` and ``PADDLE_RANK_IN_NODE``; without them this is a single process.
    """
    world_size = int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    local_rank = int(os.environ.get("PADDLE_RANK_IN_NODE", os.environ.get("PADDLE_LOCAL_RANK", str(rank))))
    dev = resolve_device(device, local_rank)
    paddle.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_parallel_env()
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, NumPy's global generator and Paddle with ``seed + rank``."""
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)  # noqa: NPY002 - seeds the global state third-party code may use
    paddle.seed(s)


def build_scheduler(cfg: TrainConfig) -> paddle.optimizer.lr.MultiStepDecay:
    """``MultiStepDecay`` over epochs (stepped once per epoch): lr × ``lr_factor`` at each of ``lr_steps``."""
    return paddle.optimizer.lr.MultiStepDecay(learning_rate=cfg.lr, milestones=list(cfg.lr_steps), gamma=cfg.lr_factor)


def build_optimizer(
    parameters: Any, cfg: TrainConfig, scheduler: paddle.optimizer.lr.LRScheduler
) -> paddle.optimizer.Optimizer:
    """Adam (HRNet's default) or SGD with momentum (``paddle.optimizer.Momentum``), from ``train.optimizer``.

    ``weight_decay`` is L2 added to the gradient, as ``torch.optim.Adam``/``SGD``'s ``weight_decay``.
    """
    name = str(cfg.optimizer).lower()
    decay = cfg.weight_decay if cfg.weight_decay else None
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=scheduler, parameters=parameters, weight_decay=decay)
    if name == "sgd":
        return paddle.optimizer.Momentum(learning_rate=scheduler, momentum=cfg.momentum, parameters=parameters,
                                         weight_decay=decay)
    raise ValueError(f"train.optimizer: expected 'adam' or 'sgd', got {cfg.optimizer!r}")


def _unwrap(model: nn.Layer) -> nn.Layer:
    return model._layers if isinstance(model, paddle.DataParallel) else model


def _all_mean(value: paddle.Tensor, ctx: DistContext) -> float:
    value = value.detach().astype("float32").clone()
    if ctx.distributed:
        dist.all_reduce(value)
        value = value / ctx.world_size
    return float(value)


def _gather_rng(ctx: DistContext) -> list[dict[str, Any]]:
    state = capture_rng_state()
    if not ctx.distributed:
        return [state]
    states: list[Any] = []
    dist.all_gather_object(states, state)
    return states


def _broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _default_model(cfg: Config) -> nn.Layer:
    from enhancenet_paddle.models import build_model

    return build_model(cfg.model)


def _default_validate(cfg: Config, model: nn.Layer, device: str, out_dir: Path, epoch: int) -> Mapping[str, Any]:
    from enhancenet_paddle.evaluate import evaluate

    return evaluate(cfg, model, device=device, out_dir=out_dir / "eval" / f"epoch_{epoch:03d}", progress=False)


def _batch_to(batch: Mapping[str, Any], ctx: DistContext) -> dict[str, Any]:
    """The network input and targets of a collated batch on this process's GPU (unchanged on CPU)."""
    if not ctx.is_gpu:
        return dict(batch)
    moved = ("image", "target", "mask", "pixels", "joint_mask")  # top-down and bottom-up (AE_BATCH_KEYS) inputs
    return {k: (v.cuda() if k.startswith(moved) and isinstance(v, paddle.Tensor) else v) for k, v in batch.items()}


def train(
    cfg: Config,
    out_dir: str | os.PathLike[str],
    device: str | None = None,
    resume: bool = True,
    max_steps: int | None = None,
    checkpoint_every: int = 0,
    validate: bool | Callable[..., Mapping[str, Any]] = True,
    progress: bool = True,
    model_fn: Callable[[Config], nn.Layer] | None = None,
    train_dataset: Any | None = None,
) -> TrainResult:
    """Train the model of ``cfg``; writes checkpoints, logs and (with validation) the best model to ``out_dir``.

    Args:
        cfg: the experiment config.
        out_dir: run directory: ``checkpoint_last.safetensors``, ``model_best.safetensors``, ``train_log.csv``,
            ``config.json``, ``eval/epoch_XXX/`` (rank 0 writes; created if missing).
        device: ``"cpu"``, ``"gpu"``, ``"gpu:1"`` (``cuda`` accepted) or ``None`` for a GPU when available.
            With several processes each uses ``gpu:<local rank>``.
        resume: continue from ``out_dir/checkpoint_last.safetensors`` when it exists (its architecture must match).
        max_steps: stop after this many global optimizer steps (counted from the start of the run, not of this
            call) and write a checkpoint there; ``None`` trains all ``train.epochs`` epochs.
        checkpoint_every: also write a checkpoint every this many steps (0: only at epoch ends and at stop).
        validate: after each epoch evaluate on the test split (``True``:
            :func:`enhancenet_paddle.evaluate.evaluate`; a callable ``(cfg, model, device, out_dir, epoch) ->
            metrics`` with ``"metric"`` and ``"metric_name"``; ``False``: no validation, no best model).
        progress: a progress bar on rank 0.
        model_fn: builds the model from the config (default :func:`enhancenet_paddle.models.build_model`).
        train_dataset: a data set of core sample dicts (default: the core ``PoseDataset`` of the train split).

    Returns:
        A :class:`TrainResult`.
    """
    out = Path(out_dir)
    ctx = init_distributed(device)
    tcfg = cfg.train
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(tcfg.seed, 0)  # the same initial weights on every rank (DataParallel also broadcasts them)

    bare = (model_fn or _default_model)(cfg)
    criterion = build_loss(cfg)  # the AE loss (bottom-up), DlcmLoss (DLCM), else Eq. 8
    scheduler = build_scheduler(tcfg)
    optimizer = build_optimizer(bare.parameters(), tcfg, scheduler)
    use_amp = bool(tcfg.amp) and ctx.is_gpu
    scaler = paddle.amp.GradScaler(enable=use_amp, init_loss_scaling=2.0**16)

    run = RunState()
    ckpt_path = latest_checkpoint(out) if resume else None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, cfg.model)
        bare.set_state_dict(ckpt["model"])
        restore_optimizer_state(optimizer, bare, ckpt["optimizer"])
        scheduler.set_state_dict(ckpt["scheduler"])
        if use_amp and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        run = RunState.from_checkpoint(ckpt)
        rng = ckpt.get("rng") or []
        if len(rng) == ctx.world_size:
            restore_rng_state(rng[ctx.rank])
        else:  # resumed with another number of processes: reseed deterministically
            seed_everything(tcfg.seed + run.step, ctx.rank)
    else:
        seed_everything(tcfg.seed, ctx.rank)

    model: nn.Layer = paddle.DataParallel(bare) if ctx.distributed else bare

    dataset = train_dataset
    if dataset is None:
        from enhancenet_paddle.data import build_pose_dataset

        dataset = build_pose_dataset(cfg, train=True)
    elif not isinstance(dataset, PaddlePoseDataset):
        dataset = PaddlePoseDataset(dataset)
    loader = build_loader(dataset, tcfg.batch_size, train=True, workers=tcfg.workers, seed=tcfg.seed,
                          num_replicas=ctx.world_size, rank=ctx.rank)
    sampler: ResumableDistributedBatchSampler = loader.batch_sampler
    steps_per_epoch = full_batches_per_epoch(sampler.num_samples, tcfg.batch_size, len(dataset), ctx.world_size)

    def batches(epoch: int, skip: int) -> Any:
        sampler.set_epoch(epoch)
        sampler.set_skip_batches(skip)
        return loader

    def train_step(batch: Mapping[str, Any]) -> StepOutput:
        batch = _batch_to(batch, ctx)
        with paddle.amp.auto_cast(enable=use_amp, level="O1", dtype="float16"):
            outputs = model(batch["image"])
        terms = criterion(outputs, batch)  # float32, outside autocast
        if use_amp:
            scaler.scale(terms["loss"]).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            terms["loss"].backward()
            optimizer.step()
        optimizer.clear_grad(set_to_zero=False)
        return StepOutput(
            loss=_all_mean(terms["loss"], ctx),
            loss_lr=float(terms["loss_lr"]),
            loss_hr=float(terms["loss_hr"]) if "loss_hr" in terms else None,
            lr=optimizer.get_lr(),
        )

    def save(state: RunState, best: bool) -> Path | None:
        rng_states = _gather_rng(ctx)
        if not ctx.is_main:
            return None
        framework = {
            "model": bare.state_dict(),
            "optimizer": optimizer_state_by_structure(optimizer, bare),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if use_amp else None,
        }
        ckpt = checkpoint_dict(state, cfg, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, framework, ctx.world_size, rng_states)
        return atomic_save(ckpt, out / (BEST_NAME if best else LAST_NAME))

    def validate_epoch(epoch: int) -> Mapping[str, Any] | None:
        fn = _default_validate if validate is True else validate
        metrics = fn(cfg, bare, ctx.device, out, epoch)
        bare.train()
        return metrics

    hooks = TrainHooks(batches, train_step, save, on_epoch_start=lambda epoch: model.train(),
                       on_epoch_end=lambda epoch: scheduler.step(), validate=validate_epoch if validate else None,
                       broadcast=_broadcast if ctx.distributed else None)
    result = run_training_loop(
        run, hooks, epochs=tcfg.epochs, steps_per_epoch=steps_per_epoch, out_dir=out, config=config_to_dict(cfg),
        resumed=ckpt_path is not None, is_main=ctx.is_main, max_steps=max_steps, checkpoint_every=checkpoint_every,
        progress=progress,
    )
    if ctx.distributed:
        dist.barrier()
    return result

