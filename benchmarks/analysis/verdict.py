"""The verdict: how much of the held-out loss the architecture explains, which families differ, and how that
changes with data.

Per dataset, the usable runs become seed-level arrays (`DatasetRuns`) and every
statistic of `benchmarks/analysis/verdict_statistics/` is computed on them, in
order: the share of the variance in log test loss each factor explains beyond
seed noise (`shares`), every pair of families compared seed by seed and
Holm-adjusted (`contrasts`), the families ranked by those contrasts (`ranking`),
each family's gap to the leader at each training-set size (`gaps`) and its trend
with data (`gap_trend`), and the scope the claims rest on (`scope`). Every
statement about which families differ comes from the one set of contrasts. When
the suite holds a dataset and its `-shuffled` twin, each architecture's loss
change between the two measures how much it relies on the input order (its
inductive bias: `BiasComparison`).

Seed noise follows the design (`benchmarks.analysis.seed_noise`): an init is
shared by every data size its family and size trained at, so it is counted once.
The shares get a parametric bootstrap, the contrasts t intervals from the noise of
the pair's own seed-by-seed differences. The inductive-bias comparison keeps a
bootstrap over each run's seeds (runs sharing a seed's initialisation resampled
together), re-centred on the estimate.

Everything here is numbers; `benchmarks.analysis.verdict_text` says them in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis.seed_noise import one_blas_thread
from benchmarks.analysis.stats import LEVEL, Estimate, usable
from benchmarks.analysis.verdict_statistics import DatasetRuns, Statistic, registered
from benchmarks.spec import RunRecord

N_BOOT = 1000
SHUFFLED_SUFFIX = "-shuffled"


@dataclass(frozen=True)
class DatasetVerdict:
    """What was run on one dataset, and every statistic of it (by name, in order)."""

    dataset: str
    n_runs: int
    n_excluded: int
    archs: list[str]
    sizes: list[int]
    data_sizes: list[int]
    seeds_per_run: float
    has_intervals: bool  # False with one seed per run: no noise estimate, so no intervals and no claims
    statistics: dict[str, Statistic]

    @property
    def notes(self) -> list[str]:
        return [note for s in self.statistics.values() for note in s.notes]

    def to_dict(self) -> dict:
        out = {
            "dataset": self.dataset, "n_runs": self.n_runs, "n_excluded": self.n_excluded, "archs": self.archs,
            "sizes": self.sizes, "data_sizes": self.data_sizes, "seeds_per_run": self.seeds_per_run,
            "has_intervals": self.has_intervals,
        }
        for s in self.statistics.values():
            out |= s.to_dict()
        return out | {"notes": self.notes}


@dataclass(frozen=True)
class BiasComparison:
    """A dataset against its `-shuffled` twin: how much each architecture loses when the input order goes."""

    base: str
    shuffled: str
    change: dict[str, Estimate]  # arch -> log loss(shuffled) − log loss(base), over common runs
    leader: str  # the best architecture on the base dataset ("" with one architecture)
    advantage: dict[str, tuple[str, Estimate]]  # dataset -> (best other arch, its log loss − the leader's)

    def to_dict(self) -> dict:
        return {"base": self.base, "shuffled": self.shuffled,
                "change": {a: e.to_dict() for a, e in self.change.items()}, "leader": self.leader,
                "advantage": {ds: {"other": o, "log_loss_gap": e.to_dict()} for ds, (o, e) in self.advantage.items()}}


@dataclass(frozen=True)
class Verdict:
    datasets: list[DatasetVerdict]
    inductive_bias: list[BiasComparison]
    unusable: dict[str, int] = field(default_factory=dict)  # dataset -> runs, where every run failed or diverged
    level: float = LEVEL

    def to_dict(self) -> dict:
        return {"level": self.level, "datasets": [d.to_dict() for d in self.datasets],
                "inductive_bias": [b.to_dict() for b in self.inductive_bias], "unusable": self.unusable}


def dataset_verdict(dataset: str, runs: DatasetRuns, n_excluded: int) -> DatasetVerdict:
    """Every registered statistic of one dataset's runs, each seeing the ones computed before it."""
    statistics: dict[str, Statistic] = {}
    for statistic in registered():
        statistics[statistic.name] = statistic.compute(runs, dict(statistics))
    archs, sizes, data_sizes = runs.levels
    return DatasetVerdict(
        dataset=dataset, n_runs=len(runs.records), n_excluded=n_excluded,
        archs=list(archs), sizes=list(sizes), data_sizes=list(data_sizes), seeds_per_run=runs.seeds_per_run,
        has_intervals=runs.has_intervals, statistics=statistics,
    )


def bias_comparison(base: DatasetVerdict, base_runs: DatasetRuns, shuffled: DatasetVerdict,
                    shuffled_runs: DatasetRuns) -> BiasComparison | None:
    """Each architecture's loss change from `base` to its shuffled twin over the runs both have, and the
    base leader's advantage over the best other architecture on each."""
    runs = {base.dataset: base_runs, shuffled.dataset: shuffled_runs}
    index = {ds: {one.cell(r): i for i, r in enumerate(one.records)} for ds, one in runs.items()}
    change = {}
    for arch in sorted(set(base.archs) & set(shuffled.archs)):
        common = sorted(c for c in index[base.dataset] if c[0] == arch and c in index[shuffled.dataset])
        if common:
            d = (shuffled_runs.means_1BxR[:, [index[shuffled.dataset][c] for c in common]]
                 - base_runs.means_1BxR[:, [index[base.dataset][c] for c in common]]).mean(axis=1)
            change[arch] = Estimate.recentred(d[0], d[1:])
    if not change:
        return None
    leader = base.statistics["ranking"].leader
    advantage = {}
    for ds in runs if leader else ():
        got = runs[ds].arch_means()
        if got is None or leader not in got[0] or len(got[0]) < 2:
            continue
        archs, m, _ = got
        j = archs.index(leader)
        others = [i for i in range(len(archs)) if i != j]
        other = others[int(np.argmin(m[0, others]))]
        diff = m[:, other] - m[:, j]
        advantage[ds] = (archs[other], Estimate.recentred(diff[0], diff[1:]))
    return BiasComparison(base=base.dataset, shuffled=shuffled.dataset, change=change, leader=leader,
                          advantage=advantage)


@one_blas_thread
def verdict(records: Sequence[RunRecord], *, n_boot: int = N_BOOT, rng: int = 0) -> Verdict:
    """The verdict of a suite's records: per dataset, and per dataset/-shuffled pair."""
    gen = np.random.default_rng(rng)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.spec.dataset, []).append(r)
    per: dict[str, tuple[DatasetVerdict, DatasetRuns]] = {}
    draws: dict = {}  # one draw of seeds per group for every dataset, so a dataset and its twin pair up
    for ds, rs in sorted(by_dataset.items()):
        ok, excluded = usable(rs)
        if ok:
            runs = DatasetRuns.of(ok, n_boot, gen, draws)
            per[ds] = (dataset_verdict(ds, runs, len(excluded)), runs)
    pairs = [(ds, ds + SHUFFLED_SUFFIX) for ds in per if ds + SHUFFLED_SUFFIX in per]
    bias = [b for base, shuffled in pairs if (b := bias_comparison(*per[base], *per[shuffled])) is not None]
    unusable = {ds: len(rs) for ds, rs in sorted(by_dataset.items()) if ds not in per}
    return Verdict([v for v, _ in per.values()], bias, unusable)
