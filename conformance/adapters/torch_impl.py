"""enhancenet-torch through its public modules: models.build_model / EnhanceNet, losses, weights (via convert)."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

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
from enhancenet_torch import convert as torch_convert
from enhancenet_torch.evaluate import bottomup_forward
from enhancenet_torch.losses import AssociativeEmbeddingLoss, DlcmLoss, EnhanceNetLoss, JointsMSELoss
from enhancenet_torch.models import EnhanceNet, build_model, canonical_state_dict
from enhancenet_torch.models.head import paper_to_framework_index

_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def _load(module: torch.nn.Module, params: Params, dtype: type, where: str) -> None:
    module.to(_DTYPES[np.dtype(dtype).type])
    own = canonical_state_dict(module)
    check_same_names(set(own), set(params), where)
    with torch.no_grad():
        for name, t in own.items():
            t.copy_(torch.from_numpy(np.asarray(params[name])))


def _canonical_param_name(name: str) -> str:
    return name[len("base."):] if name.startswith("base.") else name


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


class TorchAdapter:
    name = "torch"
    #: the optimizer update train_step applies (stated in the report)
    adam_update = TORCH_ADAM_RULE

    def versions(self) -> dict[str, str]:
        # the full version, local label included (2.13.0+cpu): the gate compares it with the installed wheel
        return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}

    def _head(self, params: Params, model_cfg: ModelConfig, f_channels: int, dtype: type) -> EnhanceNet:
        head = EnhanceNet(model_cfg.head, f_channels, model_cfg.num_keypoints)
        _load(head, strip_prefix(params, HEAD_PREFIX), dtype, "torch head")
        return head

    def head_forward(self, params: Params, model_cfg: ModelConfig, f_lr: np.ndarray, m_lr: np.ndarray, dtype: type) -> np.ndarray:
        head = self._head(params, model_cfg, f_lr.shape[1], dtype).eval()
        with torch.no_grad():
            out = head(torch.from_numpy(np.asarray(f_lr, dtype)), torch.from_numpy(np.asarray(m_lr, dtype)))
        return _np(out)

    def model_forward(self, params: Params, model_cfg: ModelConfig, images: np.ndarray, dtype: type) -> dict[str, np.ndarray]:
        model = build_model(model_cfg)
        _load(model, params, dtype, "torch model")
        model.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(np.asarray(images, dtype)))
        result: dict[str, Any] = {k: _np(out[k]) for k in ("lr", "hr", "features") if k in out}
        if "intermediate" in out:  # earlier stacks (hourglass, DLCM; the AE hourglass's detection maps)
            result["intermediate"] = [_np(t) for t in out["intermediate"]]
        if "tags" in out:  # the AE hourglass: every stack's tag maps
            result["tags"] = [_np(t) for t in out["tags"]]
        return result

    def pixel_shuffle(self, x: np.ndarray, r: int, order: ShuffleOrder) -> np.ndarray:
        t = torch.from_numpy(np.asarray(x))
        if ShuffleOrder(order) is ShuffleOrder.PAPER:  # the head's paper-order path: regroup, then shuffle
            t = t.index_select(1, paper_to_framework_index(t.shape[1] // (r * r), r))
        return _np(F.pixel_shuffle(t, r))

    def train_step(self, params: Params, model_cfg: ModelConfig, loss_cfg: LossConfig, batch: dict[str, np.ndarray],
                   lr: float, feature_channels: int | None = None) -> tuple[float, Params, Params]:
        b = {k: torch.from_numpy(v) for k, v in batch_arrays(batch).items()}
        if feature_channels is not None:
            module: torch.nn.Module = self._head(params, model_cfg, feature_channels, np.float32)
            prefix = HEAD_PREFIX
        else:
            module = build_model(model_cfg)
            _load(module, params, np.float32, "torch model")
            prefix = ""
        module.train()
        opt = torch.optim.Adam(module.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        opt.zero_grad()
        if feature_channels is not None:
            pred = module(b["features"], b["heatmaps"])
            loss = loss_cfg.hr_weight * JointsMSELoss(loss_cfg.use_target_weight)(pred, b["target_hr"], b["target_weight_hr"])
        else:
            loss_cls = AssociativeEmbeddingLoss if is_ae(model_cfg) else DlcmLoss if is_dlcm(model_cfg) else EnhanceNetLoss
            criterion = loss_cls(loss_cfg, model_cfg.head.enabled)
            loss = criterion(module(b["images"]), b)["loss"]
        loss.backward()
        grads = {prefix + _canonical_param_name(n): _np(p.grad) for n, p in module.named_parameters()}
        opt.step()
        new = {prefix + k: _np(v) for k, v in canonical_state_dict(module).items()}
        return float(loss.item()), grads, new

    def bottomup_forward(self, params: Params, model_cfg: ModelConfig):
        model = build_model(model_cfg)
        _load(model, params, np.float32, "torch model")
        return bottomup_forward(model.eval(), torch.device("cpu"))

    def to_native(self, canonical: str | os.PathLike[str], model_cfg: ModelConfig, native: str | os.PathLike[str]) -> None:
        torch_convert.convert(canonical, native, model_cfg)

    def from_native(self, native: str | os.PathLike[str], model_cfg: ModelConfig, canonical: str | os.PathLike[str]) -> None:
        torch_convert.convert(native, canonical, model_cfg)


def make_adapter() -> TorchAdapter:
    return TorchAdapter()
