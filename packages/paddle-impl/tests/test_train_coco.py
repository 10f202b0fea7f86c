"""End to end on the real COCO sample: a few iterations of SimpleBaseline-R18 + EnhanceNet, validation, best model;
the shared suite (:mod:`enhancenet_runtime.suites.training`) with Paddle's binding (conftest.py)."""

from __future__ import annotations

from enhancenet_runtime.suites.training import CocoSampleTrainingSuite


class TestCocoSampleTraining(CocoSampleTrainingSuite):
    """Result, checkpoints, logs, validation and resume of one short run."""
