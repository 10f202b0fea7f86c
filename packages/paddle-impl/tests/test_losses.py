"""The shared loss suites (:mod:`enhancenet_runtime.suites.losses`) with Paddle's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.losses import DlcmLossSuite, LossSuite


class TestLosses(LossSuite):
    """Hand-computed values, HRNet's per-joint loop, Eq. 8, OHKM placement, errors, gradients."""


class TestDlcmLoss(DlcmLossSuite):
    """DLCM's multi-level loss against the spec's NumPy formula on bone-map targets of every level."""
