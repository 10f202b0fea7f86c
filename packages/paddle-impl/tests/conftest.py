"""Test setup for enhancenet-paddle: explicit thread count, a quiet Paddle, float32 default dtype per test, and the
``binding`` fixture: what the shared suites of :mod:`enhancenet_runtime.suites` need from Paddle.

The whole package is skipped (with the reason) where Paddle is not installed, e.g. in the torch virtualenv.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
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

    from enhancenet_paddle import losses

    class PaddleBinding:
        """Paddle's side of the shared suites (see each suite's ``Binding`` protocol)."""

        name = "paddle"
        losses = losses

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

    @pytest.fixture(scope="session")
    def binding() -> Any:
        return PaddleBinding()
