"""The block paste of the target windows (issue 15) is bit-identical to the per-cell flat scatter it
replaced (restated here as the reference), on joints inside, across and beyond every edge, invisible ones,
fractional 3σ (HRNet's truncation quirk), r·σ HR maps and windows larger than the map."""

from __future__ import annotations

import numpy as np
import pytest

import enhancenet_core.targets as targets
from enhancenet_core.conventions import CoordinateConvention
from enhancenet_core.targets import generate_targets


def _flat_scatter(n, k, width, height, col0, row0, col_ok, row_ok, values):
    """The previous ``_scatter_windows``: one flat index per window cell, off-map cells to a junk slot."""
    s = col_ok.shape[-1]
    total = n * k * height * width
    flat = np.zeros(total + 1, dtype=np.float32)
    if n * k == 0:
        return flat[:total].reshape(n, k, height, width)
    ar = np.arange(s, dtype=np.int64)
    cols = col0[..., None] + ar
    rows = row0[..., None] + ar
    base = np.arange(n * k, dtype=np.int64).reshape(n, k) * (height * width)
    idx = base[..., None, None] + rows[..., :, None] * width + cols[..., None, :]
    ok = row_ok[..., :, None] & col_ok[..., None, :]
    idx = np.where(ok, idx, total)
    flat[idx.reshape(-1)] = np.broadcast_to(values, idx.shape).reshape(-1)
    return flat[:total].reshape(n, k, height, width)


CASES = [  # (input (W, H), heat map (W, H), sigma)
    ((192, 256), (48, 64), 2.0),
    ((192, 256), (192, 256), 8.0),  # HR, r = 4
    ((192, 256), (48, 64), 1.5),  # 3σ = 4.5: HRNet's int() truncation cuts windows unevenly at the left/top
    ((64, 64), (16, 16), 3.0),  # S = 19 > 16: the flat path
    ((40, 24), (10, 6), 1.0),
]


@pytest.mark.parametrize("convention", list(CoordinateConvention))
@pytest.mark.parametrize("inp, hm, sigma", CASES)
def test_block_paste_equals_flat_scatter(monkeypatch, convention, inp, hm, sigma):
    rng = np.random.default_rng(int(sigma * 10) + hm[0])
    n, k = 6, 17
    joints = np.stack([rng.uniform(-0.3 * inp[0], 1.3 * inp[0], (n, k)),
                       rng.uniform(-0.3 * inp[1], 1.3 * inp[1], (n, k))], -1)
    joints[0, :4] = [[0, 0], [inp[0] - 1, inp[1] - 1], [-1e-3, 5], [inp[0], inp[1] / 2]]  # at the edges
    joints[1] = np.round(joints[1])  # integer positions (ties of the rounding)
    vis = (rng.uniform(size=(n, k)) > 0.2).astype(np.float32)
    vis[2] = 0  # a sample without a visible joint
    ours = generate_targets(joints, vis, inp, hm, sigma, convention)
    monkeypatch.setattr(targets, "_scatter_windows", _flat_scatter)
    ref = generate_targets(joints, vis, inp, hm, sigma, convention)
    assert ours[0].dtype == ref[0].dtype and ours[0].flags.c_contiguous
    assert np.array_equal(ours[0], ref[0]) and np.array_equal(ours[1], ref[1])
    assert np.count_nonzero(ours[0]) > 0
