"""Shared helpers of the conformance tests: golden files, configurations, error measures."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from enhancenet_core.config import ModelConfig
from enhancenet_numpy.weights import read_safetensors
from enhancenet_runtime.convert import model_config_from_json

GOLDEN = Path(__file__).resolve().parent / "golden" / "data"

#: float32 vs float64 numpy-ref, the head: max |diff| <= HEAD_RTOL * max(1, max |ref|)   (DEVELOPERS.md)
HEAD_RTOL = 1e-5
#: float32 vs float64 numpy-ref, deep base models (ResNet-18/50, HRNet-W32, 2-stack hourglass at reduced
#: size, random He-uniform weights): max |diff| <= DEEP_RTOL * max(1, max |ref|). See README for the measurement.
DEEP_RTOL = 2e-5


@lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))


def cases(kind: str) -> list[str]:
    return sorted(k for k, v in manifest()["cases"].items() if v["kind"] == kind)


def golden(case: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    return read_safetensors(GOLDEN / manifest()["cases"][case]["file"])


def case_config(case: str) -> ModelConfig:
    return model_config_from_json(manifest()["cases"][case]["metadata"]["model_config"], case)


def scaled_error(out: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max |out - ref|, max(1, max |ref|)) in float64."""
    if out.shape != ref.shape:
        raise AssertionError(f"shape {out.shape} != reference shape {ref.shape}")
    diff = float(np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64))))
    return diff, max(1.0, float(np.max(np.abs(ref))))
