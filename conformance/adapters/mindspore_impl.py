"""enhancenet-mindspore through its public modules: models.build_model / EnhanceNet, losses, weights, convert.

Two adapter keys, one per execution mode (MindSpore's mode is a process-wide context, so every call sets it):

- ``mindspore``: PYNATIVE_MODE (eager);
- ``mindspore-graph``: GRAPH_MODE: every forward, the shuffle and the whole training step (forward, backward
  and the Adam update, :class:`enhancenet_mindspore.optim.TorchAdam`) run as compiled graphs. Compilation is
  slow, so a compiled cell is kept per configuration and input shape and only its parameters are replaced
  (written in place, which keeps the graph valid).

MindSpore's CPU kernels for Conv2D / Conv2DTranspose / BatchNorm take float16/32 only: a float64 forward is
not supported (the suite runs every implementation in float32 against numpy-ref's float64 goldens).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from conformance.adapters.base import (
    TORCH_ADAM_RULE,
    NotSupportedError,
    Params,
    batch_arrays,
    check_same_names,
    is_ae,
    is_dlcm,
)
from enhancenet_core.config import LossConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_mindspore import convert as ms_convert
from enhancenet_mindspore.evaluate import bottomup_forward
from enhancenet_mindspore.losses import AssociativeEmbeddingLoss, DlcmLoss, EnhanceNetLoss, JointsMSELoss
from enhancenet_mindspore.models import EnhanceNet, build_model
from enhancenet_mindspore.models.head import paper_to_framework_index
from enhancenet_mindspore.optim import TorchAdam
from enhancenet_mindspore.weights import canonical_parameters, load_tensors
from enhancenet_runtime.convert import model_config_to_json

ms.set_context(device_target="CPU")
MODES = {"mindspore": ms.PYNATIVE_MODE, "mindspore-graph": ms.GRAPH_MODE}
ADAPTER_KEYS = tuple(MODES)
ADAM_UPDATE = TORCH_ADAM_RULE  # through enhancenet_mindspore.optim.TorchAdam
_MODE_NAMES = {ms.PYNATIVE_MODE: "PYNATIVE_MODE", ms.GRAPH_MODE: "GRAPH_MODE"}


def _float32_only(dtype: type, what: str) -> None:
    if np.dtype(dtype) != np.float32:
        raise NotSupportedError(f"mindspore {what}: CPU Conv2D/BatchNorm kernels take float16/float32 only, "
                                f"not {np.dtype(dtype).name}")


def _load(module: nn.Cell, params: Params, where: str) -> None:
    """Copy the canonical ``params`` into ``module`` (a PoseModel or a bare head, whose names carry ``enhance.``)."""
    own = canonical_parameters(module)
    check_same_names(set(own), set(params), where)
    load_tensors(module, params, where)


def _np(t: ms.Tensor) -> np.ndarray:
    return np.array(t.asnumpy(), copy=True)


class _Shuffle(nn.Cell):
    """The head's shuffle path for one order: (paper order only) the constant channel gather, then
    ``nn.PixelShuffle`` (as :class:`enhancenet_mindspore.models.EnhanceNet.construct`)."""

    def __init__(self, num_keypoints: int, r: int, order: ShuffleOrder) -> None:
        super().__init__()
        self.permute = ShuffleOrder(order) is ShuffleOrder.PAPER
        self.index = ms.Tensor(paper_to_framework_index(num_keypoints, r).astype(np.int32))
        self.shuffle = nn.PixelShuffle(r)

    def construct(self, x):
        if self.permute:
            x = ops.gather(x, self.index, 1)
        return self.shuffle(x)


class _HeadLoss(nn.Cell):
    """The head alone: ``hr_weight · JointsMSE(head(F, M), target_hr, target_weight_hr)``."""

    def __init__(self, head: EnhanceNet, loss_cfg: LossConfig) -> None:
        super().__init__()
        self.head = head
        self.mse = JointsMSELoss(loss_cfg.use_target_weight)
        self.hr_weight = float(loss_cfg.hr_weight)

    def construct(self, features, heatmaps, target_hr, target_weight_hr):
        return self.hr_weight * self.mse(self.head(features, heatmaps), target_hr, target_weight_hr)


class _ModelLoss(nn.Cell):
    """The full model with :class:`EnhanceNetLoss` (Eq. 8)."""

    def __init__(self, model: nn.Cell, loss_cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.model = model
        self.loss = EnhanceNetLoss(loss_cfg, head_enabled)

    def construct(self, images, target_lr, target_weight_lr, target_hr, target_weight_hr):
        batch = {"target_lr": target_lr, "target_weight_lr": target_weight_lr,
                 "target_hr": target_hr, "target_weight_hr": target_weight_hr}
        return self.loss(self.model(images), batch)["loss"]


class _AeModelLoss(nn.Cell):
    """The AE model with :class:`AssociativeEmbeddingLoss` (the batch of ``AE_BATCH_KEYS`` [+ the head's])."""

    def __init__(self, model: nn.Cell, loss_cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.model = model
        self.loss = AssociativeEmbeddingLoss(loss_cfg, head_enabled)
        self.head = head_enabled

    def construct(self, images, target_lr, mask_lr, pixels, joint_mask, target_hr, mask_hr):
        batch = {"target_lr": target_lr, "mask_lr": mask_lr, "pixels": pixels, "joint_mask": joint_mask}
        if self.head:
            batch["target_hr"] = target_hr
            batch["mask_hr"] = mask_hr
        return self.loss(self.model(images), batch)["loss"]


class _DlcmModelLoss(nn.Cell):
    """DLCM with :class:`DlcmLoss`: every level's target and weight as named inputs (GRAPH_MODE compiles the
    positional signature; the head's two after the three levels' six)."""

    def __init__(self, model: nn.Cell, loss_cfg: LossConfig, head_enabled: bool) -> None:
        super().__init__()
        self.model = model
        self.loss = DlcmLoss(loss_cfg, head_enabled)
        self.head = head_enabled

    def construct(self, images, target_lr, target_weight_lr, target_level2, target_weight_level2, target_level3,
                  target_weight_level3, target_hr, target_weight_hr):
        batch = {"target_lr": target_lr, "target_weight_lr": target_weight_lr, "target_level2": target_level2,
                 "target_weight_level2": target_weight_level2, "target_level3": target_level3,
                 "target_weight_level3": target_weight_level3}
        if self.head:
            batch["target_hr"] = target_hr
            batch["target_weight_hr"] = target_weight_hr
        return self.loss(self.model(images), batch)["loss"]


#: the inputs of :class:`_DlcmModelLoss`, in order (MPII's three levels)
DLCM_STEP_KEYS = ("images", "target_lr", "target_weight_lr", "target_level2", "target_weight_level2", "target_level3",
                  "target_weight_level3", "target_hr", "target_weight_hr")


class _TrainStep(nn.Cell):
    """One step: loss and gradients of every trainable parameter (one forward, train-mode BN), then Adam."""

    def __init__(self, with_loss: nn.Cell, optimizer: nn.Optimizer) -> None:
        super().__init__()
        self.with_loss = with_loss
        self.optimizer = optimizer
        self.grad_fn = ops.value_and_grad(with_loss, None, optimizer.parameters)

    def construct(self, *inputs):
        loss, grads = self.grad_fn(*inputs)
        loss = ops.depend(loss, self.optimizer(grads))
        return loss, grads


class MindSporeAdapter:
    """MindSpore in one execution mode (see the module docstring).

    ``train_step`` uses ``TorchAdam(lr, beta1=0.9, beta2=0.999, eps=1e-8)``
    (:mod:`enhancenet_mindspore.optim`), the optimizer ``enhancenet_mindspore.train.build_optimizer`` builds: it
    runs ``torch.optim.Adam``'s update (eps added after the bias correction). MindSpore's own ``nn.Adam`` (CPU
    kernel ``ops.Adam``) adds eps to √v_t *before* the bias correction, i.e. PyTorch's eps replaced by
    eps/√(1−β2^t) (3.2e-7 at t = 1), which failed the weights-after-Adam check by 300-700x; it is not used.
    :data:`ADAM_UPDATE` states the rule; the report prints it beside the weights-after-Adam check.
    """

    #: the update rule of the optimizer train_step runs (reported beside the weights-after-Adam check)
    adam_update = ADAM_UPDATE

    def __init__(self, name: str = "mindspore") -> None:
        if name not in MODES:
            raise ValueError(f"mindspore adapter: unknown key {name!r}; expected one of {sorted(MODES)}")
        self.name = name
        self.mode = MODES[name]
        self._cache: dict[Any, nn.Cell] = {}

    def _enter(self) -> None:
        ms.set_context(mode=self.mode)

    def versions(self) -> dict[str, str]:
        return {"mindspore": ms.__version__, "mode": _MODE_NAMES[self.mode], "numpy": np.__version__,
                "python": platform.python_version()}

    def _cached(self, key: tuple, build) -> nn.Cell:
        """In GRAPH_MODE a cell per key (its compiled graphs are reused); in PYNATIVE_MODE a fresh one."""
        if self.mode != ms.GRAPH_MODE:
            return build()
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _head(self, params: Params, model_cfg: ModelConfig, f_channels: int) -> EnhanceNet:
        key = ("head", model_config_to_json(model_cfg), f_channels)
        head = self._cached(key, lambda: EnhanceNet(model_cfg.head, f_channels, model_cfg.num_keypoints))
        _load(head, {k: v for k, v in params.items() if k.startswith(HEAD_PREFIX)}, f"{self.name} head")
        return head

    def head_forward(self, params: Params, model_cfg: ModelConfig, f_lr: np.ndarray, m_lr: np.ndarray, dtype: type) -> np.ndarray:
        _float32_only(dtype, "head_forward")
        self._enter()
        head = self._head(params, model_cfg, f_lr.shape[1])
        head.set_train(False)
        out = head(ms.Tensor(np.asarray(f_lr, np.float32)), ms.Tensor(np.asarray(m_lr, np.float32)))
        return _np(out)

    def model_forward(self, params: Params, model_cfg: ModelConfig, images: np.ndarray, dtype: type) -> dict[str, np.ndarray]:
        _float32_only(dtype, "model_forward")
        self._enter()
        model = self._cached(("model", model_config_to_json(model_cfg)), lambda: build_model(model_cfg))
        _load(model, params, f"{self.name} model")
        model.set_train(False)
        out = model(ms.Tensor(np.asarray(images, np.float32)))
        result: dict[str, Any] = {k: _np(out[k]) for k in ("lr", "hr", "features") if k in out}
        if "intermediate" in out:  # earlier stacks (hourglass, DLCM; the AE hourglass's detection maps)
            result["intermediate"] = [_np(t) for t in out["intermediate"]]
        if "tags" in out:  # the AE hourglass: every stack's tag maps
            result["tags"] = [_np(t) for t in out["tags"]]
        return result

    def pixel_shuffle(self, x: np.ndarray, r: int, order: ShuffleOrder) -> np.ndarray:
        self._enter()
        k = x.shape[1] // (r * r)
        cell = self._cached(("shuffle", k, r, ShuffleOrder(order).value), lambda: _Shuffle(k, r, order))
        return _np(cell(ms.Tensor(np.asarray(x))))

    def train_step(self, params: Params, model_cfg: ModelConfig, loss_cfg: LossConfig, batch: dict[str, np.ndarray],
                   lr: float, feature_channels: int | None = None) -> tuple[float, Params, Params]:
        self._enter()
        b = {k: ms.Tensor(v) for k, v in batch_arrays(batch).items()}
        if feature_channels is not None:
            module: nn.Cell = EnhanceNet(model_cfg.head, feature_channels, model_cfg.num_keypoints)
            _load(module, params, f"{self.name} head")
            with_loss: nn.Cell = _HeadLoss(module, loss_cfg)
            inputs = (b["features"], b["heatmaps"], b["target_hr"], b["target_weight_hr"])
        else:
            module = build_model(model_cfg)
            _load(module, {k: np.asarray(v, np.float32) for k, v in params.items()}, f"{self.name} model")
            if is_ae(model_cfg):
                with_loss = _AeModelLoss(module, loss_cfg, model_cfg.head.enabled)
                hr = ("target_hr", "mask_hr") if model_cfg.head.enabled else ("target_lr", "mask_lr")
                inputs = tuple(b[k] for k in ("images", "target_lr", "mask_lr", "pixels", "joint_mask", *hr))
            elif is_dlcm(model_cfg):
                with_loss = _DlcmModelLoss(module, loss_cfg, model_cfg.head.enabled)
                hr = ("target_hr", "target_weight_hr") if model_cfg.head.enabled else ("target_lr", "target_weight_lr")
                inputs = tuple(b[k] for k in (*DLCM_STEP_KEYS[:-2], *hr))
            else:
                with_loss = _ModelLoss(module, loss_cfg, model_cfg.head.enabled)
                inputs = (b["images"], b["target_lr"], b["target_weight_lr"], b["target_hr"], b["target_weight_hr"])
        canonical = canonical_parameters(module)
        by_id = {id(p): name for name, p in canonical.items()}  # wrapping cells may rename the Parameters
        trainable = module.trainable_params()  # BN moving statistics have requires_grad=False
        optimizer = TorchAdam(trainable, learning_rate=lr, beta1=0.9, beta2=0.999, eps=1e-8)
        step = _TrainStep(with_loss, optimizer)
        step.set_train(True)  # train-mode BN: batch statistics, running statistics updated once
        loss, grads = step(*inputs)
        grad_out = {by_id[id(p)]: _np(g) for p, g in zip(trainable, grads, strict=True)}
        new = {name: _np(p.value()) for name, p in canonical.items()}
        return float(loss.asnumpy()), grad_out, new

    def bottomup_forward(self, params: Params, model_cfg: ModelConfig):
        self._enter()
        model = self._cached(("model", model_config_to_json(model_cfg)), lambda: build_model(model_cfg))
        _load(model, {k: np.asarray(v, np.float32) for k, v in params.items()}, f"{self.name} model")
        model.set_train(False)
        forward = bottomup_forward(model)

        def in_mode(images: np.ndarray) -> dict[str, Any]:
            self._enter()  # the mode is process-wide: another adapter key may have changed it since
            return forward(images)

        return in_mode

    def to_native(self, canonical: str | os.PathLike[str], model_cfg: ModelConfig, native: str | os.PathLike[str]) -> None:
        ms_convert.convert(canonical, native, model_cfg)

    def from_native(self, native: str | os.PathLike[str], model_cfg: ModelConfig, canonical: str | os.PathLike[str]) -> None:
        ms_convert.convert(native, canonical, model_cfg)


def make_adapter(name: str = "mindspore") -> MindSporeAdapter:
    """``mindspore`` (PYNATIVE_MODE) or ``mindspore-graph`` (GRAPH_MODE)."""
    return MindSporeAdapter(name)
