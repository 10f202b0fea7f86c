"""End to end on the real COCO sample: a few PYNATIVE iterations of SimpleBaseline-R18 + EnhanceNet, validation on
detector boxes, best-model tracking, logs, and a second call that resumes at the end; the shared suite
(:mod:`enhancenet_runtime.suites.training`) with MindSpore's binding (conftest.py), and what MindSpore's
checkpoint and version record hold."""

from __future__ import annotations

import pytest

from enhancenet_runtime.suites.training import CocoRun, CocoSampleTrainingSuite


class TestCocoSampleTraining(CocoSampleTrainingSuite):
    """Result, checkpoints, logs, validation and resume of one short run."""

    @pytest.mark.slow
    def test_batch_norm_statistics_and_version(self, coco_run: CocoRun) -> None:
        assert any(name.endswith("moving_mean") for name in coco_run.ckpt["tensors"])  # BN statistics are saved
        assert coco_run.val["versions"]["mindspore"].startswith("2.")
