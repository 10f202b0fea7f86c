"""Test setup for enhancenet-mindspore: explicit thread count, PYNATIVE_MODE by default, a quiet MindSpore.

The whole package is skipped (with the reason) where MindSpore is not installed (e.g. the torch virtualenv).
Tests that need GRAPH_MODE use the ``graph_mode`` fixture, which restores PYNATIVE_MODE afterwards. The
``binding`` fixture is what the shared suites of :mod:`enhancenet_runtime.suites` need from MindSpore.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("GLOG_v", "3")

if importlib.util.find_spec("mindspore") is None:  # pragma: no cover - depends on the virtualenv
    collect_ignore_glob = ["test_*.py"]
    warnings.warn("enhancenet-mindspore tests skipped: mindspore is not installed in this environment", stacklevel=1)
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mindspore as ms

    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")

    @pytest.fixture(autouse=True)
    def _pynative_and_seed() -> None:
        ms.set_context(mode=ms.PYNATIVE_MODE)
        ms.set_seed(0)

    @pytest.fixture
    def graph_mode():
        """Run the test body in GRAPH_MODE, then return to PYNATIVE_MODE."""
        ms.set_context(mode=ms.GRAPH_MODE)
        yield
        ms.set_context(mode=ms.PYNATIVE_MODE)

    from _toy import tiny_model

    from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig
    from enhancenet_mindspore import checkpoint, evaluate, losses, models, train, weights
    from enhancenet_mindspore.cli import main as cli_main
    from enhancenet_mindspore.models import EnhanceNet
    from enhancenet_mindspore.weights import canonical_name, canonical_parameters, load_tensors

    class MindSporeBinding:
        """MindSpore's side of the shared suites (see each suite's ``Binding`` protocol)."""

        name = "mindspore"
        losses = losses
        cli_prog = "enhancenet-mindspore"
        cli_module = "enhancenet_mindspore.cli"
        cli_main = staticmethod(cli_main)
        cli_synth_images = 8
        checkpoint_suffix = ".ckpt"
        cli_architecture_words = {  # noqa: RUF012 - read only
            "model.base.depth=34": ("model.base.depth: checkpoint 18, config 34",),
            "model.head.enabled=false": ("model.head.enabled: checkpoint True, config False",),
            "model.head.channels=8": ("model.head.channels: checkpoint 16, config 8",),
        }

        @staticmethod
        def tensor(array: np.ndarray) -> ms.Tensor:
            return ms.Tensor(np.ascontiguousarray(array, dtype=np.float32))

        @staticmethod
        def numpy(tensor: ms.Tensor) -> np.ndarray:
            return tensor.asnumpy()

        @staticmethod
        def grad(fn, array: np.ndarray) -> np.ndarray:
            return ms.grad(fn)(ms.Tensor(np.array(array, dtype=np.float32))).asnumpy()
        head_dtypes = ("float32",)  # MindSpore 2.8's CPU convolutions accept float16/32 only
        head = EnhanceNet

        @staticmethod
        def head_forward(cfg: EnhanceNetConfig, params: dict[str, np.ndarray], features: np.ndarray,
                         heatmaps: np.ndarray, dtype: str) -> np.ndarray:
            assert dtype == "float32"
            head = EnhanceNet(cfg, features.shape[1], heatmaps.shape[1])
            load_tensors(head, params, "init_weights")
            got = head(ms.Tensor(features.astype(np.float32)), ms.Tensor(heatmaps.astype(np.float32)))
            assert got.dtype == ms.float32
            return got.asnumpy().astype(np.float64)

        @staticmethod
        def head_canonical_shapes(head: EnhanceNet) -> dict[str, tuple[int, ...]]:
            return {k: tuple(p.shape) for k, p in canonical_parameters(head).items()}

        @staticmethod
        def head_tolerance(cfg: EnhanceNetConfig, dtype: str) -> float | None:
            return None
        version_key = "mindspore"
        synthetic_steps = 80
        synthetic_loss_window = 5  # as this package has always checked it: the means of the first and last five
        tiny_model = staticmethod(tiny_model)
        build_model = staticmethod(models.build_model)
        load_model_weights = staticmethod(checkpoint.load_model_weights)
        load_checkpoint = staticmethod(checkpoint.load_checkpoint)
        model_tensors = staticmethod(weights.model_tensors)

        @staticmethod
        def train(cfg: Config, out_dir: Path, **kwargs: Any) -> Any:
            return train.train(cfg, out_dir, device="cpu", **kwargs)

        @staticmethod
        def evaluate(cfg: Config, model: ms.nn.Cell, out_dir: Path) -> dict[str, Any]:
            return evaluate.evaluate(cfg, model, out_dir=out_dir, progress=False)

        @staticmethod
        def predict_image(cfg: Config, checkpoint: Path, image: Path, boxes: list[list[float]],
                          out_path: Path) -> list[Path]:
            from enhancenet_mindspore.predict import predict_image

            return predict_image(cfg, checkpoint, image, boxes, out_path, device="cpu")

        @staticmethod
        def checkpoint_tensors(ckpt: dict[str, Any]) -> dict[str, np.ndarray]:
            return {k: np.asarray(v) for k, v in ckpt["tensors"].items()}

        model_dtypes = ("float32",)  # MindSpore 2.8's CPU convolutions accept float16/32 only

        @staticmethod
        def _outputs(out: dict[str, Any]) -> dict[str, Any]:
            return {k: [t.asnumpy().astype(np.float64) for t in v] if isinstance(v, list)
                    else v.asnumpy().astype(np.float64) for k, v in out.items()}

        @classmethod
        def model_forward(cls, cfg: ModelConfig, params: dict[str, np.ndarray], images: np.ndarray,
                          dtype: str) -> dict[str, Any]:
            assert dtype == "float32"
            model = models.build_model(cfg)
            load_tensors(model, params, "init_weights")
            model.set_train(False)
            return cls._outputs(model(ms.Tensor(images.astype(np.float32))))

        @classmethod
        def infer(cls, model: ms.nn.Cell, images: np.ndarray) -> dict[str, Any]:
            model.set_train(False)
            return cls._outputs(model(ms.Tensor(images.astype(np.float32))))

        @staticmethod
        def model_tolerance(dtype: str) -> float | None:
            """float32 through 20-100 layers of MindSpore's CPU kernels: 1e-4 x scale for the base models (the head
            alone is held to 1e-5 by the head suite)."""
            return 1e-4

        @staticmethod
        def canonical_shapes(model: ms.nn.Cell) -> dict[str, tuple[int, ...]]:
            return {k: tuple(p.shape) for k, p in canonical_parameters(model).items()}

        @staticmethod
        def assert_native_names(model: ms.nn.Cell, canonical_names: list[str]) -> None:
            native = [name for name, _ in model.parameters_and_names()]
            assert len(set(native)) == len(native) == len(canonical_names)
            assert sorted(canonical_name(n) for n in native) == sorted(canonical_names)
            assert all(p.name == n for n, p in model.parameters_and_names())  # .ckpt names = cell paths

    @pytest.fixture(scope="session")
    def binding() -> Any:
        return MindSporeBinding()
