"""The verdict: how much of the held-out loss the architecture explains, which families differ, and how that
changes with data.

Per dataset, the usable runs become seed-level arrays (`DatasetRuns`) and every
statistic of `benchmarks/analysis/verdict_statistics/` is computed on them, in
order: the share of the variance in log test loss each factor explains beyond
seed noise (`shares`), every pair of families compared seed by seed and
Holm-adjusted (`contrasts`), the families ranked by those contrasts (`ranking`),
each family's gap to the leader at each training-set size (`gaps`) and its trend
with data (`gap_trend`), the fits' statistics, and the scope the claims rest on
(`scope`). Every statement about which families differ comes from the one set of
contrasts. Then the statistics of the suite (`over="suite"`), once, from every
dataset's runs: for each pair of datasets the suite declares as a contrast (MNIST-1D
and its shuffled twin, your data and a corrupted copy), what the variant does to
each architecture's loss and to the gaps between them (`dataset_contrasts`), and
for each dataset run at quality levels, what each level does (`quality`).

Noise follows one model (`benchmarks.analysis.seed_noise`): an init is shared by
every data size its family and size trained at, so it is counted once; and every
run carries an effect of its own, the learning rate its search chose, of variance
κ·s² with κ estimated once for the suite (`run_level_of`) and read by the fits
and by every statistic. The shares get a parametric bootstrap (seed noise only),
the pairwise contrasts and the declared dataset contrasts t intervals from the
noise of the seed-by-seed differences plus the runs' effects.

Everything here is numbers and claims (`benchmarks.analysis.claims`); `benchmarks.analysis.verdict_words`
says them in words. Records are put in a canonical order (`stats.usable`) and every draw is keyed by
content, so the verdict does not depend on the order of the lines in runs.jsonl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from benchmarks import data
from benchmarks.analysis import fits
from benchmarks.analysis.claims import Claim
from benchmarks.analysis.seed_noise import one_blas_thread, run_level_of
from benchmarks.analysis.stats import LEVEL, usable
from benchmarks.analysis.verdict_statistics import DatasetRuns, Statistic, SuiteRuns, registered
from benchmarks.analysis.verdict_statistics.dataset_contrasts import ContrastEffect
from benchmarks.analysis.verdict_statistics.quality import QualityAxis
from benchmarks.spec import DatasetContrast, RunRecord

N_BOOT = 1000


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
    def claims(self) -> list[Claim]:
        """Every statistic's claims, in the statistics' order."""
        return [c for s in self.statistics.values() for c in s.claims]

    def to_dict(self) -> dict:
        out = {
            "dataset": self.dataset, "n_runs": self.n_runs, "n_excluded": self.n_excluded, "archs": self.archs,
            "sizes": self.sizes, "data_sizes": self.data_sizes, "seeds_per_run": self.seeds_per_run,
            "has_intervals": self.has_intervals,
        }
        for s in self.statistics.values():
            out |= s.to_dict()
        return out | {"claims": [c.to_dict() for c in self.claims]}


@dataclass(frozen=True)
class Verdict:
    datasets: list[DatasetVerdict]
    statistics: dict[str, Statistic] = field(default_factory=dict)  # the suite's statistics (over="suite"), by name
    unusable: dict[str, int] = field(default_factory=dict)  # dataset -> runs, where every run failed or diverged
    level: float = LEVEL
    unmatched: list[Unmatched] = field(default_factory=list)  # declared contrasts with a side that has no records

    @property
    def contrasts(self) -> list[ContrastEffect]:
        """The declared contrasts whose two datasets both have usable runs."""
        s = self.statistics.get("dataset_contrasts")
        return list(s.effects) if s is not None else []

    @property
    def quality(self) -> list[QualityAxis]:
        """The datasets run at quality levels, each level against the clean one."""
        s = self.statistics.get("quality")
        return list(s.axes) if s is not None else []

    def to_dict(self) -> dict:
        out = {"level": self.level, "datasets": [d.to_dict() for d in self.datasets], "unusable": self.unusable}
        for s in self.statistics.values():
            out |= s.to_dict()
        unmatched = [u.to_dict() for u in self.unmatched]
        return out | ({"unmatched_contrasts": unmatched} if unmatched else {})


@dataclass(frozen=True)
class Unmatched:
    """A declared contrast that no records answer: `missing` names its sides found neither by name nor by
    content among the records (said in the verdict, never dropped without a word)."""

    contrast: DatasetContrast
    missing: tuple[str, ...]

    def to_dict(self) -> dict:
        return self.contrast.to_dict() | {"missing": list(self.missing)}


def _content_version(name: str) -> str | None:
    """The version of a dataset's arrays (its content, for your files), or None where it cannot be known now
    (files moved away, a hub dataset not cached)."""
    try:
        return data.version(name)
    except Exception:  # noqa: BLE001 - any failure to name the content leaves the side unmatched, and said so
        return None


def bind_contrasts(contrasts: Sequence[DatasetContrast], by_dataset: dict[str, list[RunRecord]],
                   ) -> tuple[list[DatasetContrast], list[Unmatched]]:
    """Each declared contrast bound to the records' datasets by name, else by content identity (the data version
    a record was trained on): the same files reached by another path, or copied elsewhere, are the same dataset
    (issue 28). A side that matches nothing leaves the contrast unmatched."""
    by_version: dict[str, str] = {}
    for ds, rs in sorted(by_dataset.items()):
        for r in rs:
            if r.data_version:
                by_version.setdefault(r.data_version, ds)

    def bind(name: str) -> str | None:
        if name in by_dataset:
            return name
        version = _content_version(name)
        return by_version.get(version) if version else None

    bound, unmatched = [], []
    for c in contrasts:
        base, variant = bind(c.base), bind(c.variant)
        if base is not None and variant is not None:
            bound.append(replace(c, base=base, variant=variant))
        else:
            unmatched.append(Unmatched(c, tuple(n for n, b in ((c.base, base), (c.variant, variant)) if b is None)))
    return bound, unmatched


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


@one_blas_thread
def verdict(records: Sequence[RunRecord], *, n_boot: int = N_BOOT, rng: int = 0,
            contrasts: Sequence[DatasetContrast] = (), fitted: dict[str, fits.DatasetFits] | None = None) -> Verdict:
    """The verdict of a suite's records: every statistic per dataset, then every statistic of the suite (per
    declared contrast between two of its datasets, per dataset run at quality levels).

    `fitted`: the datasets' fits where the caller has them (the report), so nothing is fitted twice."""
    fitted = dict(fitted) if fitted is not None else fits.fit_datasets(records)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.spec.dataset, []).append(r)
    per: dict[str, tuple[DatasetVerdict, DatasetRuns]] = {}
    draws: dict = {}  # one draw of seeds per group for every dataset, so the two datasets of a contrast pair up
    run = run_level_of(usable(records)[0])  # the suite's run-level noise, as the fits have it
    for ds, rs in sorted(by_dataset.items()):
        ok, excluded = usable(rs)
        if ok:
            runs = DatasetRuns.of(ok, n_boot, rng, draws, dataset=ds, fitted=fitted.get(ds), run=run)
            per[ds] = (dataset_verdict(ds, runs, len(excluded)), runs)
    bound, unmatched = bind_contrasts(contrasts, by_dataset)
    suite = SuiteRuns({ds: runs for ds, (_, runs) in per.items()}, tuple(bound),
                      {ds: v.statistics for ds, (v, _) in per.items()})
    statistics: dict[str, Statistic] = {}
    for statistic in registered("suite"):
        statistics[statistic.name] = statistic.compute(suite, dict(statistics))
    unusable = {ds: len(rs) for ds, rs in sorted(by_dataset.items()) if ds not in per}
    return Verdict([v for v, _ in per.values()], statistics, unusable, unmatched=unmatched)
