"""Test setup for enhancenet-mindspore: explicit thread count, PYNATIVE_MODE by default, a quiet MindSpore.

The whole package is skipped (with the reason) where MindSpore is not installed (e.g. the torch virtualenv).
Tests that need GRAPH_MODE use the ``graph_mode`` fixture, which restores PYNATIVE_MODE afterwards. The
``binding`` fixture is what the shared suites of :mod:`enhancenet_runtime.suites` need from MindSpore.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
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

    from enhancenet_mindspore import losses

    class MindSporeBinding:
        """MindSpore's side of the shared suites (see each suite's ``Binding`` protocol)."""

        name = "mindspore"
        losses = losses

        @staticmethod
        def tensor(array: np.ndarray) -> ms.Tensor:
            return ms.Tensor(np.ascontiguousarray(array, dtype=np.float32))

        @staticmethod
        def numpy(tensor: ms.Tensor) -> np.ndarray:
            return tensor.asnumpy()

        @staticmethod
        def grad(fn, array: np.ndarray) -> np.ndarray:
            return ms.grad(fn)(ms.Tensor(np.array(array, dtype=np.float32))).asnumpy()

    @pytest.fixture(scope="session")
    def binding() -> Any:
        return MindSporeBinding()
