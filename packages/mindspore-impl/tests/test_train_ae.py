"""Bottom-up training and evaluation end to end: the shared suite (:mod:`enhancenet_runtime.suites.ae_training`)
with MindSpore's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.ae_training import AeTrainingSuite


class TestAeTraining(AeTrainingSuite):
    """An AE config trains (whole images, AE loss), resumes and evaluates (bottom-up AP)."""
