"""The MindSpore training loop: Adam/SGD, the multi-step schedule, PYNATIVE or GRAPH step, exact resume.

One process: ``enhancenet-mindspore train CONFIG``. Several (data parallel):
``msrun --worker_num=N --local_worker_num=N $(which enhancenet-mindspore) train CONFIG`` (msrun runs a script
file with the ``python`` of ``PATH``; or a rank table on Ascend): when ``MS_WORKER_NUM`` > 1 or
``RANK_TABLE_FILE`` is set, :func:`init_distributed` calls ``mindspore.communication.init()`` (CPU collectives
here; HCCL on Ascend, NCCL on GPU), sets
``set_auto_parallel_context(parallel_mode=DATA_PARALLEL, gradients_mean=True)`` and the step averages the gradients
of all ranks with ``nn.DistributedGradReducer``. ``train.batch_size`` is per process.

The step is ``mindspore.value_and_grad`` of (model → :class:`~enhancenet_mindspore.losses.EnhanceNetLoss`, or
:class:`~enhancenet_mindspore.losses.DlcmLoss` for DLCM, whose composite levels' targets and weights follow the
five tensors of the step as extra arguments, :data:`DLCM_EXTRA_KEYS` order) over the trainable parameters, followed by the optimizer; ``mode="graph"`` compiles that step with ``mindspore.jit``
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

The framework-free part of the loop (position, checkpoints, ``train_log.csv``, best model) is
:func:`enhancenet_runtime.engine.training.run_training_loop`; this module gives it the MindSpore step, the
per-epoch learning rate and the checkpoint file.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops
from mindspore.amp import all_finite

from enhancenet_core.config import Config, TrainConfig, config_to_dict
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
from enhancenet_mindspore.device import resolve_device
from enhancenet_mindspore.losses import AssociativeEmbeddingLoss, DlcmLoss, EnhanceNetLoss, build_loss
from enhancenet_mindspore.optim import TorchAdam
from enhancenet_runtime.engine.training import (
    RankInfo,
    RunState,
    StepOutput,
    TrainHooks,
    TrainResult,
    full_batches_per_epoch,
    lr_at_epoch,
    run_training_loop,
)

__all__ = [
    "MODES",
    "DistContext",
    "TrainResult",
    "TrainStep",
    "build_optimizer",
    "extra_batch_keys",
    "init_distributed",
    "lr_at_epoch",
    "make_train_step",
    "resolve_device",
    "seed_everything",
    "train",
]

MODES = ("pynative", "graph")


@dataclass(frozen=True)
class DistContext(RankInfo):
    """This process: ``rank`` of ``world_size`` and the MindSpore device target (``CPU``, ``GPU``, ``Ascend``)."""

    device_target: str = "CPU"


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
    ms.set_seed(s % 2**32)  # MindSpore takes 0 .. 2**32 - 1; seed + step + rank may pass train.seed's maximum


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


def extra_batch_keys(criterion: EnhanceNetLoss | DlcmLoss) -> tuple[str, ...]:
    """The batch keys a loss needs beyond the five of the step, in argument order: DLCM's
    ``target_level{l}``, ``target_weight_level{l}`` for l = 2 .. L; none for :class:`EnhanceNetLoss`."""
    if isinstance(criterion, DlcmLoss):
        return tuple(key for pair in criterion.plan.level_keys[1:] for key in pair)
    return ()


class _NetWithLoss(nn.Cell):
    """``(image, target_lr, weight_lr, target_hr, weight_hr, *extra) -> (loss, loss_lr, loss_hr)``: model then
    loss; ``extra`` the tensors of :func:`extra_batch_keys` (DLCM's composite levels)."""

    def __init__(self, model: nn.Cell, criterion: EnhanceNetLoss | DlcmLoss, loss_scaler: Any | None = None) -> None:
        super().__init__(auto_prefix=False)  # keep the model's parameter names
        self.model = model
        self.criterion = criterion
        self.head = bool(criterion.head_enabled)
        self.extra_keys = extra_batch_keys(criterion)
        self.loss_scaler = loss_scaler
        self.scaled = loss_scaler is not None

    def construct(self, image, target_lr, weight_lr, target_hr, weight_hr, *extra):
        outputs = self.model(image)
        batch = {"target_lr": target_lr, "target_weight_lr": weight_lr}
        if self.head:
            batch["target_hr"] = target_hr
            batch["target_weight_hr"] = weight_hr
        for i in range(len(self.extra_keys)):  # a constant range: GRAPH_MODE unrolls it
            batch[self.extra_keys[i]] = extra[i]
        terms = self.criterion(outputs, batch)
        loss = terms["loss"]
        if self.scaled:
            loss = self.loss_scaler.scale(loss)
        loss_hr = terms["loss_hr"] if self.head else terms["loss_lr"] * 0.0
        return loss, terms["loss_lr"], loss_hr


class _AeNetWithLoss(nn.Cell):
    """``(image, target_lr, mask_lr, pixels, joint_mask, target_hr, mask_hr) -> (loss, loss_lr, loss_hr)``: the AE
    model then :class:`~enhancenet_mindspore.losses.AssociativeEmbeddingLoss` (the batch of
    :data:`enhancenet_core.bottomup.loss.AE_BATCH_KEYS`; without the head the HR slots repeat the LR ones)."""

    def __init__(self, model: nn.Cell, criterion: AssociativeEmbeddingLoss, loss_scaler: Any | None = None) -> None:
        super().__init__(auto_prefix=False)
        self.model = model
        self.criterion = criterion
        self.head = bool(criterion.head_enabled)
        self.loss_scaler = loss_scaler
        self.scaled = loss_scaler is not None

    def construct(self, image, target_lr, mask_lr, pixels, joint_mask, target_hr, mask_hr):
        outputs = self.model(image)
        batch = {"target_lr": target_lr, "mask_lr": mask_lr, "pixels": pixels, "joint_mask": joint_mask}
        if self.head:
            batch["target_hr"] = target_hr
            batch["mask_hr"] = mask_hr
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

    def __init__(self, model: nn.Cell, criterion: EnhanceNetLoss | DlcmLoss | AssociativeEmbeddingLoss,
                 optimizer: nn.Optimizer,
                 grad_reducer: nn.Cell | None = None, loss_scaler: Any | None = None) -> None:
        super().__init__(auto_prefix=False)
        ae = isinstance(criterion, AssociativeEmbeddingLoss)
        self.network = (_AeNetWithLoss if ae else _NetWithLoss)(model, criterion, loss_scaler)
        self.optimizer = optimizer
        self.grad_fn = ms.value_and_grad(self.network, None, optimizer.parameters, has_aux=True)
        self.reduce = grad_reducer is not None
        self.grad_reducer = grad_reducer if grad_reducer is not None else nn.Identity()
        self.loss_scaler = loss_scaler
        self.scaled = loss_scaler is not None

    def construct(self, *inputs):  # the five step tensors (+ DLCM's levels), or the AE batch
        (loss, loss_lr, loss_hr), grads = self.grad_fn(*inputs)
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
    criterion: EnhanceNetLoss | DlcmLoss | AssociativeEmbeddingLoss,
    optimizer: nn.Optimizer,
    mode: str = "pynative",
    grad_reducer: nn.Cell | None = None,
    loss_scaler: Any | None = None,
) -> Callable[..., tuple[ms.Tensor, ms.Tensor, ms.Tensor]]:
    """One optimizer step: ``step(image, target_lr, weight_lr, target_hr, weight_hr) -> (loss, loss_lr, loss_hr)``.

    Shapes: image (B, 3, H, W), target_lr (B, K, h, w), weight_lr (B, K), target_hr (B, K, rh, rw), weight_hr
    (B, K); without the head pass the LR target and weight again in the HR slots (they are not used) and
    ``loss_hr`` is 0. With :class:`~enhancenet_mindspore.losses.DlcmLoss` the step takes the tensors of
    :func:`extra_batch_keys` after these five; with :class:`~enhancenet_mindspore.losses.AssociativeEmbeddingLoss`
    it takes ``(image, target_lr, mask_lr, pixels, joint_mask, target_hr, mask_hr)`` (:func:`_batch_tensors`).
    ``mode="graph"`` compiles :class:`TrainStep` with ``mindspore.jit``.
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


AE_STEP_KEYS = ("image", "target_lr", "mask_lr", "pixels", "joint_mask", "target_hr", "mask_hr")


def _batch_tensors(batch: Mapping[str, Any], head: bool, ae: bool = False,
                   extra_keys: tuple[str, ...] = ()) -> tuple[ms.Tensor, ...]:
    """The step's inputs of a collated batch (float32; without the head the HR slots repeat the LR ones): the AE
    batch, or the five top-down tensors followed by ``extra_keys`` (DLCM's composite levels)."""
    if ae:
        t = {k: ms.Tensor(np.ascontiguousarray(batch[k], dtype=np.float32)) for k in AE_STEP_KEYS if k in batch}
        return tuple(t[k] for k in AE_STEP_KEYS[:5]) + ((t["target_hr"], t["mask_hr"]) if head
                                                        else (t["target_lr"], t["mask_lr"]))  # fmt: skip
    keys = ("image", "target_lr", "target_weight_lr", "target_hr", "target_weight_hr", *extra_keys)
    missing = [k for k in extra_keys if k not in batch]
    if missing:
        raise ValueError(f"training batch: no {missing[0]!r} (the loss needs it; is the data a DLCM config's?)")
    t = {k: ms.Tensor(np.ascontiguousarray(batch[k], dtype=np.float32)) for k in keys if k in batch}
    extra = tuple(t[k] for k in extra_keys)
    if head:
        return t["image"], t["target_lr"], t["target_weight_lr"], t["target_hr"], t["target_weight_hr"], *extra
    return t["image"], t["target_lr"], t["target_weight_lr"], t["target_lr"], t["target_weight_lr"], *extra


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
    criterion = build_loss(cfg)  # the AE loss (bottom-up), DlcmLoss (DLCM), else Eq. 8
    optimizer = build_optimizer(model.trainable_params(), tcfg)
    reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True, degree=ctx.world_size) if ctx.distributed else None

    run = RunState()
    ckpt_path = latest_checkpoint(out) if resume else None
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path, cfg.model)
        assign_tensors([(p.name, p) for p in model.get_parameters()], ckpt["tensors"], os.fspath(ckpt_path))
        assign_tensors(optimizer_state(optimizer, model), ckpt["optimizer"], f"{ckpt_path} (optimizer state)")
        run = RunState.from_checkpoint(ckpt)
        if ckpt.get("rng") and ctx.world_size == int(ckpt.get("world_size", 1)) == 1:
            restore_rng_state(ckpt["rng"])
        else:
            seed_everything(tcfg.seed + run.step, ctx.rank)
    else:
        seed_everything(tcfg.seed, ctx.rank)

    dataset = train_dataset if train_dataset is not None else build_pose_dataset(cfg, train=True)
    loader = BatchLoader(dataset, tcfg.batch_size, train=True, seed=tcfg.seed, rank=ctx.rank,
                         world_size=ctx.world_size, workers=tcfg.workers)
    steps_per_epoch = full_batches_per_epoch(loader.samples_per_rank, tcfg.batch_size, len(dataset), ctx.world_size)
    train_step = make_train_step(model, criterion, optimizer, mode, reducer, loss_scaler)
    all_reduce = ops.AllReduce() if ctx.distributed else None
    head = bool(cfg.model.head.enabled)
    extra_keys = extra_batch_keys(criterion)

    def on_epoch_start(epoch: int) -> None:
        # in place: after the optimizer has run, Parameter.set_data no longer reaches it in PYNATIVE mode
        ops.assign(optimizer.learning_rate, ms.Tensor(lr_at_epoch(tcfg, epoch), ms.float32))
        model.set_train(True)

    def step_fn(batch: Mapping[str, Any]) -> StepOutput:
        loss, loss_lr, loss_hr = train_step(
            *_batch_tensors(batch, head, isinstance(criterion, AssociativeEmbeddingLoss), extra_keys))
        if all_reduce is not None:
            loss = all_reduce(loss) / ctx.world_size
        return StepOutput(
            loss=float(loss.asnumpy()),
            loss_lr=float(loss_lr.asnumpy()),
            loss_hr=float(loss_hr.asnumpy()) if head else None,
            lr=float(optimizer.learning_rate.asnumpy()),
        )

    def save(state: RunState, best: bool) -> Path | None:
        if not ctx.is_main:
            return None
        ckpt_state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "framework": "mindspore",
            "mindspore_version": ms.__version__,
            "architecture": architecture_of(cfg.model),
            "config": config_to_dict(cfg),
            **state.checkpoint_fields(ctx.world_size, capture_rng_state(), mode=mode),
        }
        return atomic_save(model, out / (BEST_NAME if best else LAST_NAME), ckpt_state, optimizer)

    def validate_epoch(epoch: int) -> Mapping[str, Any] | None:
        fn = _default_validate if validate is True else validate
        metrics = fn(cfg, model, out, epoch)
        model.set_train(True)
        return metrics

    hooks = TrainHooks(batches=lambda epoch, skip: loader.batches(epoch, skip_batches=skip), step=step_fn, save=save,
                       on_epoch_start=on_epoch_start, validate=validate_epoch if validate else None)
    return run_training_loop(
        run, hooks, epochs=tcfg.epochs, steps_per_epoch=steps_per_epoch, out_dir=out, config=config_to_dict(cfg),
        resumed=ckpt_path is not None, is_main=ctx.is_main, max_steps=max_steps, checkpoint_every=checkpoint_every,
        progress=progress,
    )
