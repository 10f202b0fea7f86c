"""Paired comparisons for the reproduce tables: paired differences, Student t intervals, p-values, Holm.

Every with/without comparison of ``reproduce`` is paired: the two runs of a pair share the seed, the data and the
pretrained base, and differ only in what is compared (the head, the map decoded, the loss reduction). The
statistic is the paired t test on the per-pair differences ``d_i = b_i - a_i`` (``n`` pairs, ``n - 1`` degrees of
freedom): ``t = mean(d) / (sd(d) / sqrt(n))``, two-sided p-value, and the ``level`` (95 %) confidence interval
``mean(d) ± t_{n-1, (1+level)/2} · sd(d) / sqrt(n)``. The tables run many such tests; :func:`holm` adjusts
their p-values for the family (Holm 1979: step-down Bonferroni, controls the family-wise error rate without
assuming independence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["PairedTest", "holm", "paired_t"]


@dataclass(frozen=True)
class PairedTest:
    """A paired t test of ``after - before``.

    ``n`` pairs; ``mean``/``sd`` of the differences (``sd`` with ``ddof=1``); ``se = sd / sqrt(n)``; ``df = n - 1``;
    ``t``, two-sided ``p``; ``ci`` the two-sided ``level`` interval of the mean difference. With ``n < 2`` (no
    spread) or zero spread, ``t``, ``p`` and the interval are NaN (``p``) / the point itself (``ci``) and
    :attr:`testable` is False.
    """

    n: int
    mean: float
    sd: float
    se: float
    df: int
    t: float
    p: float
    ci: tuple[float, float]
    level: float = 0.95

    @property
    def testable(self) -> bool:
        return self.n >= 2 and self.se > 0.0

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0 (equivalently ``p < 1 - level``)."""
        return self.testable and (self.ci[0] > 0.0 or self.ci[1] < 0.0)

    def verdict(self, better: str = "helps", worse: str = "hurts") -> str:
        if not self.testable:
            return "no interval (fewer than 2 pairs or no spread)"
        if not self.significant:
            return f"no significant difference (the {100 * self.level:g} % interval contains 0)"
        return better if self.mean > 0 else worse

    def describe(self, unit: str = "") -> str:
        """``+1.06 [−0.10, +2.22] (paired t, n = 3, p = 0.060)``."""
        if not self.testable:
            return f"{self.mean:+.2f}{unit} (n = {self.n}: no interval)"
        return (f"{self.mean:+.2f}{unit} [{self.ci[0]:+.2f}, {self.ci[1]:+.2f}] "
                f"(paired t, n = {self.n}, p = {_fmt_p(self.p)})")


def _fmt_p(p: float) -> str:
    return "n/a" if math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def paired_t(before: Sequence[float], after: Sequence[float], level: float = 0.95) -> PairedTest:
    """Paired t test of ``after - before`` (same length, pair ``i`` = ``before[i]``, ``after[i]``).

    Raises:
        ValueError: the sequences differ in length, are empty, hold a non-finite value, or ``level`` is not in (0, 1).
    """
    a = np.asarray(before, dtype=np.float64).reshape(-1)
    b = np.asarray(after, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired_t: before has {a.size} values, after has {b.size}; pairs need equal lengths")
    if a.size == 0:
        raise ValueError("paired_t: no pairs")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("paired_t: non-finite value in the pairs")
    if not 0.0 < level < 1.0:
        raise ValueError(f"paired_t: level must be in (0, 1), got {level}")
    d = b - a
    n = int(d.size)
    mean = float(d.mean())
    if n < 2:
        return PairedTest(n, mean, 0.0, 0.0, 0, math.nan, math.nan, (mean, mean), level)
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    df = n - 1
    if se == 0.0:
        return PairedTest(n, mean, sd, se, df, math.nan, math.nan, (mean, mean), level)
    t = mean / se
    p = float(2.0 * _st.t.sf(abs(t), df))
    half = float(_st.t.ppf(0.5 + level / 2.0, df)) * se
    return PairedTest(n, mean, sd, se, df, t, p, (mean - half, mean + half), level)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (NaN entries are left out of the family and stay NaN).

    With ``m`` tests sorted ascending ``p_(1) <= ... <= p_(m)``: ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
    A hypothesis is rejected at family-wise level α when its adjusted p-value is below α.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = idx.size
    if m == 0:
        return out.tolist()
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out.tolist()
