"""Test support for ``inference_topdown`` in every framework (not used by the library).

Each framework's test runs its ``init_model(cfg, weights)`` + ``inference_topdown`` and, on the same image and the
same canonical weights, the numpy-ref forward through the same runtime path (:func:`numpy_infer`), then calls
:func:`assert_same_poses`. Frameworks cannot import each other, so agreement across torch / paddle / mindspore
follows from each agreeing with numpy-ref within :data:`INFERENCE_RTOL`. No framework and no pytest import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.engine.prediction import InferFn, infer_maps

__all__ = ["INFERENCE_RTOL", "KEYPOINT_ATOL", "KEYPOINT_ATOL_TAYLOR", "assert_same_poses", "inference_config", "numpy_infer", "write_test_image"]

#: Maps: max |framework - numpy-ref| <= INFERENCE_RTOL * max(1, max |ref|) (the conformance suite's DEEP_RTOL for
#: deep base models in float32 against float64 numpy-ref).
INFERENCE_RTOL = 2e-5
#: Image pixels: keypoints of maps whose decoding is decided by margins well above the map tolerance, for the
#: argmax decoders (ARGMAX, ARGMAX_QUARTER) ...
KEYPOINT_ATOL = 1e-3
#: ... and for DARK / UNBIASED, whose Taylor step divides map differences by the log-map curvature (flat on
#: random-weight maps: measured up to 0.0097 px, torch vs numpy-ref, synthetic_quick, seed 3).
KEYPOINT_ATOL_TAYLOR = 0.02


def inference_config(*overrides: str) -> Config:
    """``synthetic_quick`` (ResNet-18 + the paper's head, 128x96 patches, 17 keypoints, flip test) with overrides."""
    return load_config(shipped_config_path("synthetic_quick"), list(overrides))


def write_test_image(path: str | Path, width: int = 160, height: int = 120) -> Path:
    """A deterministic RGB test picture (gradients and a bright figure) written as PNG at ``path``."""
    import cv2

    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1).astype(np.uint8)
    cv2.circle(img, (width // 2, height // 4), height // 10, (250, 220, 200), -1)
    cv2.rectangle(img, (width // 2 - 12, height // 4 + 12), (width // 2 + 12, 3 * height // 4), (40, 60, 200), -1)
    path = Path(path)
    cv2.imwrite(str(path), img[..., ::-1])
    return path


def numpy_infer(cfg: Config, forward: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]) -> InferFn:
    """The ``infer`` hook around a NumPy forward ``x (N, 3, H, W) -> (M_LR, M_HR or None)`` (numpy-ref's
    ``full_forward`` with its parameters bound), with the flip test of :func:`infer_maps`."""

    def maps(x: np.ndarray) -> dict[str, np.ndarray]:
        lr, hr = forward(x)
        return {"lr": lr} if hr is None else {"lr": lr, "hr": hr}

    return lambda x: infer_maps(maps, x, cfg, flip=lambda y: np.ascontiguousarray(y[..., ::-1]))


def _stable(maps: np.ndarray, margin: float) -> np.ndarray:
    """(N, K) whether the argmax wins by more than ``margin`` and its four neighbour differences exceed it."""
    n, k, h, w = maps.shape
    flat = maps.reshape(n, k, -1).astype(np.float64)
    top2 = -np.sort(-flat, axis=2)[..., :2]
    ok = top2[..., 0] - top2[..., 1] > margin
    idx = flat.argmax(2)
    px, py = idx % w, idx // w
    ni, ki = np.indices((n, k))
    for dx, dy in ((1, 0), (0, 1)):
        a = maps[ni, ki, np.clip(py + dy, 0, h - 1), np.clip(px + dx, 0, w - 1)].astype(np.float64)
        b = maps[ni, ki, np.clip(py - dy, 0, h - 1), np.clip(px - dx, 0, w - 1)].astype(np.float64)
        ok &= np.abs(a - b) > margin
    return ok


def assert_same_poses(got: Sequence, ref: Sequence, cfg: Config, min_stable: float = 0.5) -> int:
    """``inference_topdown`` results (``return_maps=True``) of a framework against numpy-ref's.

    Checks: the same number of persons, boxes and ``decoded_from``; every map within :data:`INFERENCE_RTOL`; the
    scores within it; and the keypoints within :data:`KEYPOINT_ATOL` (:data:`KEYPOINT_ATOL_TAYLOR` for DARK and
    UNBIASED) px wherever the decoding is decided by margins
    of 20 map tolerances (at least ``min_stable`` of the keypoints, else the check would be empty). Returns the number
    of keypoints compared.
    """
    if len(got) != len(ref):
        raise AssertionError(f"{len(got)} persons, numpy-ref found {len(ref)}")
    compared, total = 0, 0
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        if not np.array_equal(g.box, r.box) or g.decoded_from != r.decoded_from:
            raise AssertionError(f"person {i}: box/decoded_from {g.box}/{g.decoded_from} != {r.box}/{r.decoded_from}")
        tol = 0.0
        for key in ("lr", "hr"):
            gm, rm = getattr(g, f"heatmaps_{key}"), getattr(r, f"heatmaps_{key}")
            if (gm is None) != (rm is None):
                raise AssertionError(f"person {i}: heatmaps_{key} present in only one of the results")
            if gm is None:
                continue
            scale = max(1.0, float(np.abs(rm).max()))
            diff = float(np.abs(gm.astype(np.float64) - rm).max())
            if diff > INFERENCE_RTOL * scale:
                raise AssertionError(f"person {i}: heatmaps_{key} differ by {diff:.3g} > {INFERENCE_RTOL} x {scale:.3g}")
            if key == g.decoded_from:
                tol = INFERENCE_RTOL * scale
        if np.abs(g.scores - r.scores).max() > tol:
            raise AssertionError(f"person {i}: scores differ by {np.abs(g.scores - r.scores).max():.3g} > {tol:.3g}")
        maps = getattr(r, f"heatmaps_{r.decoded_from}")[None]
        stable = _stable(maps, 20 * tol)[0]
        taylor = heatmap_codecs(cfg).of(r.decoded_from).decoder.value in ("dark", "unbiased")
        atol = KEYPOINT_ATOL_TAYLOR if taylor else KEYPOINT_ATOL
        err = np.abs(g.keypoints - r.keypoints).max(axis=1)
        bad = np.flatnonzero(stable & (err > atol))
        if bad.size:
            raise AssertionError(f"person {i}: keypoints {bad.tolist()} differ by up to {err[bad].max():.3g} px")
        compared += int(stable.sum())
        total += stable.size
    if compared < min_stable * total:
        raise AssertionError(f"only {compared} of {total} keypoints have a decided decoding; choose another test image")
    return compared
