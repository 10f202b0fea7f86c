"""TorchAdam against a NumPy float64 implementation of torch.optim.Adam's rule, PYNATIVE and GRAPH mode."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from enhancenet_mindspore.optim import TorchAdam

SHAPES = {"conv.weight": (4, 3, 3, 3), "bn.gamma": (4,), "bn.beta": (4,), "tiny.weight": (5, 6)}


def _torch_adam_reference(params: dict[str, np.ndarray], grads: list[dict[str, np.ndarray]], lrs: list[float],
                          beta1: float, beta2: float, eps: float, weight_decay: float) -> dict[str, np.ndarray]:
    """torch.optim.Adam's documented update, in float64: L2 decay added to g, bias-corrected m and v."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    for t, (g_step, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        for k in p:
            g = g_step[k].astype(np.float64)
            if weight_decay > 0:
                g = g + weight_decay * p[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v2[k] = beta2 * v2[k] + (1 - beta2) * g * g
            m_hat = m[k] / (1 - beta1**t)
            v_hat = v2[k] / (1 - beta2**t)
            p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def _problem(steps: int) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(7)
    params = {k: (rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s)).astype(np.float32) for k, s in SHAPES.items()}
    grads = []
    for _ in range(steps):
        g = {k: rng.normal(0.0, 1.0, s).astype(np.float32) for k, s in SHAPES.items()}
        # gradients of |g| ~ 1e-7..1e-5, where eps matters: nn.Adam's eps-before-bias-correction moves them 3-25 % less
        g["tiny.weight"] = (g["tiny.weight"] * 10.0 ** rng.uniform(-7, -5, SHAPES["tiny.weight"])).astype(np.float32)
        grads.append(g)
    return params, grads


def _run(params: dict[str, np.ndarray], grads: list[dict[str, np.ndarray]], lrs: list[float],
         weight_decay: float) -> dict[str, np.ndarray]:
    ms_params = [ms.Parameter(ms.Tensor(v), name=k) for k, v in params.items()]
    opt = TorchAdam(ms_params, learning_rate=lrs[0], beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=weight_decay)
    for g_step, lr in zip(grads, lrs, strict=True):
        ops.assign(opt.learning_rate, ms.Tensor(lr, ms.float32))
        opt(tuple(ms.Tensor(g_step[p.name]) for p in ms_params))
    assert int(opt.global_step.asnumpy()[0]) == len(grads)
    return {p.name: p.asnumpy() for p in ms_params}


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_matches_torch_rule(mode: str, weight_decay: float) -> None:
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    try:
        params, grads = _problem(steps=5)
        lrs = [1e-2, 1e-2, 1e-2, 1e-3, 1e-3]  # a learning-rate change between steps (written in place)
        got = _run(params, grads, lrs, weight_decay)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    want = _torch_adam_reference(params, grads, lrs, 0.9, 0.999, 1e-8, weight_decay)
    for k in SHAPES:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=0, err_msg=k)
        assert np.abs(got[k] - params[k]).max() > 1e-3, f"{k} did not move"


def test_eps_before_bias_correction_would_fail() -> None:
    """The check above can fail: MindSpore's own rule (eps added before the bias correction) differs by >> 1e-6."""
    params, grads = _problem(steps=1)
    want = _torch_adam_reference(params, grads, [1e-2], 0.9, 0.999, 1e-8, 0.0)
    g = grads[0]["tiny.weight"].astype(np.float64)
    ms_rule = params["tiny.weight"] - 1e-2 * np.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * g) / (np.sqrt(1e-3 * g * g) + 1e-8)
    rel = np.abs(ms_rule - want["tiny.weight"]) / np.abs(want["tiny.weight"])
    assert rel.max() > 1e-4


def test_inside_a_graph_mode_train_step(graph_mode) -> None:
    """TorchAdam inside a compiled value_and_grad step: loss = sum(c · w) has gradient c."""

    class Step(nn.Cell):
        def __init__(self, weight: ms.Parameter, optimizer: nn.Optimizer) -> None:
            super().__init__()
            self.weight = weight
            self.optimizer = optimizer
            self.grad_fn = ms.value_and_grad(self.loss, None, optimizer.parameters)

        def loss(self, c: ms.Tensor) -> ms.Tensor:
            return (self.weight * c).sum()

        def construct(self, c: ms.Tensor) -> ms.Tensor:
            loss, grads = self.grad_fn(c)
            return ops.depend(loss, self.optimizer(grads))

    w0 = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3) + 2.0
    weight = ms.Parameter(ms.Tensor(w0), name="w")
    step = Step(weight, TorchAdam([weight], learning_rate=1e-2, weight_decay=1e-3))
    cs = [np.full((2, 3), s, np.float32) * np.arange(1, 7, dtype=np.float32).reshape(2, 3) for s in (1.0, -0.5, 2.0)]
    for c in cs:
        step(ms.Tensor(c))
    want = _torch_adam_reference({"w": w0}, [{"w": c} for c in cs], [1e-2] * 3, 0.9, 0.999, 1e-8, 1e-3)
    np.testing.assert_allclose(weight.asnumpy(), want["w"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs", [{"beta1": 1.0}, {"beta2": -0.1}, {"eps": 0.0}, {"weight_decay": -1.0}])
def test_rejects_bad_hyperparameters(kwargs: dict[str, float]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        TorchAdam([ms.Parameter(ms.Tensor(np.ones(2, np.float32)), name="p")], **kwargs)
