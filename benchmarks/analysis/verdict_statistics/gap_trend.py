"""How each family's gap to the leader changes with data, and where the line would reach zero (an extrapolation).

Per family against the leader: the least-squares slope of the log-loss difference against log10 data
size, over the data sizes both ran, each the mean over the model sizes both ran there (`gaps`). The
slope is a within-init contrast: an init's effect is the same at every data size, so it cancels and only
each seed's own noise is left in its interval. The slopes of the families are one family of tests,
Holm-adjusted; a slope "changes beyond noise" when Holm's procedure says so, and each carries its own
95% interval, as for `contrasts`.

A slope needs enough of a line to be one: at least `MIN_DATA_SIZES` data sizes spanning at least
`MIN_DECADES` decade; with fewer the verdict says so and gives none. The crossover (where the fitted line
reaches zero: the two families would be equal) is given only where the slope is beyond noise and points
towards zero, with its Fieller interval, and always with its distance past the largest data size
measured: it assumes the line holds where nothing was measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.seed_noise import holm, t_quantile
from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairedDifferences
from benchmarks.analysis.verdict_statistics.gaps import Gaps
from benchmarks.analysis.verdict_text import join_words, short_count

MIN_DATA_SIZES = 4
MIN_DECADES = 1.0
ALPHA = 1 - LEVEL


@dataclass(frozen=True)
class PairTrend:
    """`other` against `leader`: how their log-loss difference changes per tenfold more data."""

    other: str
    per_decade: Estimate  # slope of (other − leader) log loss per decade, with its 95% interval
    p: float
    p_holm: float
    first_gap: float  # the fitted difference at the smallest and largest data size
    last_gap: float
    crossover: Estimate | None = None  # data size where the line reaches zero (Fieller interval)
    crossover_past_data: float = math.nan  # crossover / largest data size measured (> 1: an extrapolation)

    @property
    def separated(self) -> bool:
        return bool(self.p_holm < ALPHA)

    def to_dict(self) -> dict:
        out = {"other": self.other, "log_loss_difference_per_decade": self.per_decade.to_dict(), "p": self.p,
               "p_holm": self.p_holm, "changes_beyond_noise": self.separated}
        if self.crossover is not None:
            out |= {"crossover_data_size": self.crossover.to_dict(), "crossover_past_data": self.crossover_past_data}
        return out


@dataclass(frozen=True)
class GapTrend:
    leader: str
    trends: tuple[PairTrend, ...]
    not_given: str = ""  # why there is no trend ("" where there are trends)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"gap_trends": [t.to_dict() for t in self.trends], "gap_trend_not_given": self.not_given or None}


def ratio(log_change: float) -> str:
    return f"×{np.exp(log_change):.2f}"


def describe(t: GapTrend, dataset) -> list[str]:
    if not dataset.has_intervals or not (t.trends or t.not_given):
        return []
    if not t.trends:
        return [f"How the gaps change with data is not estimated: {t.not_given}."]
    moving = [x for x in t.trends if x.separated]
    still = [x for x in t.trends if not x.separated]
    words = lambda x: (f"{x.other} {ratio(x.per_decade.value)} [{ratio(x.per_decade.lo)}, {ratio(x.per_decade.hi)}]")
    out = []
    if moving:
        out.append(f"Per tenfold more data, the ratio of each family's loss to {t.leader}'s changes beyond seed noise "
                   f"for {join_words(words(x) for x in moving)} (Holm-adjusted over {len(t.trends)} families)")
    if still:
        out.append(("; it" if moving else f"The ratio of each family's loss to {t.leader}'s")
                   + f" does not change beyond noise for {join_words(words(x) for x in still)}")
    out = ["".join(out) + "."]
    close = [x.other for x in still if x.per_decade.lo > 0 or x.per_decade.hi < 0]
    if close:
        out.append(f"For {join_words(close)} the interval excludes no change, but not at the level that "
                   f"{len(t.trends)} trends need.")
    for x in t.trends:
        if x.crossover is None:
            continue
        c = x.crossover
        hi = short_count(c.hi) if np.isfinite(c.hi) else "no finite bound"
        if x.crossover_past_data <= 1:
            out.append(f"{x.other} and {t.leader} cross within the measured range, near {short_count(c.value)} "
                       f"examples ({short_count(c.lo)} to {hi}).")
        else:
            out.append(f"If {x.other}'s line held beyond the data, it would meet {t.leader}'s at about "
                       f"{short_count(c.value)} training examples ({short_count(c.lo)} to {hi}): an extrapolation "
                       f"{short_count(x.crossover_past_data)}× past the largest training set measured, not a "
                       "measurement.")
    return out


def fieller(m: float, k: float, v_mm: float, v_kk: float, v_mk: float, q: float) -> tuple[float, float] | None:
    """Interval of r = m/k from Fieller's theorem at quantile q; None where k is not beyond noise (unbounded)."""
    a = k * k - q * q * v_kk
    if a <= 0:
        return None
    b = m * k - q * q * v_mk
    c = m * m - q * q * v_mm
    disc = b * b - a * c
    if disc < 0:
        return None
    root = math.sqrt(disc)
    return (b - root) / a, (b + root) / a


