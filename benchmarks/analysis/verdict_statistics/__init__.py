"""The statistics of the verdict: one module per statistic, each registered with `register_statistic`.

A statistic reads one dataset's runs (`DatasetRuns`: every seed's log test loss, its
factor levels, its bootstrap replicates and the dataset's fitted curves), or, registered
`over="suite"`, every dataset's runs and the contrasts the suite declares between them
(`SuiteRuns`: the dataset contrasts, the quality levels), and returns a frozen data class of
numbers with their intervals, and its `claims` (`benchmarks.analysis.claims`): what it
states, as data. It writes no words: the verdict's words come from the claims alone
(`benchmarks.analysis.wording`). Every module in this folder is imported on first use;
`benchmarks.analysis.verdict` computes the statistics in `order`, and fits.json and the
report pick each one up:

    fits.json    its `to_dict()` entries and its claims, in the dataset's verdict (the suite's, `over="suite"`)
    report.html  its claims: in the headline and bullets where they carry the answer, and as its `table`
                 (a function of its claims alone, registered with it)

How to write one: docs/adding-a-statistic.md.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from benchmarks.analysis.claims import Claim
from benchmarks.analysis.seed_noise import RunLevel
from benchmarks.analysis.stats import keyed_rng, resample_seeds, run_log_losses, seed_group
from benchmarks.spec import DatasetContrast, RunRecord

if TYPE_CHECKING:
    from benchmarks.analysis.fits import DatasetFits

FACTORS = ("architecture", "model size", "data size")


@dataclass(frozen=True)
class DatasetRuns:
    """The usable runs of one dataset as seed-level arrays: n observations (seeds) of R runs, and B
    bootstrap replicates of them (B = 0 with one seed per run: no noise estimate, no intervals).

    A replicate resamples each run's seeds (init and seed noise) and adds a run effect of its own, drawn
    with the suite's run-level noise (`seed_noise.RunLevel`: variance κ·s², s² the family's seed variance on
    this dataset, κ drawn per replicate from its sampling distribution), so the replicates carry the one
    noise model every statistic uses. Each run's draw is keyed by its content, never by its place."""

    records: list[RunRecord]
    levels: list[list]  # per factor of FACTORS: the sorted levels (arch names, target params, data sizes)
    codes_nx3: np.ndarray  # factor level index of each observation
    run_n: np.ndarray  # run index of each observation
    y_n: np.ndarray  # log test loss of each observation
    seeds: list[np.ndarray]  # per run: its seeds' log losses
    y_Bxn: np.ndarray  # bootstrap replicates of y: the seeds of each run resampled, shared seeds together
    means_1BxR: np.ndarray  # mean log loss of each run: observed (row 0), then the B replicates
    seed_n: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # seed id of each observation
    dataset: str = ""  # the dataset's name, for the claims' scope (never for a random draw)
    fitted: DatasetFits | None = None  # its fitted curves, computed once (`benchmarks.analysis.fits`)
    run: RunLevel = field(default_factory=RunLevel)  # the noise a run's seeds share (its learning-rate choice)

    @classmethod
    def of(cls, records: Sequence[RunRecord], n_boot: int, rng: np.random.Generator | int, draws: dict, *,
           dataset: str = "", fitted: DatasetFits | None = None, run: RunLevel | None = None) -> DatasetRuns:
        """`draws` holds one draw of seeds per seed group across datasets, so a dataset and its twin pair up;
        with an integer `rng` each group's draw is keyed by the group's content (`stats.resample_seeds`)."""
        keys = [lambda r: r.spec.arch, lambda r: r.spec.target_params, lambda r: r.spec.data_size]
        levels = [sorted({key(r) for r in records}) for key in keys]
        seeds = [run_log_losses(r) for r in records]
        seed_ids = [np.array([s.seed for s in r.seeds if s.test_loss is not None and np.isfinite(s.test_loss)
                              and s.test_loss > 0], dtype=int) for r in records]
        codes = np.array([[lv.index(key(r)) for lv, key in zip(levels, keys, strict=True)]
                          for r, s in zip(records, seeds, strict=True) for _ in s], dtype=int).reshape(-1, 3)
        run_n = np.repeat(np.arange(len(records)), [s.size for s in seeds])
        n_boot = n_boot if any(s.size > 1 for s in seeds) else 0
        groups = [seed_group(r) for r in records]
        y_Bxn = np.concatenate(resample_seeds(seeds, n_boot, rng, groups, draws), axis=1)
        y_n = np.concatenate(seeds)
        average_nxR = np.eye(len(records))[run_n]
        run_means = lambda y: (y @ average_nxR) / average_nxR.sum(axis=0)
        run = run if run is not None else RunLevel()
        effects_BxR = run_effects(records, seeds, run, n_boot, rng)
        means = np.concatenate([run_means(y_n[None]), run_means(y_Bxn) + effects_BxR])
        return cls(list(records), levels, codes, run_n, y_n, seeds, y_Bxn, means, np.concatenate(seed_ids),
                   dataset, fitted, run)

    def subset(self, keep: Callable[[RunRecord], bool]) -> DatasetRuns | None:
        """The runs `keep` accepts, without bootstrap replicates (for statistics with intervals of their own);
        None where it accepts none."""
        kept = [r for r in self.records if keep(r)]
        return DatasetRuns.of(kept, 0, 0, {}, dataset=self.dataset, run=self.run) if kept else None

    @property
    def plot_n(self) -> list[tuple]:
        """The init of each observation: (family, model size, seed). One init trains at every data size of
        its family and size, so seeds of one plot share its effect (`benchmarks.analysis.seed_noise`)."""
        return [(int(a), int(n), int(s)) for (a, n, _), s in zip(self.codes_nx3, self.seed_n, strict=True)]

    @property
    def archs(self) -> list[str]:
        return self.levels[0]

    @property
    def has_intervals(self) -> bool:
        """False with one seed per run: no estimate of seed noise, so no intervals and no claims."""
        return any(s.size > 1 for s in self.seeds)

    @property
    def seeds_per_run(self) -> float:
        return float(np.mean([s.size for s in self.seeds]))

    @property
    def seed_sd(self) -> float:
        """Seed noise: the pooled within-run standard deviation (runs weighted by their degrees of freedom)."""
        multi = [s for s in self.seeds if s.size > 1]
        if not multi:
            return float("nan")
        return float(np.sqrt(sum((s.size - 1) * s.var(ddof=1) for s in multi) / sum(s.size - 1 for s in multi)))

    def arch_means(self, data_size: int | None = None) -> tuple[list[str], np.ndarray, int] | None:
        """Mean log loss of each arch, (1 + B, archs), over the (size, data size) cells every arch has run
        (at one data size, or all), and how many such cells there are; None where there is none."""
        cells: dict[tuple, dict[str, int]] = {}
        for i, r in enumerate(self.records):
            if data_size is None or r.spec.data_size == data_size:
                cells.setdefault((r.spec.target_params, r.spec.data_size), {})[r.spec.arch] = i
        common = [c for c in cells.values() if len(c) == len(self.archs)]
        if not common:
            return None
        means = np.stack([self.means_1BxR[:, [c[a] for c in common]].mean(axis=1) for a in self.archs], axis=1)
        return self.archs, means, len(common)

    def cell(self, r: RunRecord) -> tuple:
        return r.spec.arch, r.spec.target_params, r.spec.data_size


