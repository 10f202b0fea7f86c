"""Evaluation / prediction through Paddle Inference (oneDNN): the same maps as dygraph to float32 rounding, the
engine choice (auto = inference on the CPU for a PoseModel), and refusals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import paddle
import pytest
from paddle import nn

from enhancenet_core.config import BaseModelConfig, Config, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import ShuffleOrder
from enhancenet_paddle.cli import main
from enhancenet_paddle.models import build_model
from enhancenet_paddle.predictor import InferencePredictor, resolve_engine, select_infer

MODEL = ModelConfig(
    base=BaseModelConfig(depth=18, num_deconv_layers=3, deconv_channels=32),
    head=EnhanceNetConfig(channels=16, upscale=4, shuffle_order=ShuffleOrder.PAPER),
    num_keypoints=4, input_size=(32, 64),
)


@pytest.fixture(scope="module")
def model() -> nn.Layer:
    """Weights of unit scale, running variances in [0.5, 1.5] (the HRNet init would make every output ~1e-14)."""
    net = build_model(MODEL)
    rng = np.random.default_rng(0)
    for name, t in net.state_dict().items():
        if name.endswith("_variance"):
            t.set_value(rng.uniform(0.5, 1.5, tuple(t.shape)).astype("float32"))
        else:
            fan = max(1, int(np.prod(t.shape[1:]))) if len(t.shape) > 1 else 1
            t.set_value((rng.standard_normal(tuple(t.shape)) / np.sqrt(fan)).astype("float32"))
    net.eval()
    return net


def _images(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 64, 32)).astype(np.float32)


def _close(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want) == {"lr", "hr"}
    for k in want:
        assert got[k].shape == want[k].shape and got[k].dtype == np.float32
        scale = float(np.abs(want[k]).max())
        assert scale > 0.05, k  # a real signal, not all zeros
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=2e-5 * scale, err_msg=k)


def test_predictor_equals_dygraph_and_leaves_the_model_alone(model: nn.Layer) -> None:
    predictor = InferencePredictor(model, MODEL.input_size, threads=1)
    for n in (1, 3):  # the batch axis is dynamic
        x = _images(n)
        with paddle.no_grad():
            out = model(paddle.to_tensor(x))
        _close(predictor(x), {"lr": out["lr"].numpy(), "hr": out["hr"].numpy()})
        _close(predictor(paddle.to_tensor(x)), {"lr": out["lr"].numpy(), "hr": out["hr"].numpy()})
    assert model.enhance.shuffle_order is ShuffleOrder.PAPER  # the export folded a copy, not the model
    with pytest.raises(ValueError, match=r"expected \(N, 3, 64, 32\)"):
        predictor(np.zeros((1, 3, 32, 64), np.float32))


@pytest.mark.slow  # a second predictor (~10-18 s); the equality itself is checked by the test above
def test_both_engines_give_the_same_maps_after_the_flip_test(model: nn.Layer) -> None:
    cfg = Config(model=MODEL)  # each predictor costs an export (~10 s here): one flip-test case
    cfg = replace(cfg, test=replace(cfg.test, flip_test=True), data=replace(cfg.data, flip_pairs=((0, 1), (2, 3))))
    x = _images(2, seed=7)
    dygraph = select_infer(model, cfg, "dygraph")(x)
    _close(select_infer(model, cfg, "auto")(paddle.to_tensor(x)), dygraph)


class _NotExportable(nn.Layer):
    def forward(self, images: paddle.Tensor) -> dict[str, paddle.Tensor]:
        return {"lr": images[:, :1]}


def test_engine_choice_and_refusals(model: nn.Layer) -> None:
    assert paddle.get_device().startswith("cpu")
    assert resolve_engine(None, model) == resolve_engine("auto", model) == "inference"
    assert resolve_engine("dygraph", model) == "dygraph"
    assert resolve_engine("auto", _NotExportable()) == "dygraph"  # e.g. the oracle networks of test_eval.py
    with pytest.raises(ValueError, match="needs a PoseModel"):
        resolve_engine("inference", _NotExportable())
    with pytest.raises(ValueError, match="engine: expected one of auto, inference, dygraph, got 'onnx'"):
        resolve_engine("onnx", model)


@pytest.mark.parametrize("verb", ["eval", "predict"])
def test_cli_refuses_an_unknown_engine(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [verb, "synthetic_quick", "ckpt.pdckpt", *(["image.png", "--boxes", "0,0,1,1"] if verb == "predict" else []),
            "--engine", "fast"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--engine" in err[0] and "'fast'" in err[0], err


def test_dlcm_is_evaluated_in_dygraph() -> None:
    """Paddle 3.3.1's oneDNN executor cannot run DLCM's exported program: auto picks dygraph, inference is refused."""
    from enhancenet_core.conventions import BaseModelName

    model = build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.DLCM, hourglass_channels=18),
                                    num_keypoints=16, head=EnhanceNetConfig(enabled=False)))
    if not paddle.get_device().startswith("cpu"):
        pytest.skip("the engine choice under test is the CPU's")
    assert resolve_engine("auto", model) == "dygraph"
    with pytest.raises(ValueError, match="DLCM"):
        resolve_engine("inference", model)
