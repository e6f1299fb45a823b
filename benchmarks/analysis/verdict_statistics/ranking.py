"""The architectures ranked by mean log loss over the runs every one of them has, each against the best."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_text import fmt_loss_change


@dataclass(frozen=True)
class Ranking:
    ranking: tuple[tuple[str, Estimate], ...]  # arch, log-loss excess over the best (best first); empty: no ranking
    notes: tuple[str, ...] = ()

    @property
    def leader(self) -> str:
        return self.ranking[0][0] if self.ranking else ""

    def to_dict(self) -> dict:
        return {"ranking": [{"arch": a, "log_loss_above_best": e.to_dict()} for a, e in self.ranking]}


def describe(r: Ranking, dataset) -> list[str]:
    if len(r.ranking) < 2:
        return []
    (best, _), (second, gap2) = r.ranking[0], r.ranking[1]
    last, gap_last = r.ranking[-1]
    others = (f"{fmt_loss_change(gap2)} ({second})" if len(r.ranking) == 2 else
              f"{fmt_loss_change(gap2)} ({second}) to {fmt_loss_change(gap_last)} ({last})")
    if not dataset.has_intervals:
        return [f"Lowest mean loss over the common runs: {best}; the others' loss is higher by {others}."]
    if gap2.lo > 0:
        return [f"Lowest loss over the common runs: {best}; the others' loss is higher by {others}."]
    return [f"No architecture is clearly best: {best} leads {second} by {fmt_loss_change(gap2)}, "
            "an interval that includes zero."]


@register_statistic("ranking", order=20, describe=describe)
def arch_ranking(runs: DatasetRuns, earlier: Mapping) -> Ranking:
    overall = runs.arch_means()
    if len(runs.archs) < 2 or overall is None:
        return Ranking(ranking=())
    archs, m, _ = overall
    order = np.argsort(m[0])
    return Ranking(ranking=tuple((archs[j], Estimate.recentred(m[0, j] - m[0, order[0]], m[1:, j] - m[1:, order[0]]))
                                 for j in order))
