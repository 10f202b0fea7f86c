"""The shared AE hourglass suite (:mod:`enhancenet_runtime.suites.ae`) with MindSpore's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.ae import AeSuite


class TestAe(AeSuite):
    """Model vs enhancenet-numpy (every stack's detection and tags, M^HR), names, AE loss vs the spec."""