def pair_trend(runs: DatasetRuns, other: str, leader: str) -> tuple | None:
    pd = PairedDifferences.of(runs, other, leader)
    if pd is None:
        return None
    sizes = pd.data_sizes
    x = {d: math.log10(d) for d in sizes}
    xbar = float(np.mean(list(x.values())))
    sxx = sum((v - xbar) ** 2 for v in x.values())
    if len(sizes) < MIN_DATA_SIZES or math.log10(max(sizes) / min(sizes)) < MIN_DECADES - 1e-9 or sxx == 0:
        return None
    k_slope = sum((x[d] - xbar) / sxx * pd.mean_weights(d) for d in sizes)
    k_mean = sum(pd.mean_weights(d) for d in sizes) / len(sizes)
    return pd, k_slope, k_mean, xbar, x


@register_statistic("gap_trend", order=40, describe=describe)
def gap_trend(runs: DatasetRuns, earlier: Mapping) -> GapTrend:
    gaps: Gaps = earlier["gaps"]
    leader = gaps.leader
    fits = {o: f for o in gaps.others if (f := pair_trend(runs, o, leader)) is not None}
    if not fits:
        sizes = runs.levels[2]
        decades = math.log10(max(sizes) / min(sizes)) if sizes else 0.0
        why = (f"{len(sizes)} training-set size{'s' if len(sizes) != 1 else ''} over {decades:.1g} decade"
               f"{'s' if decades != 1 else ''} (a trend needs at least {MIN_DATA_SIZES} over at least "
               f"{MIN_DECADES:g} decade)") if gaps.others else ""
        return GapTrend(leader=leader, trends=(), not_given=why)
    raw = {o: pd.estimate(k_slope) for o, (pd, k_slope, *_) in fits.items()}
    p_holm = dict(zip(raw, holm([p for _, p in raw.values()]), strict=True))
    trends = []
    for o, (pd, k_slope, k_mean, xbar, x) in fits.items():
        slope = raw[o][0]
        m = float(k_mean @ pd.diff_m)
        first, last = m + slope.value * (min(x.values()) - xbar), m + slope.value * (max(x.values()) - xbar)
        crossover, past = None, math.nan
        if p_holm[o] < ALPHA and slope.value * last < 0:
            var_k, df = pd.noise.variance(k_slope)
            q = t_quantile(0.5 + LEVEL / 2, df)
            v_mm, v_mk = pd.noise.covariance(k_mean, k_mean), pd.noise.covariance(k_mean, k_slope)
            r = fieller(m, slope.value, v_mm, var_k, v_mk, q)
            x_star = xbar - m / slope.value
            if r is not None:
                lo, hi = sorted((xbar - r[0], xbar - r[1]))
                crossover = Estimate(10**x_star, 10**lo, 10**hi)
            else:
                crossover = Estimate(10**x_star, math.nan, math.inf)
            past = 10**x_star / max(pd.data_sizes)
        trends.append(PairTrend(other=o, per_decade=slope, p=raw[o][1], p_holm=float(p_holm[o]), first_gap=first,
                                last_gap=last, crossover=crossover, crossover_past_data=past))
    return GapTrend(leader=leader, trends=tuple(trends))