def run_effects(records: Sequence[RunRecord], seeds: Sequence[np.ndarray], run: RunLevel, n_boot: int,
                rng: np.random.Generator | int) -> np.ndarray:
    """(B, R) run effects for the bootstrap replicates: N(0, κ·s²) per run, s² its family's pooled seed variance,
    with one κ per replicate drawn as a Student-t variance is (scaled inverse χ² with κ's df). Keyed by each
    run's content and by `rng` (an integer) alone; zeros where κ is 0 or there is no replicate."""
    out = np.zeros((n_boot, len(records)))
    if run.ratio == 0 or n_boot == 0:
        return out
    key = rng if isinstance(rng, int) else 0
    pooled: dict[str, list[np.ndarray]] = {}
    for r, s in zip(records, seeds, strict=True):
        pooled.setdefault(r.spec.arch, []).append(s)
    s2 = {}
    for arch, ss in pooled.items():
        df = sum(x.size - 1 for x in ss if x.size > 1)
        s2[arch] = sum((x.size - 1) * x.var(ddof=1) for x in ss if x.size > 1) / df if df else 0.0
    df = run.effective_df
    chi = keyed_rng("run level", key, n_boot).chisquare(df, size=n_boot) if np.isfinite(df) else None
    scale_B = np.sqrt(df / chi) if chi is not None else np.ones(n_boot)
    for j, r in enumerate(records):
        z = keyed_rng("run effect", key, r.data_version or r.spec.dataset, r.spec.arch, r.spec.target_params,
                      r.spec.data_size, n_boot).standard_normal(n_boot)
        out[:, j] = scale_B * np.sqrt(run.ratio * s2[r.spec.arch]) * z
    return out


