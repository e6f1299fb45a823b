"""The gap between the best and the worst architecture at each training-set size, and the gap seed
noise alone would produce there (its noise floor)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis.stats import Estimate, expected_range
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_text import fmt_loss_change, pct


@dataclass(frozen=True)
class Gap:
    """Best vs worst architecture at one training-set size, in log loss (mean over model sizes)."""

    data_size: int
    gap: Estimate
    best: str
    worst: str
    noise_floor: float  # the gap seed noise alone would produce here

    def to_dict(self) -> dict:
        return {"data_size": self.data_size, "gap": self.gap.to_dict(), "best": self.best, "worst": self.worst,
                "noise_floor": self.noise_floor}


@dataclass(frozen=True)
class Gaps:
    gaps: tuple[Gap, ...]  # by increasing data size; empty with one architecture
    values_1BxG: np.ndarray = field(repr=False)  # each gap observed (row 0), then its B replicates
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"gaps": [g.to_dict() for g in self.gaps]}


def describe(g: Gaps, dataset) -> list[str]:
    if not g.gaps:
        return []
    at = [f"{fmt_loss_change(x.gap)} at {x.data_size:,}" for x in g.gaps]
    noise = f" (seed noise alone would give about {pct(g.gaps[-1].noise_floor):.2g}%)" if dataset.has_intervals else ""
    return [f"The worst architecture's loss exceeds the best one's by {', '.join(at)} training examples{noise}."]


@register_statistic("gaps", order=30, describe=describe)
def gaps_by_data_size(runs: DatasetRuns, earlier: Mapping) -> Gaps:
    archs = runs.archs
    gaps, values = [], []
    if len(archs) > 1 and runs.arch_means() is not None:
        for d in runs.levels[2]:
            at = runs.arch_means(d)
            if at is None:
                continue
            _, m, n_cells = at
            g = m.max(axis=1) - m.min(axis=1)
            values.append(g)
            # the gap seed noise alone would give: the expected range of the archs' means over n_cells runs each
            floor = expected_range(len(archs)) * runs.seed_sd / np.sqrt(runs.seeds_per_run * n_cells)
            gaps.append(Gap(data_size=d, gap=Estimate.recentred(g[0], g[1:]), best=archs[int(m[0].argmin())],
                            worst=archs[int(m[0].argmax())], noise_floor=float(floor)))
    return Gaps(gaps=tuple(gaps), values_1BxG=np.stack(values, axis=1) if values else np.zeros((1, 0)))
