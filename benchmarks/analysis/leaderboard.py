"""Leaderboards: per dataset × model size × data size, architectures ranked by held-out loss.

`build_leaderboard(records)` is a pure function of the results store. Each cell
(dataset, target_params, data_size) ranks the architectures that finished
(`status == "ok"`) by mean test loss over seeds, with test accuracy beside it,
both as mean ± the half-width of a 95% Student-t interval (`benchmarks.analysis.stats`).
An entry whose interval overlaps the leader's is *tied* with it (rank 1, shown
`=1`) rather than ranked apart; a single seed has no interval, so it overlaps
everything and never beats anyone. Diverged and failed runs are listed at the
bottom of their cell with their status and reason, unranked. The overall table
gives each architecture's mean rank over the cells where it was ranked.

How a leaderboard is written out (Markdown, CSV, HTML, JSON, and JSON read back):
`benchmarks.analysis.leaderboard_formats`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.analysis.stats import Estimate, intervals_overlap
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
    rank: int | None  # None unless status is ok; tied entries share the leader's rank 1
    tied: bool  # interval overlaps the leader's (the leader too, when anything ties with it)
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
    mean_rank: float  # over the cells where it was ranked
    cells: int  # cells where it was ranked
    wins: int  # cells where it ranked first (alone or tied)
    not_ok: int  # cells where it diverged or failed


@dataclass(frozen=True)
class Leaderboard:
    suite: str
    cells: tuple[Cell, ...]  # sorted by dataset, target_params, data_size
    overall: tuple[OverallRow, ...]  # best mean rank first


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


def _entry(record: RunRecord) -> Entry:
    status, reason = record.status, record.reason
    loss = Estimate.over_seeds(s.test_loss for s in record.seeds)
    if status == "ok" and not loss.values:  # cannot be ranked: say why instead of dropping it
        status, reason = "failed", "no seed has a finite test loss"
    return Entry(
        arch=record.spec.arch,
        status=status,
        reason=reason,
        rank=None,
        tied=False,
        test_loss=loss,
        test_acc=Estimate.over_seeds(s.test_acc for s in record.seeds),
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
    )


def rank_entries(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    """Rank ok entries by mean test loss; those whose interval overlaps the leader's tie with it at rank 1."""
    ok = sorted((e for e in entries if e.status == "ok"), key=lambda e: (e.test_loss.value, e.arch))
    rest = sorted((e for e in entries if e.status != "ok"), key=lambda e: e.arch)
    if not ok:
        return tuple(rest)
    lead = (ok[0].test_loss.lo, ok[0].test_loss.hi)
    ranked = [ok[0]]
    for position, e in enumerate(ok[1:], start=2):
        tied = intervals_overlap(lead, (e.test_loss.lo, e.test_loss.hi))
        ranked.append(replace(e, rank=1 if tied else position, tied=tied))
    ranked[0] = replace(ok[0], rank=1, tied=any(e.tied for e in ranked[1:]))
    return (*ranked, *rest)


def build_leaderboard(records: Sequence[RunRecord], suite: str = "") -> Leaderboard:
    """Rank every cell of the records. Of several records for the same cell and arch, the newest counts."""
    by_cell: dict[tuple[str, int, int], list[Entry]] = defaultdict(list)
    for r in newest(records):
        by_cell[(r.spec.dataset, r.spec.target_params, r.spec.data_size)].append(_entry(r))
    cells = tuple(Cell(*key, entries=rank_entries(by_cell[key])) for key in sorted(by_cell))
    if not suite:
        suite = ", ".join(sorted({r.spec.suite for r in records if r.spec.suite}))
    return Leaderboard(suite=suite, cells=cells, overall=overall_ranks(cells))


def overall_ranks(cells: Sequence[Cell]) -> tuple[OverallRow, ...]:
    """Each architecture's mean rank over the cells where it was ranked."""
    ranks: dict[str, list[int]] = defaultdict(list)
    not_ok: dict[str, int] = defaultdict(int)
    for cell in cells:
        for e in cell.entries:
            if e.rank is None:
                not_ok[e.arch] += 1
            else:
                ranks[e.arch].append(e.rank)
    rows = [
        OverallRow(
            arch=arch,
            mean_rank=sum(ranks[arch]) / len(ranks[arch]) if ranks[arch] else math.nan,
            cells=len(ranks[arch]),
            wins=sum(r == 1 for r in ranks[arch]),
            not_ok=not_ok[arch],
        )
        for arch in set(ranks) | set(not_ok)
    ]
    return tuple(sorted(rows, key=lambda r: (math.isnan(r.mean_rank), r.mean_rank, -r.wins, r.arch)))


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
