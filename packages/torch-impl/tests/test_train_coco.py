"""End to end on the real COCO sample: a few iterations of SimpleBaseline-R18 + EnhanceNet, validation, best model;
the shared suite (:mod:`enhancenet_runtime.suites.training`) with PyTorch's binding (conftest.py), and the
TensorBoard log only the torch trainer writes."""

from __future__ import annotations

import pytest

from enhancenet_runtime.suites.training import CocoRun, CocoSampleTrainingSuite


class TestCocoSampleTraining(CocoSampleTrainingSuite):
    """Result, checkpoints, logs, validation and resume of one short run."""

    @pytest.mark.slow
    def test_tensorboard_log(self, coco_run: CocoRun) -> None:
        assert any((coco_run.out / "tb").iterdir())
