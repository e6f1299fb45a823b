"""Whether the gap between architectures shrinks as data grows: the slope of the log gap against log10
data size and, where it shrinks with confidence, the data size at which the fitted trend would reach
the seed-noise floor (an extrapolation, said as such)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.stats import Estimate, percentiles
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_statistics.gaps import Gaps
from benchmarks.analysis.verdict_text import LEVEL_WORDS, short_count


@dataclass(frozen=True)
class GapTrend:
    trend: Estimate | None  # slope of log gap per decade of data; None with fewer than two gaps
    crossover: Estimate | None  # data size where the trend meets the noise floor
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"gap_trend_per_decade": self.trend.to_dict() if self.trend else None,
                "crossover_data_size": self.crossover.to_dict() if self.crossover else None}


def describe(t: GapTrend, dataset) -> list[str]:
    out = []
    if t.trend is not None and dataset.has_intervals:
        f = lambda s: f"×{np.exp(s):.2f}"
        per = f"{f(t.trend.value)} [{f(t.trend.lo)}, {f(t.trend.hi)}] per tenfold more data"
        if t.trend.hi < 0:
            out.append(f"The gap shrinks as the training set grows: {per}.")
        elif t.trend.lo > 0:
            out.append(f"The gap grows as the training set grows: {per}.")
        else:
            out.append(f"The data do not show whether the gap shrinks or grows with more data ({per}).")
    if t.crossover is not None:
        c = t.crossover
        hi = short_count(c.hi) if np.isfinite(c.hi) else "no finite bound"
        beyond = c.value / max(dataset.data_sizes)
        out.append(f"If that trend held beyond the sizes measured, the gap would fall to the seed-noise level at about "
                   f"{short_count(c.value)} training examples ({LEVEL_WORDS} interval {short_count(c.lo)} to {hi}) — "
                   f"an extrapolation {short_count(beyond)}× past the largest training set measured, not a measurement.")
    return out


@register_statistic("gap_trend", order=40, describe=describe)
def gap_trend(runs: DatasetRuns, earlier: Mapping) -> GapTrend:
    gaps: Gaps = earlier["gaps"]
    if len(gaps.gaps) < 2:
        return GapTrend(trend=None, crossover=None)
    x = np.log10([g.data_size for g in gaps.gaps])
    log_g = np.log(np.maximum(gaps.values_1BxG, 1e-12))
    xc = x - x.mean()
    slope = (log_g - log_g.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    intercept = log_g.mean(axis=1) - slope * x.mean()
    trend = Estimate.recentred(slope[0], slope[1:])
    last = gaps.gaps[-1]
    if not (trend.hi < 0):
        return GapTrend(trend=trend, crossover=None)
    if last.gap.lo <= last.noise_floor:
        return GapTrend(trend=trend, crossover=None,
                        notes=(f"the gap is already within seed noise at {last.data_size:,} examples",))
    # shift each replicate's line so the replicates are centred on the estimate, as for every interval
    s_b = slope[1:] - (slope[1:].mean() - slope[0])
    c_b = intercept[1:] - (intercept[1:].mean() - intercept[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d_b = np.where(s_b < 0, (np.log(last.noise_floor) - c_b) / s_b, np.inf)
    log_d = (np.log(last.noise_floor) - intercept[0]) / slope[0]
    lo, hi = percentiles(log_d_b)
    crossover = Estimate(float(10**log_d), float(10**lo), float(10**hi) if np.isfinite(hi) else float("inf"))
    return GapTrend(trend=trend, crossover=crossover)
