"""Each family against the one with the lowest loss, at each training-set size: how far behind, with its interval.

The leader is the ranking's. Each gap is the mean, over the model sizes both ran at that data size, of
the seed-by-seed log-loss difference (other minus leader; `contrasts.PairedDifferences`), with its own
95% interval (init and seed noise of the pair's differences). A gap per family, never the best minus the
worst alone: the worst family at one size is often not the worst at another, and a single spread says
nothing about the families between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairedDifferences
from benchmarks.analysis.verdict_statistics.ranking import Ranking
from benchmarks.analysis.wording import number


@dataclass(frozen=True)
class Gap:
    """One family's log loss above the leader's at one training-set size (mean over the model sizes both ran)."""

    other: str
    data_size: int
    gap: Estimate

    def to_dict(self) -> dict:
        return {"other": self.other, "data_size": self.data_size, "log_loss_above_leader": self.gap.to_dict()}


@dataclass(frozen=True)
class Gaps:
    leader: str
    gaps: tuple[Gap, ...]  # by family (ranking order), then data size
    claims: tuple[Claim, ...] = ()

    def of(self, other: str) -> tuple[Gap, ...]:
        return tuple(g for g in self.gaps if g.other == other)

    @property
    def others(self) -> list[str]:
        return list(dict.fromkeys(g.other for g in self.gaps))

    def to_dict(self) -> dict:
        return {"gaps_leader": self.leader, "gaps": [g.to_dict() for g in self.gaps]}


def pair_gaps(runs: DatasetRuns, other: str, leader: str) -> tuple[Gap, ...]:
    pd = PairedDifferences.of(runs, other, leader)
    if pd is None:
        return ()
    return tuple(Gap(other=other, data_size=d, gap=pd.estimate(pd.mean_weights(d))[0]) for d in pd.data_sizes)


def gaps_table(claims: Sequence[Claim]) -> list[Table]:
    """Each family's loss above the leader's, a column per training-set size (its claims' numbers)."""
    gaps = [c for c in claims if c.quantity == "gap"]
    if not gaps:
        return []
    sizes = sorted({c.at["data_size"] for c in gaps})
    cell = {(c.subject, c.at["data_size"]): number(c) for c in gaps}
    rows = tuple((f, *(cell.get((f, d), "—") for d in sizes)) for f in dict.fromkeys(c.subject for c in gaps))
    return [Table(f"Loss above {gaps[0].reference}'s, by training-set size",
                  ("family", *(f"{d:,} examples" for d in sizes)), rows,
                  "Mean over the model sizes both ran, paired by seed; 95% intervals.")]


@register_statistic("gaps", order=30, table=gaps_table)
def gaps_by_data_size(runs: DatasetRuns, earlier: Mapping) -> Gaps:
    ranking: Ranking = earlier["ranking"]
    if len(ranking.ranking) < 2:
        return Gaps(leader=ranking.leader, gaps=())
    gaps = [g for other, _ in ranking.ranking[1:] for g in pair_gaps(runs, other, ranking.leader)]
    if len(runs.levels[2]) == 1:  # at one data size a gap is its pair's contrast: one estimate, one interval (its)
        return Gaps(leader=ranking.leader, gaps=tuple(gaps))
    claims = tuple(from_estimate(g.gap, shown=pct, null=0.0, statistic="gaps", quantity="gap", subject=g.other,
                                 reference=ranking.leader, unit="percent", scope=f"{runs.dataset}, {g.data_size:,} "
                                 "training examples, mean over the model sizes both ran", at={"data_size": g.data_size})
                   for g in gaps)
    return Gaps(leader=ranking.leader, gaps=tuple(gaps), claims=claims)
