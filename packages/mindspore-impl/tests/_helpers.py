"""Shared helpers of the enhancenet-mindspore tests (reference weights, tolerance checks)."""

from __future__ import annotations

import mindspore as ms
import numpy as np

from enhancenet_core.config import ModelConfig
from enhancenet_mindspore.models import build_model
from enhancenet_mindspore.weights import load_tensors
from enhancenet_numpy.weights import init_weights


def assert_close_to_scale(got: np.ndarray, want: np.ndarray, rel: float, what: str) -> None:
    """max |got - want| <= rel * max |want| (the repository's "relative to scale" tolerance)."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = float(np.abs(want).max())
    err = float(np.abs(got.astype(np.float64) - want).max())
    assert scale > 0, f"{what}: the reference is all zeros (the check would be vacuous)"
    assert err <= rel * scale, f"{what}: max abs diff {err:.3g} > {rel:g} x scale {scale:.3g}"


def model_with_reference_weights(cfg: ModelConfig, seed: int = 0) -> tuple[ms.nn.Cell, dict[str, np.ndarray]]:
    """A model of ``cfg`` in inference mode holding numpy-ref's deterministic canonical weights (float64 copy)."""
    params = init_weights(cfg, seed)
    model = build_model(cfg)
    load_tensors(model, params, "init_weights")
    model.set_train(False)
    return model, params
