"""``init_model`` + ``inference_topdown`` of every framework: the same keypoints as numpy-ref's forward through the
same runtime path, on the same image and canonical weights; the whole image by default, array input in either
channel order, and the refusals. Each framework's ``test_inference.py`` subclasses :class:`InferenceSuite` and
gives its two functions through the ``api`` fixture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from enhancenet_numpy.models import full_forward
from enhancenet_numpy.weights import init_weights, save_weights
from enhancenet_runtime.engine.inference import PoseResult
from enhancenet_runtime.engine.inference import inference_topdown as runtime_inference
from enhancenet_runtime.testing_inference import (
    assert_same_poses,
    inference_config,
    numpy_infer,
    write_test_image,
)

DECODERS = ["argmax_quarter", "dark"]

#: (init_model, inference_topdown) of a framework
Api = tuple[Callable[..., Any], Callable[..., list[PoseResult]]]


class InferenceSuite:
    """The inference tests, run by each framework with its ``api`` fixture."""

    @pytest.fixture(scope="class")
    def case(self, tmp_path_factory):
        d = tmp_path_factory.mktemp("infer")
        cfg = inference_config()
        params = init_weights(cfg.model, seed=3, dtype=np.float32)
        save_weights(d / "w.safetensors", params, cfg.model)
        ref64 = {k: v.astype(np.float64) for k, v in params.items()}
        return cfg, d / "w.safetensors", write_test_image(d / "img.png"), ref64

    @pytest.mark.parametrize("decoder", DECODERS)
    def test_keypoints_match_numpy_ref(self, api: Api, case, decoder: str) -> None:
        init_model, inference_topdown = api
        _, weights, image, params = case
        cfg = inference_config(f"test.decoder={decoder}")
        model = init_model(cfg, weights=weights, device="cpu")
        boxes = [[20, 5, 60, 100], [70, 10, 80, 105]]
        got = inference_topdown(model, image, boxes, return_maps=True)
        ref = runtime_inference(cfg, numpy_infer(cfg, lambda x: full_forward(params, x.astype(np.float64), cfg.model)),
                                image, boxes, return_maps=True)
        assert all(isinstance(p, PoseResult) for p in got)
        assert assert_same_poses(got, ref, cfg) > 0

    def test_whole_image_default_and_array_input(self, api: Api, case) -> None:
        import cv2

        init_model, inference_topdown = api
        cfg, weights, image, _ = case
        model = init_model("synthetic_quick", weights=weights, device="cpu")
        (whole,) = inference_topdown(model, image)
        assert whole.box.tolist() == [0.0, 0.0, 160.0, 120.0] and whole.keypoints.shape == (17, 2)
        bgr = cv2.imread(str(image))
        (again,) = inference_topdown(model, bgr, channel_order="bgr")
        np.testing.assert_array_equal(again.keypoints, whole.keypoints)
        with pytest.raises(ValueError, match="outside the image"):
            inference_topdown(model, image, boxes=[[500, 0, 10, 10]])
        with pytest.raises(ValueError, match=r"\.safetensors weights only"):
            init_model(cfg, weights=image)
