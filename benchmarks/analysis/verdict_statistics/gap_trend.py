"""How each family's gap to the leader changes with data, and where the line would reach zero (an extrapolation).

Per family against the leader: the least-squares slope of the log-loss difference against log10 data
size, over the data sizes both ran, each the mean over the model sizes both ran there (`gaps`). The
slope is a within-init contrast: an init's effect is the same at every data size, so it cancels and only
each seed's own noise is left in its interval. The slopes of the families are one family of tests,
Holm-adjusted; a slope "changes beyond noise" when Holm's procedure says so, and each carries its own
95% interval and the interval at its Holm step (`adjusted`, the one its claim shows), as for `contrasts`.
A gap measured beyond noise on opposite sides of zero at the two ends of the data sizes has crossed:
its claim says so, and no crossover is extrapolated for it.

A slope needs enough of a line to be one: at least `MIN_DATA_SIZES` data sizes spanning at least
`MIN_DECADES` decade; with fewer the verdict says so and gives none. The crossover (where the fitted line
reaches zero: the two families would be equal) is given only where the slope is beyond noise and points
towards zero, with its Fieller interval, and always with its distance past the largest data size
measured: it assumes the line holds where nothing was measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.claims import Claim, exp, from_estimate
from benchmarks.analysis.seed_noise import holm, holm_levels, t_quantile
from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairedDifferences
from benchmarks.analysis.verdict_statistics.gaps import Gaps
from benchmarks.analysis.wording import number, relation

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
    adjusted: Estimate | None = None  # the slope's interval at the level of its Holm step
    crossed: bool = False  # the gap changes sign within the measured data sizes

    @property
    def separated(self) -> bool:
        return bool(self.p_holm < ALPHA)

    def to_dict(self) -> dict:
        out = {"other": self.other, "log_loss_difference_per_decade": self.per_decade.to_dict(), "p": self.p,
               "p_holm": self.p_holm, "changes_beyond_noise": self.separated, "crossed": self.crossed}
        if self.adjusted is not None:
            out["adjusted"] = self.adjusted.to_dict()
        if self.crossover is not None:
            out |= {"crossover_data_size": self.crossover.to_dict(), "crossover_past_data": self.crossover_past_data}
        return out


@dataclass(frozen=True)
class GapTrend:
    leader: str
    trends: tuple[PairTrend, ...]
    not_given: str = ""  # why there is no trend ("" where there are trends)
    data_sizes: tuple[int, float] = (0, 0.0)  # where not given: how many data sizes, over how many decades
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"gap_trends": [t.to_dict() for t in self.trends], "gap_trend_not_given": self.not_given or None}


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


def trend_table(claims: Sequence[Claim]) -> list[Table]:
    """Each family's gap to the leader per tenfold more data (its claim's Holm-step interval), and where the line
    would reach zero, where it is read (an extrapolation)."""
    trends = [c for c in claims if c.quantity == "gap trend"]
    if not trends:
        return []
    meet = {c.subject: number(c) for c in claims if c.quantity == "crossover"}
    reads = {"above": "widens", "below": "narrows", "within noise": "flat within noise"}
    rows = tuple((c.subject, number(c), reads.get(relation(c), relation(c)), meet.get(c.subject, "—")) for c in trends)
    return [Table(f"How the gaps to {trends[0].reference} change with data",
                  ("family", "gap ratio per tenfold more data", "reads", "would meet at (examples, extrapolated)"),
                  rows, f"Least-squares slope of the log-loss gap against log10 data size; {trends[0].level or '95%'}"
                  " intervals.")]


@register_statistic("gap_trend", order=40, table=trend_table)
def gap_trend(runs: DatasetRuns, earlier: Mapping) -> GapTrend:
    gaps: Gaps = earlier["gaps"]
    leader = gaps.leader
    fits = {o: f for o in gaps.others if (f := pair_trend(runs, o, leader)) is not None}
    if not fits:
        sizes = runs.levels[2]
        decades = math.log10(max(sizes) / min(sizes)) if sizes else 0.0
        why = "too few data sizes" if gaps.others else ""  # a trend needs MIN_DATA_SIZES over MIN_DECADES
        return GapTrend(leader=leader, trends=(), not_given=why, data_sizes=(len(sizes), decades))
    raw = {o: pd.estimate(k_slope) for o, (pd, k_slope, *_) in fits.items()}
    p_holm = dict(zip(raw, holm([p for _, p in raw.values()]), strict=True))
    levels = dict(zip(raw, holm_levels([p for _, p in raw.values()]), strict=True))
    trends = []
    for o, (pd, k_slope, k_mean, xbar, x) in fits.items():
        slope = raw[o][0]
        m = float(k_mean @ pd.diff_m)
        first, last = m + slope.value * (min(x.values()) - xbar), m + slope.value * (max(x.values()) - xbar)
        measured = gaps.of(o)
        # crossed: the measured gaps at the two ends lie beyond noise on opposite sides of zero
        crossed = (len(measured) > 1 and (
            (measured[0].gap.lo > 0 and measured[-1].gap.hi < 0) or (measured[0].gap.hi < 0 and measured[-1].gap.lo > 0)))
        crossover, past = None, math.nan
        if p_holm[o] < ALPHA and slope.value * last < 0 and not crossed:
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
                                last_gap=last, crossover=crossover, crossover_past_data=past,
                                adjusted=pd.estimate(k_slope, levels[o])[0], crossed=crossed))
    return GapTrend(leader=leader, trends=tuple(trends), claims=trend_claims(trends, leader, runs.dataset))


def trend_claims(trends: list[PairTrend], leader: str, dataset: str) -> tuple[Claim, ...]:
    out = []
    for t in trends:
        scope = f"{dataset}, over the data sizes both ran"
        out.append(from_estimate(t.adjusted, shown=exp, null=0.0, statistic="gap_trend", quantity="gap trend",
                                 subject=t.other, reference=leader, unit="ratio", scope=scope, sign_change=t.crossed,
                                 level=f"Holm over {len(trends)} families" if len(trends) > 1 else ""))
        if t.crossover is not None and t.crossover_past_data > 1:
            c = t.crossover
            out.append(Claim(statistic="gap_trend", quantity="crossover", subject=t.other, reference=leader,
                             estimate=c.value, lo=c.lo, hi=c.hi, unit="examples", null=None, scope=scope,
                             kind="extrapolated", at={"past": t.crossover_past_data}))
    return tuple(out)