@dataclass(frozen=True)
class SuiteRuns:
    """What a statistic over several datasets reads: every dataset's runs (each with its fitted curves, and
    bootstrap replicates drawn so that a dataset and its twin pair up), the contrasts the suite declares
    between them, bound to the records' datasets, and each dataset's statistics (computed once, never again)."""

    datasets: dict[str, DatasetRuns]  # by name, sorted
    contrasts: tuple[DatasetContrast, ...] = ()
    statistics: dict[str, dict[str, Statistic]] = field(default_factory=dict)  # by dataset: its statistics, by name


class Statistic(Protocol):
    """What a statistic's data class offers: its fits.json entries and its claims."""

    @property
    def claims(self) -> Sequence[Claim]: ...

    def to_dict(self) -> dict: ...


@dataclass(frozen=True)
class Table:
    """A statistic's table in the report, made from its claims: a title, a line on how to read it, rows of text."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


Compute = Callable[[Any, Mapping[str, Any]], Statistic]  # (DatasetRuns or SuiteRuns, earlier) -> statistic
TableOf = Callable[[Sequence[Claim]], Sequence[Table]]


@dataclass(frozen=True)
class RegisteredStatistic:
    name: str
    order: int  # statistics are computed, stored and shown in this order
    compute: Compute  # compute(runs, earlier): `earlier` holds the statistics of lower order, by name
    group: str = "checks"  # the verdict's group of bullets its claims go under (families, data, size, compute, checks)
    over: str = "dataset"  # "dataset": computed per dataset from DatasetRuns; "suite": once, from SuiteRuns
    table: TableOf | None = None  # its tables in the report, from its claims alone


_REGISTRY: dict[str, RegisteredStatistic] = {}
OVER = ("dataset", "suite")


def register_statistic(name: str, *, order: int, group: str = "checks", over: str = "dataset",
                       table: TableOf | None = None) -> Callable[[Compute], Compute]:
    """Decorator: register `compute(runs, earlier) -> data class with claims` as the verdict statistic `name`,
    computed per dataset (`over="dataset"`, runs a DatasetRuns) or once for the suite (`over="suite"`, runs a
    SuiteRuns); its claims are said under `group` of the verdict's bullets, and `table(claims)` draws its tables."""
    if over not in OVER:
        raise ValueError(f"a statistic is computed over one of {OVER}: {over!r}")

    def decorate(compute: Compute) -> Compute:
        _REGISTRY[name] = RegisteredStatistic(name, order, compute, group, over, table)
        return compute

    return decorate


@functools.cache
def _import_statistics() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def registered(over: str = "dataset") -> list[RegisteredStatistic]:
    """Every statistic of this folder computed over `over`, in order."""
    _import_statistics()
    return sorted((s for s in _REGISTRY.values() if s.over == over), key=lambda s: (s.order, s.name))
