"""DLCM end to end (the shared suite :mod:`enhancenet_runtime.suites.training_dlcm`) with MindSpore's binding."""

from __future__ import annotations

from enhancenet_runtime.suites.training_dlcm import DlcmTrainingSuite


class TestDlcmTraining(DlcmTrainingSuite):
    """A few DLCM steps on synthetic MPII data lower the loss; evaluation reports PCKh@0.5 with the flip test."""
