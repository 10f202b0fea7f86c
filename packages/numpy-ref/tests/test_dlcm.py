"""numpy-ref DLCM: every named tensor is read, shapes per level, determinism, the top-down wiring."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.compositional import DlcmConfig, dlcm_parameter_specs
from enhancenet_core.config import EnhanceNetConfig
from enhancenet_numpy.models import dlcm
from enhancenet_numpy.weights import init_from_specs

SMALL = DlcmConfig(channels=32, depth=2)
HEAD = EnhanceNetConfig(channels=8, upscale=2)


class RecordingParams(dict):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in self:
            self.read.add(key)
        return super().get(key, default)


def _x(seed=0, n=2, size=32):
    return np.random.default_rng(seed).standard_normal((n, 3, size, size)).astype(np.float32)


def test_forward_reads_every_tensor_and_has_the_level_shapes():
    params = RecordingParams(init_from_specs(dlcm.dlcm_full_parameter_specs(SMALL, HEAD), 0, np.float32))
    stacks, hr = dlcm.full_forward(params, _x(), SMALL, HEAD)
    assert params.read == set(params), "forward and the spec's names disagree"
    assert [s.shape for s in stacks] == [(2, p, 8, 8) for p in (16, 12, 6, 12, 16)]
    assert hr is not None and hr.shape == (2, 16, 16, 16)
    assert all(s.dtype == np.float32 and np.isfinite(s).all() for s in stacks)


def test_f_lr_and_m_lr():
    params = init_from_specs(dlcm_parameter_specs(SMALL), 1)
    f, m, stacks = dlcm.forward(params, _x(1, 1), SMALL)
    assert f.shape == (1, 32, 8, 8) and m is stacks[-1]
    stacks2, hr = dlcm.full_forward(params, _x(1, 1), SMALL, EnhanceNetConfig(enabled=False))
    assert hr is None
    np.testing.assert_array_equal(stacks2[-1], m)


def test_deterministic_and_seed_dependent():
    specs = dlcm_parameter_specs(SMALL)
    a = dlcm.forward(init_from_specs(specs, 3), _x(), SMALL)[2]
    b = dlcm.forward(init_from_specs(specs, 3), _x(), SMALL)[2]
    c = dlcm.forward(init_from_specs(specs, 4), _x(), SMALL)[2]
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[-1], c[-1])


def test_top_down_stacks_read_the_bottom_up_prediction_of_their_level():
    params = init_from_specs(dlcm_parameter_specs(SMALL), 5)
    base = dlcm.forward(params, _x(), SMALL)[2]
    changed = dict(params)
    # the level-2 bottom-up score feeds stack 2 (through score_.1) and stack 3 (concatenated directly)
    changed["score.1.bias"] = params["score.1.bias"] + 1.0
    changed["score_.1.weight"] = np.zeros_like(params["score_.1.weight"])
    zeroed = dict(params)
    zeroed["score_.1.weight"] = np.zeros_like(params["score_.1.weight"])
    ref = dlcm.forward(zeroed, _x(), SMALL)[2]
    out = dlcm.forward(changed, _x(), SMALL)[2]
    np.testing.assert_array_equal(out[0], base[0])
    np.testing.assert_array_equal(out[2], ref[2])  # no path from the score to stack 2 once score_.1 is zero
    assert not np.allclose(out[3], ref[3])  # the top-down level-2 stack reads it through the concat


def test_bad_sizes():
    params = init_from_specs(dlcm_parameter_specs(SMALL), 0)
    with pytest.raises(ValueError, match="divisible by 16"):
        dlcm.forward(params, _x(size=24), SMALL)
    with pytest.raises(ValueError, match="must be even and positive"):
        DlcmConfig(channels=16)
    with pytest.raises(ValueError, match="positive integer"):
        DlcmConfig(depth=0)


def test_full_size_structure():
    specs = dlcm_parameter_specs(DlcmConfig())  # 256 channels, depth 4, MPII: five hourglasses
    hg_blocks = {n.rsplit(".conv1.", 1)[0] for n in specs if n.startswith("hg.") and ".conv1." in n}
    assert len(hg_blocks) == 5 * (4 + 3 + 3 + 3)
    assert {n.split(".")[1] for n in specs if n.startswith("skip.")} == {"3", "4"}
    assert specs["skip.3.conv3.weight"].shape == (256 - 12, 122, 1, 1)  # concat with the 12 level-2 maps
    assert specs["skip.4.conv3.weight"].shape == (256 - 16, 120, 1, 1)
    assert [specs[f"score.{i}.weight"].shape[0] for i in range(5)] == [16, 12, 6, 12, 16]
    assert "score_.4.weight" not in specs and not any(n.startswith("res.") for n in specs)


def test_complexity_counts_the_forward_convolutions(monkeypatch):
    """enhancenet_core.complexity.dlcm_complexity's multiply-adds = the convolutions this forward runs (counted here
    from their outputs' sizes and weights), so the per-layer map sizes of the spec's count are the network's."""
    from enhancenet_core.complexity import dlcm_complexity
    from enhancenet_core.compositional import dlcm_config
    from enhancenet_core.config import BaseModelConfig, ModelConfig
    from enhancenet_core.conventions import BaseModelName
    from enhancenet_numpy import ops

    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.DLCM, hourglass_channels=32), num_keypoints=16,
                      input_size=(128, 64), head=EnhanceNetConfig(enabled=False))
    counted = []
    conv2d = ops.conv2d

    def counting(x, w, *args, **kwargs):
        out = conv2d(x, w, *args, **kwargs)
        counted.append(out.shape[2] * out.shape[3] * w.size)
        return out

    monkeypatch.setattr(ops, "conv2d", counting)
    net = dlcm_config(cfg.base)
    dlcm.forward(init_from_specs(dlcm_parameter_specs(net), 0, np.float32), _x(n=1, size=64)[..., :64].repeat(2, -1), net)
    assert sum(counted) == dlcm_complexity(cfg).base_flops
