"""The shared loss suite (:mod:`enhancenet_runtime.suites.losses`) with Paddle's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.losses import LossSuite


class TestLosses(LossSuite):
    """Hand-computed values, HRNet's per-joint loop, Eq. 8, OHKM placement, errors, gradients."""
