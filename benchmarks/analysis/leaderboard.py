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

Renderers: `to_markdown`, `summary_markdown` (fits 100 columns), `to_csv`,
`to_html` (a self-contained page, or a fragment to embed), `to_json`, which
`from_json` reads back so `archbench compare` can take a leaderboard file.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.analysis.stats import intervals_overlap, mean_ci
from benchmarks.formatting import Num, fmt_estimate, html_table, human, md_table
from benchmarks.running.store import ResultsStore, newest, suites_in
from benchmarks.spec import RunRecord, UserError

JSON_FORMAT = "archbench-leaderboard/1"
FORMATS = ("md", "csv", "html", "json")
LEVEL = 0.95

# Spec fields that say *where* an entry sits (its cell and column) or what was tuned per
# architecture; every other spec field is part of what was measured (budget, schedule, ...).
_NOT_MEASUREMENT = frozenset({"arch", "seeds", "lr", "dataset", "target_params", "data_size"})

MeasurementValue = str | int | float | list[float]


@dataclass(frozen=True)
class Estimate:
    """A metric over seeds: mean and its confidence interval [lo, hi] (NaN with one seed)."""

    mean: float
    lo: float
    hi: float
    values: tuple[float, ...]  # per seed, kept so comparisons can test differences

    @classmethod
    def of(cls, values: Iterable[float]) -> Estimate:
        finite = tuple(float(v) for v in values if v is not None and math.isfinite(v))
        return cls(*mean_ci(finite, LEVEL), values=finite)

    @property
    def half_width(self) -> float:
        return self.hi - self.mean


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
    loss = Estimate.of(s.test_loss for s in record.seeds)
    if status == "ok" and not loss.values:  # cannot be ranked: say why instead of dropping it
        status, reason = "failed", "no seed has a finite test loss"
    return Entry(
        arch=record.spec.arch,
        status=status,
        reason=reason,
        rank=None,
        tied=False,
        test_loss=loss,
        test_acc=Estimate.of(s.test_acc for s in record.seeds),
        n_seeds=len(loss.values) if status == "ok" else len(record.seeds),  # ok: the seeds in the mean
        params=record.params,
        flops_per_example=record.flops_per_example,
        examples_per_s=record.examples_per_s,
        run_id=record.run_id,
        created_at=record.created_at,
        device=_device(record.env),
        measurement=measurement_of(record),
    )


