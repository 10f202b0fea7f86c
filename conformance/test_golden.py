"""(a) Golden tensors: every implementation reproduces numpy-ref's float64 goldens in float32.

Head: max |diff| <= 1e-5 × max(1, max |ref|). Base models at reduced size (weights = numpy-ref
``init_weights(cfg, seed, float64)``, confirmed by the manifest's SHA-256): DEEP_RTOL × max(1, max |ref|).
Pixel-shuffle op cases: exact equality (a permutation).
"""

from __future__ import annotations

import numpy as np
import pytest

from conformance._common import (
    DEEP_RTOL,
    GOLDEN,
    HEAD_RTOL,
    case_config,
    cases,
    golden,
    manifest,
    scaled_error,
)
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_numpy.weights import init_weights, load_weights


@pytest.mark.parametrize("case", cases("head"))
def test_head(impl, record, case: str) -> None:
    tensors, _ = golden(case)
    entry = manifest()["cases"][case]
    cfg = case_config(case)
    params = load_weights(GOLDEN / entry["weights_file"], cfg, int(entry["feature_channels"]))
    out = impl.head_forward(params, cfg, tensors["input.F"], tensors["input.M"], np.float32)
    err, scale = scaled_error(out, tensors["output.M_HR"])
    assert record(f"golden.head.{case}", err, HEAD_RTOL * scale, f"float32 vs float64, scale {scale:.3g}")


@pytest.mark.parametrize("case", cases("base"))
def test_base_model(impl, record, case: str) -> None:
    from conformance.golden.make_golden import SEED, weights_sha256

    tensors, _ = golden(case)
    cfg = case_config(case)
    params = init_weights(cfg, SEED, np.float64)
    assert weights_sha256(params, cfg) == manifest()["cases"][case]["metadata"]["weights_sha256"]
    out = impl.model_forward({k: v.astype(np.float32) for k, v in params.items()}, cfg,
                             tensors["input.x"].astype(np.float32), np.float32)
    ok = True
    for key, ref in (("features", "output.F_LR"), ("lr", "output.M_LR"), ("hr", "output.M_HR")):
        err, scale = scaled_error(out[key], tensors[ref])
        ok &= record(f"golden.base.{case}.{key}", err, DEEP_RTOL * scale, f"float32 vs float64, scale {scale:.3g}")
    stacks = sorted((k for k in tensors if k.startswith("output.scores.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if stacks and "intermediate" in out:  # multi-stack models: every stack before the last (the last is M_LR)
        assert len(out["intermediate"]) == len(stacks) - 1, f"{case}: {len(out['intermediate'])} intermediate maps"
        for i, (got, ref) in enumerate(zip(out["intermediate"], stacks[:-1], strict=True)):
            err, scale = scaled_error(got, tensors[ref])
            ok &= record(f"golden.base.{case}.stack{i}", err, DEEP_RTOL * scale, f"float32 vs float64, scale {scale:.3g}")
    stacks = sorted(k for k in tensors if k.startswith("output.tags."))  # the AE hourglass: every stack
    for i, ref in enumerate(stacks):
        pairs = [("tags", out["tags"][i], tensors[ref])]
        if i < len(stacks) - 1:
            pairs.append(("detection", out["intermediate"][i], tensors[f"output.detection.{i}"]))
        for what, got, want in pairs:
            err, scale = scaled_error(got, want)
            ok &= record(f"golden.base.{case}.{what}.{i}", err, DEEP_RTOL * scale, f"float32 vs float64, scale {scale:.3g}")
    assert ok


@pytest.mark.parametrize("case", [c for c in cases("op") if c.startswith("op_pixel_shuffle")])
def test_pixel_shuffle_op(impl, record, case: str) -> None:
    tensors, _ = golden(case)
    kw = manifest()["cases"][case]["metadata"]
    kwargs = kw.get("kwargs") or {}
    if isinstance(kwargs, str):
        import json

        kwargs = json.loads(kwargs)
    out = impl.pixel_shuffle(tensors["input.x"], int(kwargs["upscale"]), ShuffleOrder(kwargs["order"]))
    err = float(np.max(np.abs(out - tensors["output.y"]))) if out.shape == tensors["output.y"].shape else float("inf")
    assert record(f"golden.op.{case}", err, 0.0, "a permutation: exact")
