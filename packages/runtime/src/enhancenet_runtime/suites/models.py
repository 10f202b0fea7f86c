"""Every framework's base models (+ the EnhanceNet head) against enhancenet-numpy with the same canonical weights
at reduced input sizes (H, W), and the models' refusal of impossible inputs and configurations.

Tolerance (scale = max |reference|): float64 on both sides 1e-9 x scale (deep nets accumulate rounding
differently; measured ~1e-11); float32 framework vs float64 NumPy 1e-5 x scale, the head's bound, also for the
deep base models. A framework runs the dtypes it has CPU kernels for; one whose float32 kernels are known to be
less exact through 20-100 layers says so in its binding (``model_tolerance``), with the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.compositional import dlcm_config
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.models import dlcm, full_forward, hourglass
from enhancenet_numpy.models import hrnet as np_hrnet
from enhancenet_numpy.models import simple_baseline as np_simple_baseline
from enhancenet_numpy.weights import init_weights

#: dtype -> max abs diff / scale against the float64 NumPy reference
TOLERANCE = {"float64": 1e-9, "float32": 1e-5}


class Binding(Protocol):
    """What :class:`ModelsSuite` needs from a framework."""

    #: the dtypes the framework's models run in on CPU, of "float64", "float32"
    model_dtypes: tuple[str, ...]

    def build_model(self, model_cfg: ModelConfig) -> Any:
        """The framework's ``models.build_model``."""

    def model_forward(self, cfg: ModelConfig, params: dict[str, np.ndarray], images: np.ndarray,
                      dtype: str) -> dict[str, Any]:
        """The outputs (float64 NumPy copies; ``intermediate`` a list) of a model of ``cfg`` holding the canonical
        ``params``, run in inference mode in ``dtype`` on ``images`` (N, 3, H, W)."""

    def infer(self, model: Any, images: np.ndarray) -> dict[str, Any]:
        """``model`` (as built) run in inference mode on float32 ``images``: its output dict, as NumPy."""

    def model_tolerance(self, dtype: str) -> float | None:
        """A looser bound for the deep base models in ``dtype`` where the framework's kernels need one, else None."""


def _numpy_base(params: dict[str, np.ndarray], x: np.ndarray, cfg: ModelConfig) -> tuple:
    if cfg.base.name is BaseModelName.SIMPLE_BASELINE:
        return (*np_simple_baseline.forward(params, x, cfg.base), [])
    if cfg.base.name is BaseModelName.HRNET:
        return (*np_hrnet.forward(params, x, cfg.base), [])
    if cfg.base.name is BaseModelName.DLCM:
        f, m, scores = dlcm.forward(params, x, dlcm_config(cfg.base))
        return f, m, scores[:-1]
    f, m, scores = hourglass.forward(params, x, cfg.base)
    return f, m, scores[:-1]


SB, HR, HG, DLCM = BaseModelName.SIMPLE_BASELINE, BaseModelName.HRNET, BaseModelName.HOURGLASS, BaseModelName.DLCM
HEAD = EnhanceNetConfig(channels=32)

CASES = [
    pytest.param(BaseModelConfig(name=SB, depth=18), HEAD, (64, 48), id="simple_baseline-r18"),
    pytest.param(BaseModelConfig(name=SB, depth=50), HEAD, (64, 48), id="simple_baseline-r50"),
    pytest.param(BaseModelConfig(name=SB, depth=18, deconv_kernel=3, deconv_channels=32),
                 EnhanceNetConfig(enabled=False), (64, 48), id="simple_baseline-r18-deconv3-no-head"),
    pytest.param(BaseModelConfig(name=HR, width=32), HEAD, (64, 32), id="hrnet-w32-64x32"),
    pytest.param(BaseModelConfig(name=HR, width=32), EnhanceNetConfig(channels=16, upscale=2), (64, 64),
                 id="hrnet-w32-64x64-r2"),
    pytest.param(BaseModelConfig(name=HG, stages=2), HEAD, (64, 64), id="hourglass-2"),
    pytest.param(BaseModelConfig(name=HG, stages=2, hourglass_channels=64), EnhanceNetConfig(channels=16, upscale=2),
                 (64, 64), id="hourglass-2-c64-r2"),
    # DLCM (K = 16, MPII's hierarchy): five stacks, intermediate maps of levels 1, 2, 3, 2 (16, 12, 6, 12 channels)
    pytest.param(BaseModelConfig(name=DLCM, hourglass_channels=32), EnhanceNetConfig(channels=16, upscale=2),
                 (64, 64), id="dlcm-c32-r2"),
    pytest.param(BaseModelConfig(name=DLCM, hourglass_channels=18), EnhanceNetConfig(enabled=False), (64, 64),
                 id="dlcm-c18-no-head"),
]


