"""enhancenet-paddle through its public modules: models.build_model / EnhanceNet, losses, weights (via convert)."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import paddle
import paddle.nn.functional as F

from conformance.adapters.base import (
    TORCH_ADAM_RULE,
    Params,
    batch_arrays,
    check_same_names,
    is_ae,
    is_dlcm,
    strip_prefix,
)
from enhancenet_core.config import LossConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_paddle import convert as paddle_convert
from enhancenet_paddle.evaluate import bottomup_forward
from enhancenet_paddle.losses import AssociativeEmbeddingLoss, DlcmLoss, EnhanceNetLoss, JointsMSELoss
from enhancenet_paddle.models import EnhanceNet, build_model
from enhancenet_paddle.models.head import paper_to_framework_channels
from enhancenet_paddle.weights import canonical_name, canonical_state_dict

paddle.set_device("cpu")
_DT = {np.float32: "float32", np.float64: "float64"}


def _load(module: paddle.nn.Layer, params: Params, dtype: type, where: str) -> None:
    module.to(dtype=_DT[np.dtype(dtype).type])
    own = canonical_state_dict(module)
    check_same_names(set(own), set(params), where)
    with paddle.no_grad():
        for name, t in own.items():
            t.set_value(np.ascontiguousarray(params[name], dtype=np.dtype(dtype)))


def _np(t: paddle.Tensor) -> np.ndarray:
    return np.array(t.numpy(), copy=True)


class PaddleAdapter:
    name = "paddle"
    #: the optimizer update train_step applies (stated in the report)
    adam_update = TORCH_ADAM_RULE

    def versions(self) -> dict[str, str]:
        return {"paddlepaddle": paddle.__version__, "numpy": np.__version__, "python": platform.python_version()}

    def _head(self, params: Params, model_cfg: ModelConfig, f_channels: int, dtype: type) -> EnhanceNet:
        head = EnhanceNet(model_cfg.head, f_channels, model_cfg.num_keypoints)
        _load(head, strip_prefix(params, HEAD_PREFIX), dtype, "paddle head")
        return head

    def head_forward(self, params: Params, model_cfg: ModelConfig, f_lr: np.ndarray, m_lr: np.ndarray, dtype: type) -> np.ndarray:
        head = self._head(params, model_cfg, f_lr.shape[1], dtype)
        head.eval()
        with paddle.no_grad():
            out = head(paddle.to_tensor(np.asarray(f_lr, dtype)), paddle.to_tensor(np.asarray(m_lr, dtype)))
        return _np(out)

    def model_forward(self, params: Params, model_cfg: ModelConfig, images: np.ndarray, dtype: type) -> dict[str, np.ndarray]:
        model = build_model(model_cfg)
        _load(model, params, dtype, "paddle model")
        model.eval()
        with paddle.no_grad():
            out = model(paddle.to_tensor(np.asarray(images, dtype)))
        result: dict[str, Any] = {k: _np(out[k]) for k in ("lr", "hr", "features") if k in out}
        if "intermediate" in out:  # earlier stacks (hourglass, DLCM; the AE hourglass's detection maps)
            result["intermediate"] = [_np(t) for t in out["intermediate"]]
        if "tags" in out:  # the AE hourglass: every stack's tag maps
            result["tags"] = [_np(t) for t in out["tags"]]
        return result

    def pixel_shuffle(self, x: np.ndarray, r: int, order: ShuffleOrder) -> np.ndarray:
        t = paddle.to_tensor(np.asarray(x))
        if ShuffleOrder(order) is ShuffleOrder.PAPER:  # the head's paper-order path: regroup, then shuffle
            t = paper_to_framework_channels(t, t.shape[1] // (r * r), r)
        return _np(F.pixel_shuffle(t, r))

    def train_step(self, params: Params, model_cfg: ModelConfig, loss_cfg: LossConfig, batch: dict[str, np.ndarray],
                   lr: float, feature_channels: int | None = None) -> tuple[float, Params, Params]:
        b = {k: paddle.to_tensor(v) for k, v in batch_arrays(batch).items()}
        if feature_channels is not None:
            module: paddle.nn.Layer = self._head(params, model_cfg, feature_channels, np.float32)
            prefix = HEAD_PREFIX
        else:
            module = build_model(model_cfg)
            _load(module, params, np.float32, "paddle model")
            prefix = ""
        module.train()
        trainable = [(n, p) for n, p in module.named_parameters() if not p.stop_gradient]  # BN stats are params here
        opt = paddle.optimizer.Adam(learning_rate=lr, parameters=[p for _, p in trainable], beta1=0.9, beta2=0.999, epsilon=1e-8)
        opt.clear_grad()
        if feature_channels is not None:
            pred = module(b["features"], b["heatmaps"])
            loss = loss_cfg.hr_weight * JointsMSELoss(loss_cfg.use_target_weight)(pred, b["target_hr"], b["target_weight_hr"])
        else:
            loss_cls = AssociativeEmbeddingLoss if is_ae(model_cfg) else DlcmLoss if is_dlcm(model_cfg) else EnhanceNetLoss
            criterion = loss_cls(loss_cfg, model_cfg.head.enabled)
            loss = criterion(module(b["images"]), b)["loss"]
        loss.backward()
        strip = feature_channels is None
        grads = {prefix + canonical_name(n, strip_base=strip): _np(p.grad) for n, p in trainable}
        opt.step()
        new = {prefix + k: _np(v) for k, v in canonical_state_dict(module).items()}
        return float(loss.item()), grads, new

    def bottomup_forward(self, params: Params, model_cfg: ModelConfig):
        model = build_model(model_cfg)
        _load(model, params, np.float32, "paddle model")
        model.eval()
        return bottomup_forward(model)

    def to_native(self, canonical: str | os.PathLike[str], model_cfg: ModelConfig, native: str | os.PathLike[str]) -> None:
        paddle_convert.convert(canonical, native, model_cfg)

    def from_native(self, native: str | os.PathLike[str], model_cfg: ModelConfig, canonical: str | os.PathLike[str]) -> None:
        paddle_convert.convert(native, canonical, model_cfg)


def make_adapter() -> PaddleAdapter:
    return PaddleAdapter()
