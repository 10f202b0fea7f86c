"""Test setup for enhancenet-paddle: explicit thread count, a quiet Paddle, float32 default dtype per test, and the
``binding`` fixture: what the shared suites of :mod:`enhancenet_runtime.suites` need from Paddle.

The whole package is skipped (with the reason) where Paddle is not installed, e.g. in the torch virtualenv.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

if importlib.util.find_spec("paddle") is None:  # pragma: no cover - depends on the virtualenv
    collect_ignore_glob = ["test_*.py"]
    warnings.warn("enhancenet-paddle tests skipped: paddlepaddle is not installed in this environment", stacklevel=1)
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle

    paddle.set_device("cpu")

    @pytest.fixture(autouse=True)
    def _float32_default_and_seed() -> None:
        paddle.set_default_dtype("float32")
        paddle.seed(0)

    from _train_toy import tiny_model

    from enhancenet_core.config import Config, EnhanceNetConfig, ModelConfig
    from enhancenet_core.conventions import Upsampler
    from enhancenet_core.namemap import HEAD_PREFIX
    from enhancenet_numpy.weights import save_weights
    from enhancenet_paddle import checkpoint, evaluate, losses, models, train, weights
    from enhancenet_paddle.cli import main as cli_main
    from enhancenet_paddle.convert import main as convert_main
    from enhancenet_paddle.models.head import EnhanceNet
    from enhancenet_paddle.weights import canonical_state_dict, load_canonical, paddle_name

    class PaddleBinding:
        """Paddle's side of the shared suites (see each suite's ``Binding`` protocol)."""

        name = "paddle"
        losses = losses
        cli_prog = "enhancenet-paddle"
        cli_module = "enhancenet_paddle.cli"
        cli_main = staticmethod(cli_main)
        cli_synth_images = 10
        # the no-pickle suite (enhancenet_runtime.suites.no_pickle)
        pickle_suffixes = (".pdparams", ".pdckpt", ".pt")
        legacy_checkpoint_suffix = ".pdckpt"
        trusted_pickle_suffix = ".pdparams"
        convert_backend = staticmethod(convert_main)
        convert_backend_prog = "enhancenet_paddle.convert:"

        @staticmethod
        def pickle_readers(model: Any) -> list[Any]:
            return [weights.read_state_dict, lambda p: weights.load_hrnet_checkpoint(model, p),
                    lambda p: weights.load_pdparams(model, p)]

        checkpoint_suffix = ".safetensors"
        cli_architecture_words = {  # noqa: RUF012 - read only
            "model.base.depth=34": ("depth=18", "depth=34"),
            "model.head.enabled=false": ("enhancenet(L=3,C=16", "config builds 'simple_baseline(depth=18,K=17)'"),
            "model.head.channels=8": ("enhancenet(L=3,C=16", "enhancenet(L=3,C=8"),
        }

        @staticmethod
        def tensor(array: np.ndarray) -> paddle.Tensor:
            return paddle.to_tensor(np.ascontiguousarray(array, dtype=np.float32))

        @staticmethod
        def numpy(tensor: paddle.Tensor) -> np.ndarray:
            return tensor.numpy()

        @staticmethod
        def grad(fn, array: np.ndarray) -> np.ndarray:
            x = paddle.to_tensor(np.array(array, dtype=np.float32))
            x.stop_gradient = False
            fn(x).backward()
            return x.grad.numpy()
        head_dtypes = ("float64", "float32")  # every op of the head has float64 CPU kernels in Paddle
        head = EnhanceNet

        @staticmethod
        def head_forward(cfg: EnhanceNetConfig, params: dict[str, np.ndarray], features: np.ndarray,
                         heatmaps: np.ndarray, dtype: str) -> np.ndarray:
            layer = EnhanceNet(cfg, features.shape[1], heatmaps.shape[1])
            layer.to(dtype=dtype)
            layer.eval()
            state = {paddle_name(k[len(HEAD_PREFIX):], in_pose_model=False): v.astype(dtype)
                     for k, v in params.items()}
            missing, unexpected = layer.set_state_dict(state)
            assert not missing and not unexpected
            with paddle.no_grad():
                got = layer(paddle.to_tensor(features.astype(dtype)), paddle.to_tensor(heatmaps.astype(dtype)))
            assert str(got.dtype) == f"paddle.{dtype}"
            return got.numpy().astype(np.float64)

        @staticmethod
        def head_canonical_shapes(head: EnhanceNet) -> dict[str, tuple[int, ...]]:
            return {HEAD_PREFIX + k: tuple(v.shape) for k, v in canonical_state_dict(head).items()}

        @staticmethod
        def head_tolerance(cfg: EnhanceNetConfig, dtype: str) -> float | None:
            """Paddle's bilinear kernel computes the source coordinate ``(dst + 0.5) / r - 0.5`` in float32 even
            for float64 tensors, so for an upscale r that is not a power of two (1/r not exact in binary) float64
            agrees to ~1e-7 x scale only: 1e-6 there (r = 1, 2, 4 stay at 1e-10; float32 is unchanged)."""
            r = cfg.upscale
            if dtype == "float64" and cfg.upsampler is Upsampler.BILINEAR_CONV and r & (r - 1) != 0:
                return 1e-6
            return None
        version_key = "paddlepaddle"
        synthetic_steps = 100  # the transposed conv init matters: with PyTorch's, 80 steps reach ~0.43, 100 a margin
        synthetic_loss_window = 1
        tiny_model = staticmethod(tiny_model)
        build_model = staticmethod(models.build_model)
        load_model_weights = staticmethod(checkpoint.load_model_weights)
        load_checkpoint = staticmethod(checkpoint.load_checkpoint)

        @staticmethod
        def train(cfg: Config, out_dir: Path, **kwargs: Any) -> Any:
            return train.train(cfg, out_dir, device="cpu", **kwargs)

        @staticmethod
        def evaluate(cfg: Config, model: paddle.nn.Layer, out_dir: Path) -> dict[str, Any]:
            return evaluate.evaluate(cfg, model, device="cpu", out_dir=out_dir, progress=False)

        @staticmethod
        def predict_image(cfg: Config, checkpoint: Path, image: Path, boxes: list[list[float]],
                          out_path: Path) -> list[Path]:
            from enhancenet_paddle.predict import predict_image

            return predict_image(cfg, checkpoint, image, boxes, out_path, device="cpu")

        @staticmethod
        def checkpoint_tensors(ckpt: dict[str, Any]) -> dict[str, np.ndarray]:
            return {k: v.numpy() for k, v in ckpt["model"].items()}

        @staticmethod
        def model_tensors(model: paddle.nn.Layer) -> dict[str, np.ndarray]:
            return {k: v.numpy().copy() for k, v in model.state_dict().items()}

        model_dtypes = ("float64", "float32")

        @staticmethod
        def _outputs(out: dict[str, Any]) -> dict[str, Any]:
            return {k: [t.numpy().astype(np.float64) for t in v] if isinstance(v, list)
                    else v.numpy().astype(np.float64) for k, v in out.items()}

        @classmethod
        def model_forward(cls, cfg: ModelConfig, params: dict[str, np.ndarray], images: np.ndarray,
                          dtype: str) -> dict[str, Any]:
            """Through the canonical file written by enhancenet-numpy (``save_weights``) and read by
            :func:`load_canonical` into a float64 model, then cast: float64 -> float32 rounds each weight once, as
            loading the file into float32 does."""
            model = models.build_model(cfg)
            model.eval()
            model.to(dtype="float64")
            with tempfile.TemporaryDirectory() as tmp:
                save_weights(Path(tmp) / "w.safetensors", params, cfg)
                load_canonical(model, Path(tmp) / "w.safetensors", cfg)
            model.to(dtype=dtype)
            with paddle.no_grad():
                return cls._outputs(model(paddle.to_tensor(images.astype(dtype))))

        @classmethod
        def infer(cls, model: paddle.nn.Layer, images: np.ndarray) -> dict[str, Any]:
            model.eval()
            with paddle.no_grad():
                return cls._outputs(model(paddle.to_tensor(images.astype(np.float32))))

        @staticmethod
        def model_tolerance(dtype: str) -> float | None:
            return None

        @staticmethod
        def canonical_shapes(model: paddle.nn.Layer) -> dict[str, tuple[int, ...]]:
            return {k: tuple(v.shape) for k, v in canonical_state_dict(model).items()}

        @staticmethod
        def assert_native_names(model: paddle.nn.Layer, canonical_names: list[str]) -> None:
            # the table is a bijection: canonical -> Paddle gives back exactly Paddle's own keys, in order
            assert [paddle_name(k) for k in canonical_names] == list(model.state_dict())

    @pytest.fixture(scope="session")
    def binding() -> Any:
        return PaddleBinding()
