"""Test setup for enhancenet-paddle: explicit thread count, a quiet Paddle, float32 default dtype per test.

The whole package is skipped (with the reason) where Paddle is not installed, e.g. in the torch virtualenv.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

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
