"""The ``binding`` fixture: what the shared suites of :mod:`enhancenet_runtime.suites` need from PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from enhancenet_torch import losses


class TorchBinding:
    """PyTorch's side of the shared suites (see each suite's ``Binding`` protocol)."""

    name = "torch"
    losses = losses

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


@pytest.fixture(scope="session")
def binding() -> Any:
    return TorchBinding()
