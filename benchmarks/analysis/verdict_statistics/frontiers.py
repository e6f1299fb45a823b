"""Do the families' compute frontiers converge as compute grows? (The "match at scale" question.)

Where training compute varies apart from the parameter count (several training lengths per size), each
family's frontier is `benchmarks.analysis.compute_optimal`'s: from its law L(N, D) where identified, else
the local line through the envelope of its runs. The verdict names the family whose frontier is lowest at
the top of the measured compute, then for each other family its frontier's gap to that leader (log loss
above it) at the two ends of the compute both measured and the gap's trend per decade of compute, with
95% intervals: converging where the trend's interval lies below 0, diverging where above, else not shown.
It also says how many times the compute each family needs to reach the leader's frontier loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis import fits
from benchmarks.analysis.compute_optimal import ComputeFrontiers
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_text import fmt_loss_change, join_words, short_count


@dataclass(frozen=True)
class FrontierVerdict:
    frontiers: ComputeFrontiers | None  # None: compute does not vary apart from the parameter count
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        if self.frontiers is None:
            return {}
        f = self.frontiers
        return {"frontier_leader": f.leader, "frontier_convergence": [g.to_dict() for g in f.convergence]}


def _factor(m) -> str:
    v = m.factor
    num = lambda x: "∞" if not np.isfinite(x) else f"{x:.3g}"
    where = "" if m.measured else ", extrapolated"
    return f"{num(v.value)}× [{num(v.lo)}, {num(v.hi)}]{where}"


def _optimal_size(f: ComputeFrontiers) -> str:
    """How the compute-optimal size grows, for the families whose sizes bracket it; the others said so."""
    grows = [f"{arch} a = {fam.estimates['a'].value:.2f} [{fam.estimates['a'].lo:.2f}, {fam.estimates['a'].hi:.2f}]"
             for arch, fam in f.fitted.items() if "a" in fam.estimates]
    bounded = [arch for arch, fam in f.fitted.items() if "a" not in fam.estimates]
    out = f"Compute-optimal size N* ∝ C^a (95% intervals): {'; '.join(grows)}." if grows else ""
    if bounded:
        out += (f"{' ' if out else ''}For {join_words(bounded)} the best run at almost every compute is the smallest or "
                "largest size covering that compute, so N* is bounded there, not measured, and its trend a is not "
                "stated: sizes or training lengths that bracket it would be needed.")
    return out


def describe(v: FrontierVerdict, dataset) -> list[str]:
    f = v.frontiers
    if f is None or not f.fitted:
        return []
    kinds = {fam.status for fam in f.fitted.values()}
    how = ("each family's law L(N, D)" if kinds == {"ok"} else
           "the local line through each family's envelope of runs" if kinds == {"slope"} else
           "each family's law L(N, D) where identified, else the local line through its envelope of runs")
    missing = sorted(set(f.families) - set(f.fitted))
    top, reach = f.log_levels[-1], f.fitted[f.leader].log_c_range[1]
    past = (f" (extrapolated there: {f.leader}'s runs reach {short_count(float(np.exp(reach)))} FLOPs, and "
            f"{join_words(sorted(a for a, fam in f.fitted.items() if fam.log_c_range[1] >= top - 1e-9))} alone went "
            "further)") if reach < top - 1e-9 else ""
    out = [f"Compute frontiers (lowest held-out loss at each training compute over sizes and lengths, from {how}"
           + (f"; none for {join_words(missing)}" if missing else "") + f"): {f.leader} holds the lowest frontier at "
           f"{short_count(float(np.exp(top)))} FLOPs, the top of the measured compute{past}"
           + ("; a local line's intervals are narrower than they should be where its envelope bends "
              "(docs/statistics.md#compute-frontiers)." if "slope" in kinds else ".")]
    out.append(_optimal_size(f))
    if not dataset.has_intervals:
        return out
    parts = []
    for g in f.convergence:
        where = "" if g.measured else " (their measured compute barely overlaps: extrapolated)"
        parts.append(f"{g.other} {fmt_loss_change(g.gap[0])} at {short_count(g.compute[0])} and "
                     f"{fmt_loss_change(g.gap[1])} at {short_count(g.compute[1])} FLOPs, "
                     f"{fmt_loss_change(g.per_decade)} per decade: {g.verdict}{where}")
    if parts:
        n_conv = sum(g.verdict == "converging" for g in f.convergence)
        n_div = sum(g.verdict == "diverging" for g in f.convergence)
        out.append(f"Frontier above {f.leader}'s, at the two ends of the compute both measured, and its trend "
                   f"(95% intervals): {'; '.join(parts)}. As compute grows, {n_conv} of {len(parts)} families' "
                   f"frontiers converge on {f.leader}'s, {n_div} diverge, the rest show no trend beyond noise.")
    mults = [m for m in f.multipliers if m.stronger == f.leader]
    if mults:
        out.append(f"Compute each needs to reach {f.leader}'s frontier loss at the top of the compute both measured "
                   f"(95% intervals): " + "; ".join(f"{m.weaker} {_factor(m)}" for m in mults) + ".")
    return out


@register_statistic("frontiers", order=55, describe=describe)
def frontiers(runs: DatasetRuns, earlier: Mapping) -> FrontierVerdict:
    return FrontierVerdict(fits.fit_dataset(runs.records).frontiers)
