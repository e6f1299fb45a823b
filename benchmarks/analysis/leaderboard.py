"""Leaderboards: per dataset × model size × data size, architectures ranked by held-out loss.

`build_leaderboard(records)` is a pure function of the results store. Each cell
(dataset, target_params, data_size) ranks the architectures that finished
(`status == "ok"`) by mean test loss over seeds, with test accuracy beside it.

Ranking with few seeds: a blocked model (log loss ~ architecture × cell) whose
seed noise is pooled over every cell of the dataset, per family (families are not
equally noisy), as a split plot (`benchmarks.analysis.seed_noise`: one init trains
at every data size, so the cells of a family do not give independent estimates of
its noise, and the degrees of freedom say so). Within a cell every pair of entries
is compared by a t-test on the difference of their mean log loss, and the pairs of
the cell are Holm-adjusted together. An entry's rank is 1 + the number of entries
better than it beyond noise; entries that share a rank are *tied* (`=`). An entry
with one seed has no interval and ties with everything. A test-loss interval is
the same noise around the entry's mean; an accuracy interval (Student t over the
entry's own seeds) is cut to [0, 100]%.

The overall table: per family, the mean rank over the cells where every family
was ranked (complete blocks), with the Nemenyi interval of a Friedman test (two
families whose intervals do not overlap differ at 95%), and its wins: cells where
it is separated from every other entry, never a tie, never a cell with one entry.
Diverged and failed runs are listed at the bottom of their cell with their status
and reason, unranked.

How a leaderboard is written out (Markdown, CSV, HTML, JSON, and JSON read back):
`benchmarks.analysis.leaderboard_formats`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats

from benchmarks.analysis.seed_noise import SplitPlotNoise, holm, one_blas_thread, run_level_of, t_p, t_quantile
from benchmarks.analysis.stats import LEVEL, Estimate, usable
from benchmarks.running.store import ResultsStore, newest, suites_in
from benchmarks.spec import RunRecord, UserError

# Spec fields that say *where* an entry sits (its cell and column) or what was tuned per
# architecture; every other spec field is part of what was measured (budget, schedule, ...).
# `dataset_as_given` is how a user spelled the path to their files: the data are the same (data_version says so).
_NOT_MEASUREMENT = frozenset({"arch", "seeds", "lr", "dataset", "dataset_as_given", "target_params", "data_size"})

MeasurementValue = str | int | float | list[float]


@dataclass(frozen=True)
class Entry:
    """One architecture in one cell."""

    arch: str
    status: str  # ok | diverged | failed
    reason: str
    rank: int | None  # None unless status is ok; 1 + the entries of its cell better than it beyond noise
    tied: bool  # another entry of its cell has the same rank (not separated from it)
    test_loss: Estimate
    test_acc: Estimate
    n_seeds: int
    params: int
    flops_per_example: float
    examples_per_s: float
    run_id: str
    created_at: str
    device: str  # e.g. "cpu ×1"; "" when the record does not say
    measurement: dict[str, MeasurementValue]  # what was measured: budget, schedule, data and results versions
    converged: bool | None = None  # every seed converged (None: the record does not say, before results v3)
    lr_at_edge: bool = False  # the chosen learning rate is the smallest or largest of the search
    seed_ids: tuple[int, ...] = ()  # the seeds of test_loss.values, in order
    log_var: float = math.nan  # variance of its mean log loss (its family's pooled seed noise); NaN: one seed
    log_df: float = 0.0  # its degrees of freedom
    separated: bool = False  # better than every other entry of its cell beyond noise (a win)


@dataclass(frozen=True)
class Cell:
    dataset: str
    target_params: int
    data_size: int
    entries: tuple[Entry, ...]  # ranked entries best first, then unranked (diverged/failed)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.dataset, self.target_params, self.data_size)

    @property
    def ranked(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.rank is not None)


@dataclass(frozen=True)
class OverallRow:
    arch: str
    mean_rank: float  # over the complete cells (every family ranked there), by mean loss; NaN without any
    cells: int  # cells where it was ranked
    wins: int  # cells where it is separated from every other entry (never a tie, never alone)
    not_ok: int  # cells where it diverged or failed
    rank_lo: float = math.nan  # Nemenyi interval of the mean rank: non-overlapping intervals differ at LEVEL
    rank_hi: float = math.nan


@dataclass(frozen=True)
class Friedman:
    """Friedman's test that the families rank alike over the complete cells, and the Nemenyi critical difference."""

    families: int
    cells: int  # complete cells (blocks): every family ranked there
    statistic: float
    p: float
    critical_difference: float  # mean ranks further apart than this differ at LEVEL (Nemenyi)


