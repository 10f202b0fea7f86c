"""Base models (and base + head) against enhancenet-numpy with the same canonical weights, at reduced input sizes.

The weights are written by enhancenet-numpy (``save_weights``) and read by :func:`load_canonical`, so this also
checks the canonical file path numpy -> Paddle. Inputs are (H, W). Tolerances (scale = max |reference|):
float64 on both sides 1e-9 x scale (deep nets accumulate rounding differently; measured ~1e-11); float32 Paddle
vs float64 NumPy 1e-5 x scale, the head's bound, also for the deep base models (measured ~2e-6 for R50).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import hourglass
from enhancenet_numpy.models import hrnet as np_hrnet
from enhancenet_numpy.models import simple_baseline as np_simple_baseline
from enhancenet_numpy.weights import init_weights, save_weights
from enhancenet_paddle.models import build_model
from enhancenet_paddle.weights import load_canonical

TOL64 = 1e-9
TOL32 = 1e-5

CASES = [
    pytest.param(BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), (64, 48), id="simple_baseline-r18"),
    pytest.param(BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), (64, 48), id="simple_baseline-r50"),
    pytest.param(BaseModelConfig(name=BaseModelName.HRNET, width=32), (64, 64), id="hrnet-w32"),
    pytest.param(BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), (64, 64), id="hourglass-2"),
]


def _numpy_base(params: dict[str, np.ndarray], x: np.ndarray, cfg: ModelConfig) -> tuple:
    if cfg.base.name is BaseModelName.SIMPLE_BASELINE:
        return (*np_simple_baseline.forward(params, x, cfg.base), [])
    if cfg.base.name is BaseModelName.HRNET:
        return (*np_hrnet.forward(params, x, cfg.base), [])
    f, m, scores = hourglass.forward(params, x, cfg.base)
    return f, m, scores[:-1]


def _close(got: paddle.Tensor, want: np.ndarray, what: str, tol: float) -> None:
    got_np = got.numpy().astype(np.float64)
    assert got_np.shape == want.shape, f"{what}: shape {got_np.shape} != {want.shape}"
    scale = float(np.abs(want).max())
    assert scale > 0
    diff = float(np.abs(got_np - want).max())
    assert diff <= tol * scale, f"{what}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e}"


@pytest.mark.parametrize(("base", "size"), CASES)
def test_base_and_head_match_numpy(base: BaseModelConfig, size: tuple[int, int], tmp_path: Path) -> None:
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=32), input_size=(size[1], size[0]))
    params = init_weights(cfg, seed=7, dtype=np.float64)
    save_weights(tmp_path / "w.safetensors", params, cfg)
    x = np.random.default_rng(1).standard_normal((2, 3, *size))
    f_want, m_want, inter_want = _numpy_base(params, x, cfg)
    hr_want = head_forward(params, f_want, m_want, cfg.head)
    model = build_model(cfg)
    model.eval()
    model.to(dtype="float64")
    load_canonical(model, tmp_path / "w.safetensors", cfg)
    for dtype, tol in (("float64", TOL64), ("float32", TOL32)):
        model.to(dtype=dtype)  # float64 -> float32 rounds each weight once, as loading the file into float32 does
        with paddle.no_grad():
            out = model(paddle.to_tensor(x.astype(dtype)))
        _close(out["features"], f_want, f"{dtype} F^LR", tol)
        _close(out["lr"], m_want, f"{dtype} M^LR", tol)
        assert len(out.get("intermediate", [])) == len(inter_want)
        for i, (g, w) in enumerate(zip(out.get("intermediate", []), inter_want, strict=True)):
            _close(g, w, f"{dtype} intermediate {i}", tol)
        _close(out["hr"], hr_want, f"{dtype} M^HR", tol)


def test_cpn_outputs() -> None:
    """CPN has no numpy-ref; check the contract: shapes, intermediates, F^LR -> M^LR through the final conv."""
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=5)
    model = build_model(cfg)
    model.eval()
    with paddle.no_grad():
        out = model(paddle.randn([2, 3, 64, 48]))
    assert tuple(out["lr"].shape) == (2, 5, 16, 12) and tuple(out["features"].shape) == (2, 256, 16, 12)
    assert tuple(out["hr"].shape) == (2, 5, 64, 48)
    assert [tuple(t.shape) for t in out["intermediate"]] == [(2, 5, 16, 12)] * 4
    refine = model.base.refine_net.final_predict
    with paddle.no_grad():
        np.testing.assert_allclose(refine[2](refine[1](out["features"])).numpy(), out["lr"].numpy(), rtol=0, atol=1e-6)


def test_head_disabled_and_input_checks() -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET), head=EnhanceNetConfig(enabled=False))
    model = build_model(cfg)
    model.eval()
    assert not model.has_head
    with paddle.no_grad():
        out = model(paddle.randn([1, 3, 64, 32]))
    assert set(out) == {"lr", "features"}
    with pytest.raises(ValueError, match="divisible by 32"):
        model(paddle.randn([1, 3, 64, 48]))
    with pytest.raises(ValueError, match=r"model\.base\.width"):
        build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=40)))
    with pytest.raises(ValueError, match=r"model\.base\.depth"):
        build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=18)))


def test_batch_norm_convention() -> None:
    """Every BN: epsilon 1e-5, Paddle momentum 0.9 (PyTorch 0.1), and training updates the running mean as
    ``0.9 * running + 0.1 * batch_mean`` (so the conventions really are the same function)."""
    model = build_model(ModelConfig(base=BaseModelConfig(depth=18)))
    bns = [m for m in model.sublayers() if isinstance(m, paddle.nn.BatchNorm2D)]
    assert bns and all(m._epsilon == 1e-5 and m._momentum == 0.9 for m in bns)
    bn = bns[0]
    x = paddle.randn([4, bn.weight.shape[0], 5, 5])
    before = bn._mean.numpy().copy()
    bn.train()
    bn(x)
    want = 0.9 * before + 0.1 * x.numpy().mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn._mean.numpy(), want, rtol=1e-5, atol=1e-6)