def rank_entries(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    """Rank ok entries by mean test loss; those whose interval overlaps the leader's tie with it at rank 1."""
    ok = sorted((e for e in entries if e.status == "ok"), key=lambda e: (e.test_loss.mean, e.arch))
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


# --------------------------------------------------------------------------- formatting


def _rank_label(e: Entry) -> str:
    if e.rank is None:
        return "–"
    return f"={e.rank}" if e.tied else str(e.rank)


def cell_title(cell: Cell) -> str:
    return f"{cell.dataset} · {human(cell.target_params)} params · {cell.data_size:,} train examples"


def measured_on(cell: Cell) -> str:
    """One line saying what the numbers of a cell were measured on; differing values are all listed."""

    def values(get) -> str:
        seen = list(dict.fromkeys(str(get(e)) for e in cell.entries if str(get(e))))
        return " / ".join(seen) or "?"

    m = lambda key: (lambda e: e.measurement.get(key, ""))
    parts = [
        f"{values(m('steps'))} steps × batch {values(m('batch_size'))}",
        values(m("precision")),
        f"data v{values(m('data_version'))}",
        f"results v{values(m('results_version'))}",
    ]
    devices = values(lambda e: e.device)
    if devices != "?":
        parts.append(devices)
    return "measured on: " + " · ".join(parts)


def differing_measurements(entries: Sequence[Entry]) -> list[str]:
    """Measurement fields on which the entries disagree (they should not: the cell would not be fair)."""
    keys = sorted({k for e in entries for k in e.measurement})
    return [k for k in keys if len({json.dumps(e.measurement.get(k)) for e in entries}) > 1]


LEGEND = (
    f"Ranked by held-out test loss (lower is better). Numbers are mean ± half-width of the "
    f"{LEVEL:.0%} Student-t interval over seeds; `=` marks entries whose interval overlaps the "
    "leader's (tied, not ranked apart); one seed gives no interval (nan) and ties with everything."
)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _overall_md(lb: Leaderboard) -> list[str]:
    rows = [
        [o.arch, f"{o.mean_rank:.2f}" if o.cells else "—", str(o.cells), str(o.wins), str(o.not_ok)]
        for o in lb.overall
    ]
    header = ["arch", "mean rank", "cells ranked", "wins", "diverged/failed"]
    return md_table(header, rows, [False, True, True, True, True])


def _cell_md(cell: Cell, *, compact: bool = False) -> list[str]:
    rows = []
    for e in cell.entries:
        if e.rank is None:
            outcome = _md_escape(f"{e.status}: {e.reason}" if e.reason else e.status)
            if len(outcome) > 44:
                outcome = outcome[:43] + "…"
            metrics = [outcome, ""]
        else:
            metrics = [fmt_estimate(e.test_loss), fmt_estimate(e.test_acc, percent=True)]
        row = [_rank_label(e), e.arch, *metrics, str(e.n_seeds), human(e.params)]
        if not compact:
            row += [human(e.flops_per_example), human(e.examples_per_s)]
        rows.append(row)
    header = ["rank", "arch", "test loss", "test acc %", "seeds", "params"]
    right = [True, False, False, False, True, True]
    if not compact:
        header += ["FLOPs/ex", "train ex/s"]
        right += [True, True]
    lines = [f"### {cell_title(cell)}", "", measured_on(cell), ""]
    differ = differing_measurements(cell.entries)
    if differ:
        lines += [f"**warning**: entries differ in {', '.join(differ)}; this cell is not a fair comparison", ""]
    return lines + md_table(header, rows, right)


def to_markdown(lb: Leaderboard) -> str:
    """The whole leaderboard: overall mean ranks, then every cell."""
    lines = [f"# archbench leaderboard · suite `{lb.suite}`", "", LEGEND, "", "## Overall (mean rank over cells)", ""]
    lines += _overall_md(lb)
    lines += ["", "## Cells"]
    for cell in lb.cells:
        lines += ["", *_cell_md(cell)]
    return "\n".join(lines) + "\n"


def summary_markdown(lb: Leaderboard) -> str:
    """A short terminal summary: overall mean ranks and, per dataset, the cells at its largest data size."""
    largest: dict[str, int] = {}
    for c in lb.cells:
        largest[c.dataset] = max(largest.get(c.dataset, 0), c.data_size)
    lines = [f"## Leaderboard · suite `{lb.suite}` (mean rank over cells; `=` tied with the leader)", ""]
    lines += _overall_md(lb)
    for cell in lb.cells:
        if cell.data_size == largest[cell.dataset]:
            lines += ["", *_cell_md(cell, compact=True)]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "suite", "dataset", "target_params", "data_size", "rank", "tied", "arch", "status", "reason",
    "test_loss_mean", "test_loss_lo", "test_loss_hi", "test_acc_mean", "test_acc_lo", "test_acc_hi",
    "n_seeds", "params", "flops_per_example", "examples_per_s", "run_id",
)  # fmt: skip


