"""Bottom-up training, evaluation and ``predict`` end to end: the shared suite
(:mod:`enhancenet_runtime.suites.ae_training`) with PyTorch's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.ae_training import AeTrainingSuite


class TestAeTraining(AeTrainingSuite):
    """An AE config trains (whole images, AE loss), resumes, evaluates (bottom-up AP) and predicts every person."""
