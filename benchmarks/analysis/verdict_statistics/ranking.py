"""The families ranked by their contrasts, each against the lowest: is one family clearly best?

Built on `contrasts` (the same paired, Holm-adjusted tests), so the ranking never claims a separation
the contrasts do not make; its one claim is a count (how many of the pairs without the leader separate).
The order is by how many families each has a lower mean loss than (over the
cells both ran), then by its mean log loss: in a full grid, simply the order of the mean log loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.analysis.claims import NAN, Claim
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairwiseContrasts


@dataclass(frozen=True)
class Ranking:
    ranking: tuple[tuple[str, Estimate], ...]  # arch, log loss above the leader (95% interval); leader first
    separated: tuple[str, ...] = ()  # families separated from the leader beyond noise
    unranked: tuple[str, ...] = ()  # families with no training-set size in common with the leader
    claims: tuple[Claim, ...] = ()

    @property
    def leader(self) -> str:
        return self.ranking[0][0] if self.ranking else ""

    @property
    def clear(self) -> bool:
        """The leader is separated from every other family."""
        return len(self.ranking) > 1 and len(self.separated) == len(self.ranking) - 1

    def to_dict(self) -> dict:
        return {"ranking": [{"arch": a, "log_loss_above_best": e.to_dict(), "separated": a in self.separated}
                            for a, e in self.ranking],
                "clearly_best": self.leader if self.clear else None}


@register_statistic("ranking", order=20)
def arch_ranking(runs: DatasetRuns, earlier: Mapping) -> Ranking:
    c: PairwiseContrasts = earlier["contrasts"]
    if len(runs.archs) < 2 or not c.contrasts:
        return Ranking(ranking=())
    own = {a: float(runs.y_n[runs.codes_nx3[:, 0] == i].mean()) for i, a in enumerate(runs.archs)}
    common = runs.arch_means()
    if common is not None:
        own = {a: float(m) for a, m in zip(common[0], common[1][0], strict=True)}
    wins = {a: sum(x.lower == a for x in c.contrasts) for a in runs.archs}
    order = sorted(runs.archs, key=lambda a: (-wins[a], own[a], a))
    leader = order[0]
    ranking: list[tuple[str, Estimate]] = [(leader, Estimate(0.0, 0.0, 0.0))]
    separated = []
    for a in order[1:]:
        x = c.between(a, leader)
        if x is None:
            continue
        sign = 1.0 if x.higher == a else -1.0
        e = x.difference
        ranking.append((a, Estimate(sign * e.value, *sorted((sign * e.lo, sign * e.hi)))))
        if x.separated:
            separated.append(a)
    missing = tuple(a for a in order[1:] if c.between(a, leader) is None)
    claims = (apart_claim(c, leader, len(runs.archs), runs.dataset),) if runs.has_intervals else ()
    return Ranking(ranking=tuple(ranking), separated=tuple(separated), unranked=missing, claims=claims)


def apart_claim(c: PairwiseContrasts, leader: str, families: int, dataset: str) -> Claim:
    """How many of the pairs without the leader are separated beyond noise: a count, with what it is made of."""
    with_leader = [x for x in c.contrasts if leader in (x.higher, x.lower)]
    apart = sum(x.separated for x in c.contrasts if leader not in (x.higher, x.lower))
    return Claim(statistic="ranking", quantity="pairs apart", subject=leader, estimate=float(apart), lo=NAN, hi=NAN,
                 unit="count", null=None, scope=f"{dataset}, the pairs without {leader}, Holm-adjusted",
                 at={"pairs": len(c.contrasts), "with_leader": len(with_leader), "families": families})
