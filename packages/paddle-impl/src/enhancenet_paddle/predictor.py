"""Evaluation and prediction on the CPU through Paddle Inference with oneDNN: the ``infer`` hook of
:mod:`enhancenet_runtime.engine.prediction` for Paddle, and the choice between it and dygraph.

Paddle's dygraph CPU kernels are ~3x slower than torch's on the head forward; the same network exported with
``paddle.jit.save`` (:mod:`enhancenet_paddle.export`) and run by a ``paddle.inference`` predictor with oneDNN
(fused conv + bias + ReLU, blocked layouts) measured 0.35-0.5x torch's time on the head and ~0.22x on R50 + head
(the package README, ``benchmarks/paddle/inference_vs_torch.json``).
:class:`InferencePredictor` exports a float32, eval-mode copy of a :class:`~enhancenet_paddle.models.PoseModel`
into a temporary directory (removed once the predictor is built; the caller's model is not touched) and runs
batches of (N, 3, H_in, W_in) NumPy patches through it.

Engines (``engine=`` of :func:`enhancenet_paddle.evaluate.evaluate` and
:func:`enhancenet_paddle.predict.predict_image`; ``--engine`` of the ``eval`` and ``predict`` verbs):

- ``auto`` (default): ``inference`` on the CPU for a ``PoseModel``, else ``dygraph`` (on a GPU, for any other
  ``nn.Layer``, which cannot be exported, and for DLCM, see below);
- ``inference``: Paddle Inference with oneDNN (CPU only);
- ``dygraph``: the model itself, in eval mode under ``paddle.no_grad``.

Both give the same maps to float32 rounding (``tests/test_predictor.py``); training always runs in dygraph.
Building the predictor costs an export and an optimisation pass (seconds to tens of seconds for a
SimpleBaseline-R50 on a loaded CPU), paid once per evaluation or prediction.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import paddle
from paddle import nn

from enhancenet_core.config import Config
from enhancenet_runtime.engine.prediction import InferFn, infer_maps

__all__ = ["ENGINES", "InferencePredictor", "infer_heatmaps", "resolve_engine", "select_infer"]

ENGINES = ("auto", "inference", "dygraph")


def _on_cpu() -> bool:
    return paddle.get_device().startswith("cpu")


def resolve_engine(engine: str | None, model: nn.Layer) -> str:
    """``"inference"`` or ``"dygraph"`` for ``engine`` (``None`` = ``"auto"``) on Paddle's current device.

    Raises:
        ValueError: an unknown engine, or ``inference`` asked for on a GPU or for a model that is not a PoseModel.
    """
    from enhancenet_paddle.models.dlcm import Dlcm
    from enhancenet_paddle.models.pose_model import PoseModel

    engine = "auto" if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    exportable = isinstance(model, PoseModel)
    if exportable and isinstance(model.base, Dlcm):
        # Paddle 3.3.1's oneDNN executor cannot run DLCM's exported program (measured: "ConvertPirAttribute2-
        # RuntimeAttribute not support [pir::ArrayAttribute<pir::DoubleAttribute>]", with or without IR passes;
        # the same program runs without oneDNN): evaluate DLCM in dygraph
        if engine == "inference":
            raise ValueError("engine inference: Paddle Inference's oneDNN executor cannot run DLCM's program "
                             "(Paddle 3.3.1); use engine dygraph or auto")
        exportable = False
    if engine == "auto":
        return "inference" if _on_cpu() and exportable else "dygraph"
    if engine == "inference" and not _on_cpu():
        raise ValueError(f"engine inference: Paddle Inference is used on the CPU only, the device is "
                         f"{paddle.get_device()} (use engine dygraph)")
    if engine == "inference" and not exportable:
        raise ValueError(f"engine inference: needs a PoseModel to export, got {type(model).__name__}")
    return engine


def _cpu_threads() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else max(1, os.cpu_count() or 1)


class InferencePredictor:
    """A ``paddle.inference`` predictor (CPU, oneDNN) of a PoseModel: ``predictor(images)`` ->
    ``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` float32 NumPy maps.

    Args:
        model: the network (a float32 eval-mode copy is exported; ``model`` is not modified).
        input_size: (width, height) of the patches, ``ModelConfig.input_size`` (fixed; the batch is dynamic).
        threads: CPU math threads (default ``OMP_NUM_THREADS``, else every core).
    """

    def __init__(self, model: nn.Layer, input_size: tuple[int, int], threads: int | None = None) -> None:
        from paddle import inference

        from enhancenet_paddle.export import _prepared, _save_inference

        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.names = ["lr", "hr"] if model.has_head else ["lr"]
        with tempfile.TemporaryDirectory(prefix="enhancenet-paddle-inference-") as tmp:
            prefix = os.path.join(tmp, "model")
            _save_inference(_prepared(model), prefix, self.input_size)
            config = inference.Config(prefix + ".json", prefix + ".pdiparams")
            config.disable_gpu()
            config.enable_onednn()
            config.set_cpu_math_library_num_threads(threads or _cpu_threads())
            config.disable_glog_info()
            self._predictor = inference.create_predictor(config)  # reads the files: they may go afterwards
        self._input = self._predictor.get_input_names()[0]
        self._outputs = self._predictor.get_output_names()
        if len(self._outputs) != len(self.names):
            raise RuntimeError(f"Paddle Inference program has outputs {self._outputs}, expected {self.names}")

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(images.numpy() if isinstance(images, paddle.Tensor) else images, dtype=np.float32)
        width, height = self.input_size
        if x.ndim != 4 or x.shape[1:] != (3, height, width):
            raise ValueError(f"images: expected (N, 3, {height}, {width}) patches, got shape {x.shape}")
        handle = self._predictor.get_input_handle(self._input)
        handle.reshape(list(x.shape))
        handle.copy_from_cpu(x)
        self._predictor.run()
        return {name: self._predictor.get_output_handle(out).copy_to_cpu()
                for name, out in zip(self.names, self._outputs, strict=True)}


def _maps(out: Any) -> dict[str, np.ndarray]:
    return {k: out[k].astype("float32").numpy() for k in ("lr", "hr") if out.get(k) is not None}


@paddle.no_grad()
def infer_heatmaps(model: nn.Layer, images: paddle.Tensor, cfg: Config) -> dict[str, np.ndarray]:
    """Run ``model`` on (N, 3, H, W) patches, with flip test when ``cfg.test.flip_test``.

    Returns:
        ``{"lr": (N, K, h, w)}`` and, with the head, ``"hr": (N, K, rh, rw)``: float32 NumPy maps, averaged with
        the maps of the mirrored patch flipped back (:func:`enhancenet_runtime.engine.prediction.infer_maps`).
    """
    return infer_maps(lambda x: _maps(model(x)), images, cfg, flip=lambda x: paddle.flip(x, axis=[3]))


def _flip(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images[..., ::-1])


def select_infer(model: nn.Layer, cfg: Config, engine: str | None = None) -> InferFn:
    """The ``infer`` hook of :func:`enhancenet_runtime.engine.prediction.predict_dataset` / ``predict_boxes``:
    a batch of (N, 3, H_in, W_in) patches (a Paddle tensor or a NumPy array) -> the maps after the flip test,
    through the engine :func:`resolve_engine` picks. ``model`` is put in eval mode."""
    model.eval()
    if resolve_engine(engine, model) == "dygraph":
        def dygraph(images: Any) -> dict[str, np.ndarray]:
            tensor = images if isinstance(images, paddle.Tensor) else paddle.to_tensor(images)
            return infer_heatmaps(model, tensor, cfg)

        return dygraph
    predictor = InferencePredictor(model, cfg.model.input_size)

    def infer(images: Any) -> dict[str, np.ndarray]:
        x = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
        return infer_maps(predictor, x, cfg, flip=_flip)

    return infer

