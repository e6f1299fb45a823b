"""Do the families' compute frontiers converge as compute grows? (The "match at scale" question.)

Where training compute varies apart from the parameter count (several training lengths per size), each
family's frontier is `benchmarks.analysis.compute_optimal`'s: from its law L(N, D) where identified, else
the local line through the envelope of its runs. The verdict names the family whose frontier is lowest at
the top of the measured compute, and the families whose frontier there is within noise of its (not separated
from it: `ComputeFrontiers.tied`), then for each other family its frontier's gap to that leader (log loss
above it) at the two ends of the compute both measured and the gap's trend per decade of compute, with
95% intervals: converging where the trend's interval lies below 0, diverging where above, crossing where
the gap changes sign between the two ends, else no trend beyond noise (words: `benchmarks.analysis.wording`).
It also claims how many times the compute each family needs to reach the leader's frontier loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.analysis import fits
from benchmarks.analysis.claims import Claim, exp, from_estimate, pct
from benchmarks.analysis.compute_optimal import ComputeFrontiers
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic


@dataclass(frozen=True)
class FrontierVerdict:
    frontiers: ComputeFrontiers | None  # None: compute does not vary apart from the parameter count
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        if self.frontiers is None:
            return {}
        f = self.frontiers
        return {"frontier_leader": f.leader, "frontier_tied": list(f.tied),
                "frontier_convergence": [g.to_dict() for g in f.convergence]}


def frontier_claims(f: ComputeFrontiers, dataset: str) -> tuple[Claim, ...]:
    out = []
    for g in f.convergence:
        kind = "measured" if g.measured else "extrapolated"
        scope = f"{dataset}, {g.compute[0]:.3g}–{g.compute[1]:.3g} FLOPs"
        for e, c in zip(g.gap, g.compute, strict=True):
            out.append(from_estimate(e, shown=pct, null=0.0, statistic="frontiers", quantity="frontier gap",
                                     subject=g.other, reference=g.leader, unit="percent", kind=kind,
                                     scope=f"{dataset}, at {c:.3g} FLOPs", at={"compute": c}))
        a, b = g.gap  # crossed: beyond noise on opposite sides of zero at the two ends
        crossed = bool((a.lo > 0 and b.hi < 0) or (a.hi < 0 and b.lo > 0))
        out.append(from_estimate(g.per_decade, shown=pct, null=0.0, statistic="frontiers",
                                 quantity="frontier gap trend", subject=g.other, reference=g.leader, unit="percent",
                                 kind=kind, scope=scope, sign_change=crossed))
    for m in f.multipliers:
        if m.stronger != f.leader:
            continue
        out.append(from_estimate(m.log_factor, shown=exp, null=0.0, statistic="frontiers", quantity="factor",
                                 subject=m.weaker, reference=m.stronger, unit="factor of compute",
                                 kind="measured" if m.measured else "extrapolated",
                                 scope=f"{dataset}, to reach {m.stronger}'s frontier loss at {m.compute:.3g} FLOPs"))
    for arch, fam in f.fitted.items():
        if "a" in fam.estimates:
            e = fam.estimates["a"]
            out.append(Claim(statistic="frontiers", quantity="optimal size exponent", subject=arch, estimate=e.value,
                             lo=e.lo, hi=e.hi, unit="exponent", null=None, scope=f"{dataset}, N* ∝ C^a"))
    return tuple(out)


@register_statistic("frontiers", order=55)
def frontiers(runs: DatasetRuns, earlier: Mapping) -> FrontierVerdict:
    fitted = runs.fitted if runs.fitted is not None else fits.fit_dataset(runs.records)
    f = fitted.frontiers
    return FrontierVerdict(f, frontier_claims(f, runs.dataset) if f is not None else ())
