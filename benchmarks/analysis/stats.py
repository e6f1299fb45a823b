"""Seed statistics shared by leaderboards, comparisons and scaling fits.

Every number archbench shows is a mean over seeds with a 95% Student-t
interval. With one seed the spread is unknown, so the interval is NaN and
callers must treat it as "could be anything" (it neither beats nor loses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

NAN = float("nan")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the Student-t confidence interval of the mean over seeds; NaN bounds with < 2 values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return NAN, NAN, NAN
    mean = float(x.mean())
    if x.size < 2:
        return mean, NAN, NAN
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two (lo, hi) intervals overlap; an undefined (NaN) interval overlaps everything."""
    if any(math.isnan(v) for v in (*a, *b)):
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test for a difference in means; NaN when either side has < 2 values.

    Two samples without any spread differ with certainty when their means differ
    (p = 0) and not at all when they are equal (p = 1): scipy gives NaN there.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        return NAN
    if x.var(ddof=1) == 0 and y.var(ddof=1) == 0:
        return 1.0 if x.mean() == y.mean() else 0.0
    return float(stats.ttest_ind(x, y, equal_var=False).pvalue)