class ModelsSuite:
    """The model tests, run by each framework with its ``binding`` fixture."""

    @pytest.mark.parametrize(("base", "head", "size"), CASES)
    def test_base_and_head_match_numpy(self, binding: Binding, base: BaseModelConfig, head: EnhanceNetConfig,
                                       size: tuple[int, int]) -> None:
        k = 16 if base.name is DLCM else ModelConfig.num_keypoints  # DLCM composes MPII's 16 joints
        cfg = ModelConfig(base=base, head=head, input_size=(size[1], size[0]), num_keypoints=k)
        params = init_weights(cfg, seed=7, dtype=np.float64)
        x = np.random.default_rng(1).standard_normal((2, 3, *size))
        f_want, m_want, inter_want = _numpy_base(params, x, cfg)
        _, hr_want = full_forward(params, x, cfg)
        assert binding.model_dtypes and set(binding.model_dtypes) <= set(TOLERANCE)
        for dtype in binding.model_dtypes:
            tol = binding.model_tolerance(dtype) or TOLERANCE[dtype]
            out = binding.model_forward(cfg, params, x, dtype)

            def close(got: np.ndarray, want: np.ndarray, what: str, tol: float = tol, dtype: str = dtype) -> None:
                assert got.shape == want.shape, f"{dtype} {what}: shape {got.shape} != {want.shape}"
                scale = float(np.abs(want).max())
                assert scale > 0
                diff = float(np.abs(got - want).max())
                assert diff <= tol * scale, f"{dtype} {what}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e}"

            close(out["features"], f_want, "F^LR")
            close(out["lr"], m_want, "M^LR")
            assert len(out.get("intermediate", [])) == len(inter_want)
            for i, (g, w) in enumerate(zip(out.get("intermediate", []), inter_want, strict=True)):
                close(g, w, f"intermediate {i}")
            if head.enabled:
                close(out["hr"], hr_want, "M^HR")
            else:
                assert "hr" not in out

    def test_head_disabled_and_input_checks(self, binding: Binding) -> None:
        cfg = ModelConfig(base=BaseModelConfig(name=HR), head=EnhanceNetConfig(enabled=False))
        model = binding.build_model(cfg)
        assert not model.has_head
        out = binding.infer(model, np.random.default_rng(0).standard_normal((1, 3, 64, 32)))
        assert set(out) == {"lr", "features"}
        with pytest.raises(ValueError, match="divisible by 32"):
            binding.infer(model, np.zeros((1, 3, 64, 48)))
        with pytest.raises(ValueError, match="divisible by 32"):
            binding.infer(model, np.zeros((1, 3, 48, 40)))
        for bad in (BaseModelConfig(name=HR, width=40), BaseModelConfig(name=HR, width=18)):
            with pytest.raises(ValueError, match=r"model\.base\.width"):
                binding.build_model(ModelConfig(base=bad))
        for bad in (BaseModelConfig(name=BaseModelName.CPN, depth=18), BaseModelConfig(depth=20)):
            with pytest.raises(ValueError, match=r"model\.base\.depth"):
                binding.build_model(ModelConfig(base=bad))
        with pytest.raises(FileNotFoundError, match=r"nonexistent\.safetensors"):  # never downloaded
            binding.build_model(ModelConfig(base=BaseModelConfig(pretrained="/nonexistent.safetensors")))

    def test_dlcm_stacks_and_refusals(self, binding: Binding) -> None:
        """DLCM returns every stack's maps (each level's part count) like the hourglass returns its stacks, and
        refuses K other than its hierarchy's 16 joints and inputs its hourglasses cannot halve 6 times."""
        cfg = ModelConfig(base=BaseModelConfig(name=DLCM, hourglass_channels=32), num_keypoints=16,
                          head=EnhanceNetConfig(channels=8, upscale=2), input_size=(64, 64))
        out = binding.infer(binding.build_model(cfg), np.random.default_rng(0).standard_normal((1, 3, 64, 64)))
        assert set(out) == {"lr", "features", "hr", "intermediate"}
        assert [m.shape for m in out["intermediate"]] == [(1, p, 16, 16) for p in (16, 12, 6, 12)]
        assert out["lr"].shape == (1, 16, 16, 16) and out["features"].shape == (1, 32, 16, 16)
        assert out["hr"].shape == (1, 16, 32, 32)
        with pytest.raises(ValueError, match="divisible by 64"):
            binding.infer(binding.build_model(cfg), np.zeros((1, 3, 64, 96)))
        with pytest.raises(ValueError, match=r"model\.num_keypoints"):
            binding.build_model(ModelConfig(base=cfg.base, num_keypoints=17))
        with pytest.raises(ValueError, match=r"model\.base\.hourglass_channels"):
            binding.build_model(ModelConfig(base=BaseModelConfig(name=DLCM, hourglass_channels=16), num_keypoints=16))
