"""The MPII grid of reproduce.mpii (hourglass and DLCM, base vs +EnhanceNet) and its table, without training."""

from __future__ import annotations

from reproduce.mpii import FULL_MPII, QUICK_MPII, mpii_grid, render_mpii_table


def test_full_grid_is_two_models_two_variants_three_seeds_in_torch() -> None:
    rows = mpii_grid(FULL_MPII)
    assert [(m, v.name) for m, v, _ in rows] == [("hourglass", "base"), ("hourglass", "enhancenet"),
                                                 ("dlcm", "base"), ("dlcm", "enhancenet")]
    runs = [ev.train for _, _, evs in rows for ev in evs]
    assert len(runs) == 12 and len({r.key for r in runs}) == 12 and {r.framework for r in runs} == {"torch"}
    assert {r.config for r in runs} == {"mpii_hourglass_2stage_256x256_base", "mpii_hourglass_2stage_256x256_enhancenet",
                                        "mpii_dlcm_256x256_base", "mpii_dlcm_256x256_enhancenet"}
    assert [m for m, _, _ in mpii_grid(QUICK_MPII)] == ["dlcm", "dlcm"]


def test_table_names_the_legacy_threshold() -> None:
    m = {"pckh@0.5": 50.0, "pckh@0.1": 10.0, "pckh_legacy_hrnet_0.1": 12.0, "head_pckh@0.1": 20.0}
    table = render_mpii_table([{"model": "dlcm", "variant": "+EnhanceNet", "metrics": [m, {**m, "pckh@0.5": 52.0}]}])
    assert "α = 0.11" in table and "51.00 ± 1.41" in table
