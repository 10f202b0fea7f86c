"""Base models (+ head) vs enhancenet-numpy at reduced input size, with identical canonical weights.

Tolerance: max abs diff <= 1e-4 x max |map| of the float64 reference (float32 through 20-100 layers; the head
alone is held to 1e-5 in test_models_head.py). HRNet needs H, W divisible by 32, hourglass by 64.
"""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from _helpers import assert_close_to_scale, model_with_reference_weights

from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_mindspore.models import build_model
from enhancenet_numpy.models import full_forward

REL = 1e-4
HEAD = EnhanceNetConfig(channels=16, upscale=2)


def _check(cfg: ModelConfig, size_hw: tuple[int, int]) -> dict:
    model, params = model_with_reference_weights(cfg)
    x = np.random.default_rng(0).standard_normal((1, 3, *size_hw))
    out = model(ms.Tensor(x.astype(np.float32)))
    want_lr, want_hr = full_forward(params, x, cfg)
    assert_close_to_scale(out["lr"].asnumpy(), want_lr, REL, f"{cfg.base.name.value} M^LR")
    if cfg.head.enabled:
        assert_close_to_scale(out["hr"].asnumpy(), want_hr, REL, f"{cfg.base.name.value} M^HR")
    else:
        assert "hr" not in out
    return out


@pytest.mark.parametrize("depth", [18, 50])
def test_simple_baseline(depth: int) -> None:
    cfg = ModelConfig(base=BaseModelConfig(depth=depth), head=HEAD, input_size=(48, 64))
    out = _check(cfg, (64, 48))
    assert out["features"].shape == (1, 256, 16, 16)  # 48 px -> C5 of 2 columns (ceil) -> 16 after 3 deconvs


def test_simple_baseline_without_head_and_deconv3() -> None:
    cfg = ModelConfig(base=BaseModelConfig(depth=18, deconv_kernel=3, deconv_channels=32),
                      head=EnhanceNetConfig(enabled=False), input_size=(48, 64))
    _check(cfg, (64, 48))


def test_hrnet_w32() -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32), head=HEAD, input_size=(64, 64))
    out = _check(cfg, (64, 64))
    assert out["features"].shape == (1, 32, 16, 16)


def test_hourglass_two_stacks() -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2, hourglass_channels=64),
                      head=HEAD, input_size=(64, 64))
    out = _check(cfg, (64, 64))
    assert len(out["intermediate"]) == 1 and out["intermediate"][0].shape == (1, 17, 16, 16)


def test_simple_baseline_graph_mode(graph_mode: None) -> None:
    cfg = ModelConfig(base=BaseModelConfig(depth=18), head=HEAD, input_size=(32, 32))
    out = _check(cfg, (32, 32))
    assert ms.get_context("mode") == ms.GRAPH_MODE
    assert set(out) == {"lr", "hr", "features"}


def test_cpn_outputs() -> None:
    """CPN has no numpy reference: shapes, the intermediate GlobalNet maps and finite values."""
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.CPN, depth=50), head=HEAD, input_size=(64, 64))
    model = build_model(cfg)
    model.set_train(False)
    out = model(ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)))
    assert out["features"].shape == (1, 256, 16, 16)
    assert out["lr"].shape == (1, 17, 16, 16) and out["hr"].shape == (1, 17, 32, 32)
    assert [t.shape for t in out["intermediate"]] == [(1, 17, 16, 16)] * 4
    assert all(np.isfinite(t.asnumpy()).all() for t in [out["lr"], out["hr"], *out["intermediate"]])


def test_bad_inputs_and_configs() -> None:
    hr = build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32)))
    with pytest.raises(ValueError, match="divisible by 32"):
        hr(ms.Tensor(np.zeros((1, 3, 48, 40), np.float32)))
    with pytest.raises(ValueError, match=r"model\.base\.width"):
        build_model(ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=18)))
    with pytest.raises(ValueError, match=r"model\.base\.depth"):
        build_model(ModelConfig(base=BaseModelConfig(depth=20)))
    with pytest.raises(FileNotFoundError, match=r"nonexistent\.safetensors"):  # loaded (test_pretrained_backbone)
        build_model(ModelConfig(base=BaseModelConfig(pretrained="/nonexistent.safetensors")))
