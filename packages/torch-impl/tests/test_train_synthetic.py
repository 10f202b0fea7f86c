"""A small model trained briefly on the synthetic data set localises keypoints that an untrained one does not:
the shared suite (:mod:`enhancenet_runtime.suites.training`) with PyTorch's binding (conftest.py), whose tiny
base model is in the toy module of these tests."""

from __future__ import annotations

from enhancenet_runtime.suites.training import SyntheticTrainingSuite


class TestSyntheticTraining(SyntheticTrainingSuite):
    """PCK@0.2 of the trained model > 0.4 and 0.2 above the untrained one's (< 0.25)."""
