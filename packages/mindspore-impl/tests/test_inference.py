"""enhancenet_mindspore.init_model + inference_topdown (:mod:`enhancenet_runtime.suites.inference`, shared by the
three frameworks): the same keypoints as numpy-ref's forward through the same runtime path."""

from __future__ import annotations

import pytest

from enhancenet_runtime.suites.inference import InferenceSuite

pytest.importorskip("mindspore", reason="enhancenet-mindspore needs mindspore")
from enhancenet_mindspore import inference_topdown, init_model


class TestInference(InferenceSuite):
    @pytest.fixture(scope="class")
    def api(self):
        return init_model, inference_topdown