def to_csv(lb: Leaderboard) -> str:
    """One row per entry (ranked first within each cell); empty rank for diverged/failed entries."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for c in lb.cells:
        for e in c.entries:
            w.writerow([
                lb.suite, c.dataset, c.target_params, c.data_size, "" if e.rank is None else e.rank,
                int(e.tied), e.arch, e.status, e.reason,
                e.test_loss.mean, e.test_loss.lo, e.test_loss.hi, e.test_acc.mean, e.test_acc.lo, e.test_acc.hi,
                e.n_seeds, e.params, e.flops_per_example, e.examples_per_s, e.run_id,
            ])  # fmt: skip
    return out.getvalue()


_CSS = """
.archbench-leaderboard{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;max-width:72rem}
.archbench-leaderboard table{border-collapse:collapse;margin:.4rem 0 1.4rem}
.archbench-leaderboard th,.archbench-leaderboard td{padding:.25rem .7rem;border-bottom:1px solid #d8dee4}
.archbench-leaderboard th{text-align:left;background:#f6f8fa}
.archbench-leaderboard td.num{text-align:right;font-variant-numeric:tabular-nums}
.archbench-leaderboard tr.tied td{background:#eef6ee}
.archbench-leaderboard tr.notok td{color:#8c959f;font-style:italic}
.archbench-leaderboard .note{color:#57606a}
.archbench-leaderboard .warn{color:#9a6700}
"""


def to_html(lb: Leaderboard, full_page: bool = True) -> str:
    """A self-contained HTML page (inline CSS, no scripts or external files), or a fragment to embed."""
    esc = html.escape
    parts = [f"<style>{_CSS}</style>", f"<h2>archbench leaderboard · suite {esc(lb.suite)}</h2>"]
    parts.append(f'<p class="note">{esc(LEGEND.replace("`", ""))}</p><h3>Overall (mean rank over cells)</h3>')
    overall = [[o.arch, Num(f"{o.mean_rank:.2f}" if o.cells else "—"), o.cells, o.wins, o.not_ok] for o in lb.overall]
    parts.append(html_table(["arch", "mean rank", "cells ranked", "wins", "diverged/failed"], overall))
    for c in lb.cells:
        parts.append(f"<h3>{esc(cell_title(c))}</h3><p class=note>{esc(measured_on(c))}</p>")
        differ = differing_measurements(c.entries)
        if differ:
            parts.append(f"<p class=warn>entries differ in {esc(', '.join(differ))}: not a fair comparison</p>")
        rows, classes = [], []
        for e in c.entries:
            if e.rank is None:
                metrics = [f"{e.status}: {e.reason}" if e.reason else e.status, ""]
            else:
                metrics = [Num(fmt_estimate(e.test_loss)), Num(fmt_estimate(e.test_acc, percent=True))]
            classes.append("notok" if e.rank is None else ("tied" if e.tied else ""))
            rows.append([Num(_rank_label(e)), e.arch, *metrics, e.n_seeds, Num(f"{e.params:,}"),
                         Num(human(e.flops_per_example)), Num(human(e.examples_per_s))])
        header = ["rank", "arch", "test loss", "test acc %", "seeds", "params", "FLOPs/ex", "train ex/s"]
        parts.append(html_table(header, rows, classes=classes))
    fragment = '<section class="archbench-leaderboard">' + "\n".join(parts) + "</section>"
    if not full_page:
        return fragment
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>archbench leaderboard · {esc(lb.suite)}</title></head>\n<body>{fragment}</body></html>\n"
    )


# --------------------------------------------------------------------------- JSON (read back by compare)


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None  # strict JSON has no NaN


def _unnum(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _estimate_json(est: Estimate) -> dict:
    return {"mean": _num(est.mean), "lo": _num(est.lo), "hi": _num(est.hi), "values": list(est.values)}


def _estimate_from(d: dict) -> Estimate:
    return Estimate(_unnum(d["mean"]), _unnum(d["lo"]), _unnum(d["hi"]), tuple(float(v) for v in d["values"]))


def to_json(lb: Leaderboard) -> str:
    """Strict JSON (NaN written as null): per cell the ranked entries with mean, interval, params and FLOPs."""
    doc = {
        "format": JSON_FORMAT,
        "suite": lb.suite,
        "confidence_level": LEVEL,
        "overall": [
            {"arch": o.arch, "mean_rank": _num(o.mean_rank), "cells": o.cells, "wins": o.wins, "not_ok": o.not_ok}
            for o in lb.overall
        ],
        "cells": [
            {
                "dataset": c.dataset,
                "target_params": c.target_params,
                "data_size": c.data_size,
                "entries": [
                    {
                        "rank": e.rank, "tied": e.tied, "arch": e.arch, "status": e.status, "reason": e.reason,
                        "test_loss": _estimate_json(e.test_loss), "test_acc": _estimate_json(e.test_acc),
                        "n_seeds": e.n_seeds, "params": e.params, "flops_per_example": e.flops_per_example,
                        "examples_per_s": e.examples_per_s, "run_id": e.run_id, "created_at": e.created_at,
                        "device": e.device, "measurement": e.measurement,
                    }  # fmt: skip
                    for e in c.entries
                ],
            }
            for c in lb.cells
        ],
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def from_json(text: str, source: str = "leaderboard JSON") -> Leaderboard:
    """Read back `to_json`; a file of another kind is a UserError naming `source`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{source} is not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise UserError(f"{source} is not an archbench leaderboard (expected \"format\": \"{JSON_FORMAT}\")")
    try:
        return _leaderboard_from(doc)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{source} is a damaged archbench leaderboard ({type(e).__name__}: {e})") from e


def _leaderboard_from(doc: dict) -> Leaderboard:
    cells = tuple(
        Cell(
            dataset=c["dataset"],
            target_params=int(c["target_params"]),
            data_size=int(c["data_size"]),
            entries=tuple(
                Entry(
                    arch=e["arch"], status=e["status"], reason=e["reason"], rank=e["rank"], tied=bool(e["tied"]),
                    test_loss=_estimate_from(e["test_loss"]), test_acc=_estimate_from(e["test_acc"]),
                    n_seeds=int(e["n_seeds"]), params=int(e["params"]),
                    flops_per_example=float(e["flops_per_example"]), examples_per_s=float(e["examples_per_s"]),
                    run_id=e["run_id"], created_at=e["created_at"], device=e["device"], measurement=e["measurement"],
                )  # fmt: skip
                for e in c["entries"]
            ),
        )
        for c in doc["cells"]
    )
    overall = tuple(
        OverallRow(o["arch"], _unnum(o["mean_rank"]), o["cells"], o["wins"], o["not_ok"]) for o in doc["overall"]
    )
    return Leaderboard(suite=doc["suite"], cells=cells, overall=overall)


RENDERERS = {"md": to_markdown, "csv": to_csv, "html": to_html, "json": to_json}


def render(lb: Leaderboard, fmt: str) -> str:
    return RENDERERS[fmt](lb)
