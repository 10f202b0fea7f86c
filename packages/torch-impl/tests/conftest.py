"""The ``binding`` fixture: what the shared suites of :mod:`enhancenet_runtime.suites` need from PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _toy import tiny_model

from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_torch import checkpoint, evaluate, losses, models, train, weights
from enhancenet_torch.cli import main as cli_main
from enhancenet_torch.convert import main as convert_main
from enhancenet_torch.models.head import EnhanceNet


class TorchBinding:
    """PyTorch's side of the shared suites (see each suite's ``Binding`` protocol)."""

    name = "torch"
    losses = losses
    cli_prog = "enhancenet-torch"
    cli_module = "enhancenet_torch.cli"
    cli_main = staticmethod(cli_main)
    cli_synth_images = 10
    # the no-pickle suite (enhancenet_runtime.suites.no_pickle)
    pickle_suffixes = (".pt", ".pth")
    legacy_checkpoint_suffix = ".pt"
    trusted_pickle_suffix = ".pt"
    convert_backend = staticmethod(convert_main)
    convert_backend_prog = "enhancenet_torch.convert:"

    @staticmethod
    def pickle_readers(model: torch.nn.Module) -> list[Callable[[Path], Any]]:
        return [weights.read_state_dict, lambda p: weights.load_hrnet_checkpoint(model, p)]

    checkpoint_suffix = ".safetensors"
    cli_architecture_words = {  # noqa: RUF012 - read only
        "model.base.depth=34": ("depth=18", "depth=34"),
        "model.head.enabled=false": ("enhancenet(L=3,C=16", "config builds 'simple_baseline(depth=18,K=17)'"),
        "model.head.channels=8": ("enhancenet(L=3,C=16", "enhancenet(L=3,C=8"),
    }

    @staticmethod
    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    @staticmethod
    def numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy()

    @staticmethod
    def grad(fn: Callable[[torch.Tensor], torch.Tensor], array: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(array, dtype=np.float32)).requires_grad_(True)
        fn(x).backward()
        assert x.grad is not None
        return x.grad.numpy()

    head_dtypes = ("float64", "float32")
    head = EnhanceNet

    @staticmethod
    def head_forward(cfg: EnhanceNetConfig, params: dict[str, np.ndarray], features: np.ndarray,
                     heatmaps: np.ndarray, dtype: str) -> np.ndarray:
        torch_dtype = getattr(torch, dtype)
        module = EnhanceNet(cfg, features.shape[1], heatmaps.shape[1]).to(torch_dtype).eval()
        state = {k[len(HEAD_PREFIX):]: torch.from_numpy(v).to(torch_dtype) for k, v in params.items()}
        module.load_state_dict(state, strict=True)
        with torch.no_grad():
            out = module(torch.from_numpy(features).to(torch_dtype), torch.from_numpy(heatmaps).to(torch_dtype))
        assert out.dtype == torch_dtype
        return out.double().numpy()

    @staticmethod
    def head_canonical_shapes(head: EnhanceNet) -> dict[str, tuple[int, ...]]:
        return {HEAD_PREFIX + k: tuple(v.shape) for k, v in head.state_dict().items()}

    @staticmethod
    def head_tolerance(cfg: EnhanceNetConfig, dtype: str) -> float | None:
        return None

    version_key = "torch"
    synthetic_steps = 80
    synthetic_loss_window = 1
    tiny_model = staticmethod(tiny_model)
    build_model = staticmethod(models.build_model)
    load_model_weights = staticmethod(checkpoint.load_model_weights)
    load_checkpoint = staticmethod(checkpoint.load_checkpoint)

    @staticmethod
    def train(cfg: Config, out_dir: Path, **kwargs: Any) -> Any:
        return train.train(cfg, out_dir, device="cpu", **kwargs)

    @staticmethod
    def evaluate(cfg: Config, model: torch.nn.Module, out_dir: Path) -> dict[str, Any]:
        return evaluate.evaluate(cfg, model, device="cpu", out_dir=out_dir, progress=False)

    @staticmethod
    def predict_image(cfg: Config, checkpoint: Path, image: Path, boxes: list[list[float]],
                      out_path: Path) -> list[Path]:
        from enhancenet_torch.predict import predict_image

        return predict_image(cfg, checkpoint, image, boxes, out_path, device="cpu")

    @staticmethod
    def checkpoint_tensors(ckpt: dict[str, Any]) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in ckpt["model"].items()}

    @staticmethod
    def model_tensors(model: torch.nn.Module) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    model_dtypes = ("float64", "float32")

    @staticmethod
    def _outputs(out: dict[str, Any]) -> dict[str, Any]:
        return {k: [t.double().numpy() for t in v] if isinstance(v, list) else v.double().numpy()
                for k, v in out.items()}

    @classmethod
    def model_forward(cls, cfg: ModelConfig, params: dict[str, np.ndarray], images: np.ndarray,
                      dtype: str) -> dict[str, Any]:
        torch_dtype = getattr(torch, dtype)
        model = models.build_model(cfg).to(torch_dtype).eval()
        model.load_state_dict({k: torch.from_numpy(v).to(torch_dtype) for k, v in params.items()}, strict=True)
        with torch.no_grad():
            return cls._outputs(model(torch.from_numpy(images).to(torch_dtype)))

    @classmethod
    def infer(cls, model: torch.nn.Module, images: np.ndarray) -> dict[str, Any]:
        model.eval()
        with torch.no_grad():
            return cls._outputs(model(torch.from_numpy(images.astype(np.float32))))

    @staticmethod
    def model_tolerance(dtype: str) -> float | None:
        return None

    @staticmethod
    def canonical_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in models.canonical_state_dict(model).items()}

    @staticmethod
    def assert_native_names(model: torch.nn.Module, canonical_names: list[str]) -> None:
        # torch's state_dict is canonical (the base. prefix is stripped by hooks); BN counters are not tensors
        # of the format
        assert [k for k in model.state_dict() if not k.endswith("num_batches_tracked")] == canonical_names


@pytest.fixture(scope="session")
def binding() -> Any:
    return TorchBinding()
