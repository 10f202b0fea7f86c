"""Base models (and base + head) against enhancenet-numpy with the same canonical weights, at reduced input sizes.

Inputs are (H, W); float64 on both sides; tolerance 1e-9 x scale (deep nets accumulate rounding differently).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.models import full_forward, hourglass
from enhancenet_numpy.models import hrnet as np_hrnet
from enhancenet_numpy.models import simple_baseline as np_simple_baseline
from enhancenet_numpy.weights import init_weights
from enhancenet_torch.models import build_model

TOL = 1e-9

CASES = [
    pytest.param(BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), (64, 48), id="simple_baseline-r18"),
    pytest.param(BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), (64, 48), id="simple_baseline-r50"),
    pytest.param(BaseModelConfig(name=BaseModelName.HRNET, width=32), (64, 32), id="hrnet-w32"),
    pytest.param(BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), (64, 64), id="hourglass-2"),
]


def _numpy_base(params: dict[str, np.ndarray], x: np.ndarray, cfg: ModelConfig) -> tuple:
    if cfg.base.name is BaseModelName.SIMPLE_BASELINE:
        return (*np_simple_baseline.forward(params, x, cfg.base), [])
    if cfg.base.name is BaseModelName.HRNET:
        return (*np_hrnet.forward(params, x, cfg.base), [])
    f, m, scores = hourglass.forward(params, x, cfg.base)
    return f, m, scores[:-1]


def _close(got: torch.Tensor, want: np.ndarray, what: str) -> None:
    got_np = got.detach().numpy()
    assert got_np.shape == want.shape, f"{what}: shape {got_np.shape} != {want.shape}"
    scale = float(np.abs(want).max())
    assert scale > 0
    diff = float(np.abs(got_np - want).max())
    assert diff <= TOL * scale, f"{what}: max abs diff {diff:.3e} > {TOL:g} x scale {scale:.3e}"


@pytest.mark.parametrize(("base", "size"), CASES)
def test_base_and_head_match_numpy(base: BaseModelConfig, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(base=base, head=EnhanceNetConfig(channels=32), input_size=(size[1], size[0]))
    params = init_weights(cfg, seed=7, dtype=np.float64)
    model = build_model(cfg).double().eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    x = np.random.default_rng(1).standard_normal((2, 3, *size))
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    f_want, m_want, inter_want = _numpy_base(params, x, cfg)
    _close(out["features"], f_want, "F^LR")
    _close(out["lr"], m_want, "M^LR")
    assert len(out.get("intermediate", [])) == len(inter_want)
    for i, (g, w) in enumerate(zip(out.get("intermediate", []), inter_want, strict=True)):
        _close(g, w, f"intermediate {i}")
    _, hr_want = full_forward(params, x, cfg)
    _close(out["hr"], hr_want, "M^HR")


def test_cpn_outputs() -> None:
    """CPN has no numpy-ref; check the contract: shapes, intermediates, F^LR -> M^LR through the final conv."""
    torch.manual_seed(0)
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), num_keypoints=5)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 48))
    assert out["lr"].shape == (2, 5, 16, 12) and out["features"].shape == (2, 256, 16, 12)
    assert out["hr"].shape == (2, 5, 64, 48)
    assert [t.shape for t in out["intermediate"]] == [(2, 5, 16, 12)] * 4
    refine = model.base.refine_net.final_predict
    with torch.no_grad():
        assert torch.allclose(refine[2](refine[1](out["features"])), out["lr"])
    names = list(model.state_dict())
    assert names[0] == "resnet.conv1.weight" and "resnet.fc.weight" not in names
    assert "global_net.predict.3.5.running_var" in names and "refine_net.final_predict.1.weight" in names
    assert [k for k in names if k.startswith("refine_net.cascade.3.")] == []  # C2 level: no bottleneck


def test_head_disabled_and_input_checks() -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET), head=EnhanceNetConfig(enabled=False))
    model = build_model(cfg).eval()
    assert not model.has_head
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 32))
    assert set(out) == {"lr", "features"}
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.randn(1, 3, 64, 48))
    with pytest.raises(ValueError, match=r"model\.base\.width"):
        build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=40)))
    with pytest.raises(ValueError, match=r"model\.base\.depth"):
        build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=18)))