@dataclass(frozen=True)
class Leaderboard:
    suite: str
    cells: tuple[Cell, ...]  # sorted by dataset, target_params, data_size
    overall: tuple[OverallRow, ...]  # best mean rank first
    friedman: Friedman | None = None  # None with fewer than 2 families or 2 complete cells


# --------------------------------------------------------------------------- building


def measurement_of(record: RunRecord) -> dict[str, MeasurementValue]:
    """What a record measured, apart from its cell and architecture: comparable entries agree on all of it."""
    spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in record.spec.to_dict().items()}
    out: dict[str, MeasurementValue] = {k: v for k, v in sorted(spec.items()) if k not in _NOT_MEASUREMENT}
    out["data_version"] = record.data_version
    out["results_version"] = record.env.get("results_version", "")  # "" = unknown (older records)
    return out


def _device(env: dict[str, str]) -> str:
    kind, count = env.get("device_kind", ""), env.get("device_count", "")
    return f"{kind} ×{count}" if kind and count else kind


def _finite_seeds(record: RunRecord) -> list[tuple[int, float]]:
    return [(s.seed, s.test_loss) for s in record.seeds
            if s.test_loss is not None and math.isfinite(s.test_loss) and s.test_loss > 0]


def _accuracy(record: RunRecord) -> Estimate:
    """Mean test accuracy over seeds with its Student-t interval, cut to [0, 1] (where accuracy lives)."""
    values = tuple(float(s.test_acc) for s in record.seeds if s.test_acc is not None and math.isfinite(s.test_acc))
    if len(values) < 2:
        return Estimate(float(np.mean(values)) if values else math.nan, math.nan, math.nan, values)
    mean = float(np.mean(values))
    half = t_quantile(0.5 + LEVEL / 2, len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return Estimate(mean, max(0.0, mean - half), min(1.0, mean + half), values)


def _entry(record: RunRecord) -> Entry:
    status, reason = record.status, record.reason
    seeds = _finite_seeds(record)
    values = tuple(float(v) for _, v in seeds)  # its interval comes from the family's noise (`with_noise`)
    loss = Estimate(float(np.mean(values)) if values else math.nan, math.nan, math.nan, values)
    if status == "ok" and not loss.values:  # cannot be ranked: say why instead of dropping it
        status, reason = "failed", "no seed has a finite test loss"
    return Entry(
        arch=record.spec.arch,
        status=status,
        reason=reason,
        rank=None,
        tied=False,
        test_loss=loss,
        test_acc=_accuracy(record),
        n_seeds=len(loss.values) if status == "ok" else len(record.seeds),  # ok: the seeds in the mean
        params=record.params,
        flops_per_example=record.flops_per_example,
        examples_per_s=record.examples_per_s,
        run_id=record.run_id,
        created_at=record.created_at,
        device=_device(record.env),
        measurement=measurement_of(record),
        converged=record.converged,
        lr_at_edge=record.lr_at_edge,
        seed_ids=tuple(s for s, _ in seeds),
    )


def family_noise(records: Sequence[RunRecord]) -> dict[tuple[str, str], SplitPlotNoise]:
    """Per (dataset, family): its noise in log loss, seed noise pooled over its cells (runs with 2+ seeds), and
    each run's effect (its learning-rate choice) at the suite's κ (`seed_noise.run_level_of`)."""
    run = run_level_of(usable(records)[0])
    obs: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for r in records:
        seeds = _finite_seeds(r)
        if r.status == "ok" and len(seeds) > 1:
            for seed, loss in seeds:
                obs[(r.spec.dataset, r.spec.arch)].append(
                    (math.log(loss), (r.spec.target_params, r.spec.data_size), (r.spec.target_params, seed)))
    return {key: SplitPlotNoise.of(np.array([y for y, _, _ in rows]), [c for _, c, _ in rows],
                                   [p for *_, p in rows]).with_runs(run)
            for key, rows in obs.items()}


def with_noise(e: Entry, noise: SplitPlotNoise | None) -> Entry:
    """The entry's mean log loss variance from its family's noise, and its test-loss interval from it."""
    m = len(e.test_loss.values)
    if noise is None or m < 2 or not math.isfinite(noise.seed_var):
        return replace(e, test_loss=Estimate(e.test_loss.value, math.nan, math.nan, e.test_loss.values))
    plots = np.arange(m)  # one cell: each seed its own init
    var, df = SplitPlotNoise(noise.plot_ms, noise.plot_df, noise.within_ms, noise.within_df, noise.plot_trace,
                             plots, cells=np.zeros(m, int), run=noise.run).variance(np.full(m, 1 / m))
    if not math.isfinite(var):
        return replace(e, test_loss=Estimate(e.test_loss.value, math.nan, math.nan, e.test_loss.values))
    half = t_quantile(0.5 + LEVEL / 2, df) * math.sqrt(var)  # in log loss: relative, for the loss itself
    value = e.test_loss.value
    return replace(e, test_loss=Estimate(value, value * (1 - half), value * (1 + half), e.test_loss.values),
                   log_var=var, log_df=df)


def _welch(a: Entry, b: Entry) -> float:
    """Two-sided p of the difference of two entries' mean log loss; NaN where either has no noise estimate."""
    if not (math.isfinite(a.log_var) and math.isfinite(b.log_var)):
        return math.nan
    diff = _mean_log(a) - _mean_log(b)
    var = a.log_var + b.log_var
    df = var * var / (a.log_var**2 / a.log_df + b.log_var**2 / b.log_df) if var > 0 else math.inf
    return t_p(diff, var, df)


def _mean_log(e: Entry) -> float:
    return float(np.mean(np.log(e.test_loss.values)))


def rank_entries(entries: Sequence[Entry], alpha: float = 1 - LEVEL) -> tuple[Entry, ...]:
    """Rank ok entries: 1 + those better beyond noise (pairs of the cell Holm-adjusted together); ties share a rank."""
    ok = sorted((e for e in entries if e.status == "ok"), key=lambda e: (_mean_log(e), e.arch))
    rest = sorted((e for e in entries if e.status != "ok"), key=lambda e: e.arch)
    if not ok:
        return tuple(rest)
    pairs = [(i, j) for i in range(len(ok)) for j in range(i + 1, len(ok))]
    p_holm = holm([_welch(ok[i], ok[j]) for i, j in pairs])
    apart = {pair: bool(p < alpha) for pair, p in zip(pairs, p_holm, strict=True)}  # NaN: never apart
    better = [sum(apart[(i, j)] for i in range(j)) for j in range(len(ok))]  # ok is sorted by mean
    ranks = [1 + b for b in better]
    alone = len(ok) > 1 and all(apart[(0, k)] for k in range(1, len(ok)))  # the first, apart from every other
    ranked = [replace(e, rank=r, tied=ranks.count(r) > 1, separated=alone and j == 0)
              for j, (e, r) in enumerate(zip(ok, ranks, strict=True))]
    ranked.sort(key=lambda e: (e.rank, _mean_log(e), e.arch))
    return (*ranked, *rest)


@one_blas_thread
def build_leaderboard(records: Sequence[RunRecord], suite: str = "") -> Leaderboard:
    """Rank every cell of the records. Of several records for the same cell and arch, the newest counts."""
    latest = newest(records)
    noise = family_noise(latest)
    by_cell: dict[tuple[str, int, int], list[Entry]] = defaultdict(list)
    for r in latest:
        e = _entry(r)
        if e.status == "ok":
            e = with_noise(e, noise.get((r.spec.dataset, r.spec.arch)))
        by_cell[(r.spec.dataset, r.spec.target_params, r.spec.data_size)].append(e)
    cells = tuple(Cell(*key, entries=rank_entries(by_cell[key])) for key in sorted(by_cell))
    if not suite:
        suite = ", ".join(sorted({r.spec.suite for r in records if r.spec.suite}))
    overall, friedman = overall_ranks(cells)
    return Leaderboard(suite=suite, cells=cells, overall=overall, friedman=friedman)


def friedman_test(blocks_BxK: np.ndarray) -> tuple[np.ndarray, Friedman]:
    """Mean rank of each of K families over B blocks (rank 1: lowest loss; mid-ranks for ties), Friedman's test
    of equal ranks and the Nemenyi critical difference at LEVEL."""
    b, k = blocks_BxK.shape
    ranks = stats.rankdata(blocks_BxK, axis=1)
    statistic, p = stats.friedmanchisquare(*blocks_BxK.T) if k > 2 else (math.nan, math.nan)
    q = float(stats.studentized_range.ppf(LEVEL, k, np.inf)) / math.sqrt(2)
    cd = q * math.sqrt(k * (k + 1) / (6 * b))
    return ranks.mean(axis=0), Friedman(families=k, cells=b, statistic=float(statistic), p=float(p),
                                        critical_difference=cd)


def overall_ranks(cells: Sequence[Cell]) -> tuple[tuple[OverallRow, ...], Friedman | None]:
    """Each family's mean rank over the complete cells with its Nemenyi interval, its cells, wins and failures."""
    ranked: dict[str, int] = defaultdict(int)
    wins: dict[str, int] = defaultdict(int)
    not_ok: dict[str, int] = defaultdict(int)
    for cell in cells:
        for e in cell.entries:
            if e.rank is None:
                not_ok[e.arch] += 1
            else:
                ranked[e.arch] += 1
                wins[e.arch] += e.separated
    archs = sorted(set(ranked) | set(not_ok))
    in_all = sorted(ranked)
    blocks = [[next(_mean_log(e) for e in c.ranked if e.arch == a) for a in in_all] for c in cells
              if {e.arch for e in c.ranked} >= set(in_all)]
    mean_rank: dict[str, float] = {}
    half: dict[str, float] = {}
    friedman = None
    if len(in_all) > 1 and len(blocks) > 1:
        means, friedman = friedman_test(np.array(blocks))
        mean_rank = dict(zip(in_all, means.tolist(), strict=True))
        half = {a: friedman.critical_difference / 2 for a in in_all}  # cut to [1, k] below: overlaps stay as they are
    elif len(in_all) == 1 or len(blocks) == 1:
        mean_rank = dict(zip(in_all, stats.rankdata(blocks[0]).tolist(), strict=True)) if blocks else {}
    rows = [
        OverallRow(arch=a, mean_rank=mean_rank.get(a, math.nan), cells=ranked[a], wins=wins[a], not_ok=not_ok[a],
                   rank_lo=float(np.clip(mean_rank.get(a, math.nan) - half.get(a, math.nan), 1, len(in_all))),
                   rank_hi=float(np.clip(mean_rank.get(a, math.nan) + half.get(a, math.nan), 1, len(in_all))))
        for a in archs
    ]
    order = sorted(rows, key=lambda r: (math.isnan(r.mean_rank), r.mean_rank, -r.wins, r.arch))
    return tuple(order), friedman


def load_leaderboards(results_dir: str | Path, suite: str | None = None) -> list[Leaderboard]:
    """Leaderboards of a results folder: of one suite, or of every suite in it."""
    available = suites_in(results_dir)
    if suite is None:
        if not available:
            raise UserError(f"no results under {results_dir} (expected {results_dir}/<suite>/runs.jsonl)")
        return [build_leaderboard(ResultsStore(results_dir, s).records(), s) for s in available]
    records = ResultsStore(results_dir, suite).records()
    if not records:
        found = ", ".join(available) or "none"
        raise UserError(f"no records for suite {suite!r} under {results_dir} (suites there: {found})")
    return [build_leaderboard(records, suite)]
