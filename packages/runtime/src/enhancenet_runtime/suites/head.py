"""The EnhanceNet head of every framework in every configuration against enhancenet-numpy with the same
canonical weights, its canonical parameter names, and its refusal of impossible configurations.

Tolerance (scale = max |M^HR| of the float64 reference): float64 framework vs float64 NumPy: max abs diff <=
1e-10 x scale; float32: <= 1e-5 x scale, the tolerance stated in DEVELOPERS.md. A framework runs the dtypes it
has CPU kernels for (MindSpore 2.8: float32 only); a framework whose kernel is known to be less exact for some
configuration says so in its binding (``head_tolerance``), with the reason, and may only loosen float64.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import HeadInput, ShuffleOrder, Upsampler
from enhancenet_core.namemap import head_parameter_specs
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.weights import init_weights

C_F, K, H, W = 24, 5, 7, 6  # small F^LR / M^LR: odd sizes catch padding mistakes

#: dtype -> max abs diff / scale against the float64 NumPy reference
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


class Binding(Protocol):
    """What :class:`HeadSuite` needs from a framework."""

    #: the dtypes the framework's head runs in on CPU, of "float64", "float32"
    head_dtypes: tuple[str, ...]

    def head(self, cfg: EnhanceNetConfig, feature_channels: int, num_keypoints: int) -> Any:
        """The framework's ``EnhanceNet(cfg, feature_channels, num_keypoints)``."""

    def head_forward(self, cfg: EnhanceNetConfig, params: dict[str, np.ndarray], features: np.ndarray,
                     heatmaps: np.ndarray, dtype: str) -> np.ndarray:
        """M^HR (float64 copy) of a head of ``cfg`` holding the canonical ``params`` (``enhance.*`` names), run in
        inference mode in ``dtype`` on ``features`` (N, C_F, H, W) and ``heatmaps`` (N, K, H, W)."""

    def head_canonical_shapes(self, head: Any) -> dict[str, tuple[int, ...]]:
        """Canonical name (with the ``enhance.`` prefix) -> shape of each tensor of ``head``, in its order."""

    def head_tolerance(self, cfg: EnhanceNetConfig, dtype: str) -> float | None:
        """A looser float64 bound for ``cfg`` where the framework's kernel is known to be less exact, else None."""


def _ids(cfg: EnhanceNetConfig) -> str:
    return (f"{cfg.inputs.value}-L{cfg.num_layers}-C{cfg.channels}-k{cfg.first_kernel}/{cfg.kernel}-r{cfg.upscale}-"
            f"{cfg.upsampler.value}{cfg.upsampler_kernel}-{cfg.shuffle_order.value}")


CONFIGS = [
    *(EnhanceNetConfig(inputs=i, channels=16) for i in HeadInput),
    *(EnhanceNetConfig(num_layers=n, channels=16) for n in (2, 3, 4)),
    *(EnhanceNetConfig(num_layers=n, inputs=HeadInput.HEATMAPS, channels=16) for n in (2, 3, 4)),
    *(EnhanceNetConfig(upscale=r, shuffle_order=o, channels=16) for r in (1, 2, 3, 4, 5) for o in ShuffleOrder),
    *(EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=k, upscale=r, channels=16)
      for k in (3, 12) for r in (2, 3, 4, 5)),
    EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=3, upscale=1, channels=16),
    *(EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=r, channels=16) for r in (1, 2, 3, 4, 5)),
    EnhanceNetConfig(first_kernel=3, kernel=5, upsampler_kernel=5, channels=8),
]

#: configurations whose canonical names are checked at full size (C_F = 256, K = 17) and at the test size
NAME_CONFIGS = [
    EnhanceNetConfig(),
    EnhanceNetConfig(upsampler=Upsampler.DECONV, upsampler_kernel=12),
    EnhanceNetConfig(num_layers=4, inputs=HeadInput.HEATMAPS, upsampler=Upsampler.BILINEAR_CONV),
    *(EnhanceNetConfig(inputs=i) for i in HeadInput),
    *(EnhanceNetConfig(num_layers=n, inputs=HeadInput.HEATMAPS) for n in (2, 3)),
    EnhanceNetConfig(upscale=3, channels=8),
    EnhanceNetConfig(upsampler=Upsampler.BILINEAR_CONV, upscale=5, channels=8),
]


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, C_F, H, W)), rng.standard_normal((2, K, H, W))


def head_params(head: EnhanceNetConfig, seed: int = 1) -> dict[str, np.ndarray]:
    """numpy-ref's deterministic canonical weights of a head of ``head`` (C_F, K as here), float64."""
    return init_weights(ModelConfig(head=head, num_keypoints=K), seed, np.float64, feature_channels=C_F)


class HeadSuite:
    """The head tests, run by each framework with its ``binding`` fixture."""

    @pytest.mark.parametrize("head", CONFIGS, ids=_ids)
    def test_head_matches_numpy(self, binding: Binding, head: EnhanceNetConfig) -> None:
        f, m = _inputs()
        params = head_params(head)
        want = head_forward(params, f, m, head)
        assert want.shape == (2, K, head.upscale * H, head.upscale * W)
        scale = float(np.abs(want).max())
        assert scale > 0
        assert binding.head_dtypes and set(binding.head_dtypes) <= set(TOLERANCE)
        for dtype in binding.head_dtypes:
            tol = TOLERANCE[dtype]
            looser = binding.head_tolerance(head, dtype)
            if looser is not None:
                assert dtype == "float64" and looser <= 1e-6, "only float64 may be loosened, to 1e-6 at most"
                tol = looser
            got = binding.head_forward(head, params, f, m, dtype)
            assert got.shape == want.shape
            diff = float(np.abs(got - want).max())
            assert diff <= tol * scale, f"{dtype}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e} for {head}"

    @pytest.mark.parametrize("head", NAME_CONFIGS, ids=_ids)
    def test_head_names_are_canonical(self, binding: Binding, head: EnhanceNetConfig) -> None:
        for c_f, k in ((256, 17), (C_F, K)):
            specs = head_parameter_specs(head, c_f, k)
            got = binding.head_canonical_shapes(binding.head(head, c_f, k))
            assert got == {name: s.shape for name, s in specs.items()}
            assert list(got) == list(specs)  # and in the canonical order

    def test_head_refuses_one_layer(self, binding: Binding) -> None:
        """L counts the upsampler and Eq. 2 needs w_1 before it (Sec. 3.1): L = 1 is refused, as the config does."""
        with pytest.raises(ValueError, match=r"model\.head\.num_layers: expected a value >= 2, got 1"):
            binding.head(EnhanceNetConfig(num_layers=1, channels=16), C_F, K)

    def test_head_rejects_bad_config(self, binding: Binding) -> None:
        with pytest.raises(ValueError, match=r"model\.head\.upscale"):
            binding.head(EnhanceNetConfig(upscale=0), C_F, K)
        with pytest.raises(ValueError, match="kernel 12 and stride 1"):
            binding.head(replace(EnhanceNetConfig(), upsampler=Upsampler.DECONV, upsampler_kernel=12, upscale=1),
                         C_F, K)
