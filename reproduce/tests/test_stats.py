"""Paired t test and Holm's adjustment against values computed by hand / printed in textbooks (not by this code)."""

from __future__ import annotations

import math

import pytest

from reproduce.stats import holm, paired_t

# Student (1908) / Cushny & Peebles: extra hours of sleep of 10 patients under two drugs (R's `sleep` data set).
DRUG1 = (0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0)
DRUG2 = (1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4)


def test_paired_t_matches_the_sleep_data_textbook_values() -> None:
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) prints t = -4.0621, df = 9, p-value = 0.002833,
    # 95 percent CI -2.4598858 -0.7001142, mean difference -1.58 (group 1 - group 2; here drug 2 - drug 1).
    res = paired_t(DRUG1, DRUG2)
    assert res.n == 10 and res.df == 9
    assert res.mean == pytest.approx(1.58, abs=1e-12)
    assert res.t == pytest.approx(4.0621, abs=1e-4)
    assert res.p == pytest.approx(0.002833, abs=1e-6)
    assert res.ci == pytest.approx((0.7001142, 2.4598858), abs=1e-6)
    assert res.significant and res.verdict() == "helps"
    # the sign flips with the order; the interval is mirrored
    rev = paired_t(DRUG2, DRUG1)
    assert rev.t == pytest.approx(-res.t) and rev.ci == pytest.approx((-res.ci[1], -res.ci[0]))
    assert rev.verdict() == "hurts"


def test_paired_t_three_pairs_by_hand() -> None:
    # d = (1, 2, 6): mean 3, sd sqrt(7), se sqrt(7/3) = 1.5275, t = 1.9640; t_{2, 0.975} = 4.3027 (tables)
    res = paired_t((0, 0, 0), (1, 2, 6))
    assert res.sd == pytest.approx(math.sqrt(7)) and res.t == pytest.approx(1.96396, abs=1e-5)
    assert res.ci == pytest.approx((3 - 4.30265 * 1.527525, 3 + 4.30265 * 1.527525), abs=1e-4)
    assert not res.significant and "no significant difference" in res.verdict()


def test_paired_t_degenerate_and_bad_input() -> None:
    one = paired_t((1.0,), (2.0,))
    assert one.n == 1 and math.isnan(one.p) and not one.testable and "no interval" in one.describe()
    same = paired_t((1.0, 2.0), (2.0, 3.0))  # every difference 1: no spread
    assert not same.testable and same.mean == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_t((1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match="no pairs"):
        paired_t((), ())
    with pytest.raises(ValueError, match="non-finite"):
        paired_t((1.0, math.nan), (1.0, 2.0))


def test_holm_by_hand() -> None:
    # m = 4, sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005 = 0.02, 3*0.01 = 0.03, 2*0.03 = 0.06, max(0.06, 1*0.04) = 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # capped at 1; NaN (an untestable row) is not counted in m
    out = holm([0.6, math.nan, 0.2])
    assert out[0] == pytest.approx(0.6) and math.isnan(out[1]) and out[2] == pytest.approx(0.4)
    assert holm([]) == []
