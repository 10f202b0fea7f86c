"""Seeding accepts every train.seed the config accepts, also after adding the resume step and the rank."""

from __future__ import annotations

import mindspore as ms

from enhancenet_core.config.rules import SEED_MAX
from enhancenet_mindspore.train import seed_everything


def test_largest_seed_plus_step_and_rank_is_accepted() -> None:
    seed_everything(SEED_MAX, rank=0)
    assert ms.get_seed() == SEED_MAX
    seed_everything(SEED_MAX + 1000, rank=3)  # train.seed + run.step on resume, + rank: past 2**32 - 1
    assert ms.get_seed() == (SEED_MAX + 1003) % 2**32
    seed_everything(7, rank=1)
    assert ms.get_seed() == 8  # below 2**32 nothing changes
