"""A leaderboard written out: Markdown, CSV, HTML and JSON, and the JSON read back.

`to_markdown` (the whole leaderboard), `summary_markdown` (fits 100 columns),
`to_csv`, `to_html` (a self-contained page, or a fragment to embed), `to_json`,
which `from_json` reads back so `archbench compare` can take a leaderboard file.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import math
from collections.abc import Sequence

from benchmarks.analysis import language
from benchmarks.analysis.leaderboard import Cell, Entry, Friedman, Leaderboard, OverallRow
from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.formatting import Num, fmt_estimate, html_page, html_table, human, md_table
from benchmarks.spec import UserError, finite_or_null

JSON_FORMAT = "archbench-leaderboard/1"


def _rank_label(e: Entry) -> str:
    if e.rank is None:
        return "–"
    return f"={e.rank}" if e.tied else str(e.rank)


def arch_label(e: Entry) -> str:
    """The family's name with the protocol's warnings: `~` did not converge, `^` rate on an edge of the search."""
    return e.arch + (" ~" if e.converged is False else "") + (" ^" if e.lr_at_edge else "")


def fmt_accuracy(est: Estimate) -> str:
    """'75.2 ± 1.3', or '75.2 [17.4, 100.0]' where the interval was cut at 0 or 100% (no longer symmetric)."""
    if math.isfinite(est.lo) and (est.lo <= 0.0 or est.hi >= 1.0):
        return f"{100 * est.value:.1f} [{100 * est.lo:.1f}, {100 * est.hi:.1f}]"
    return fmt_estimate(est, percent=True)


def cell_title(cell: Cell) -> str:
    return f"{cell.dataset} · {human(cell.target_params)} params · {cell.data_size:,} train examples"


def measured_on(cell: Cell) -> str:
    """One line saying what the numbers of a cell were measured on; differing values are all listed."""

    def values(get) -> str:
        seen = list(dict.fromkeys(str(get(e)) for e in cell.entries if str(get(e))))
        return " / ".join(seen) or "?"

    field = lambda key: (lambda e: e.measurement.get(key, ""))
    parts = [
        f"{values(field('steps'))} steps × batch {values(field('batch_size'))}",
        values(field("precision")),
        f"data v{values(field('data_version'))}",
        f"results v{values(field('results_version'))}",
    ]
    scored = values(field("scored_at"))
    if scored not in ("?", "best_val_loss"):  # a paper's rule (docs/protocol.md): say so beside the numbers
        parts.append(f"scored at the {scored.replace('_', ' ')}")
    devices = values(lambda e: e.device)
    if devices != "?":
        parts.append(devices)
    return "measured on: " + " · ".join(parts)


def differing_measurements(entries: Sequence[Entry]) -> list[str]:
    """Measurement fields on which the entries disagree (they should not: the cell would not be fair)."""
    keys = sorted({k for e in entries for k in e.measurement})
    return [k for k in keys if len({json.dumps(e.measurement.get(k)) for e in entries}) > 1]


LEGEND = (
    "Ranked by held-out test loss (lower is better). Numbers are mean ± half-width of the "
    f"{LEVEL:.0%} interval; a test-loss interval uses the family's seed noise pooled over every cell of the dataset "
    "(inits shared across data sizes counted once), an accuracy interval the entry's own seeds, cut to [0, 100]. "
    "Rank = 1 + the entries of the cell better beyond seed noise (t-tests on log loss, Holm-adjusted over the "
    "cell's pairs); `=` marks entries that share a rank (not separated); one seed gives no interval (nan) and ties "
    "with everything. Each seed is scored at its best checkpoint on validation (at its last step where a cell says "
    "so); `~` marks a run that had not converged when its budget ended, `^` one whose learning rate is on an edge "
    "of the search (docs/protocol.md)."
)

OVERALL_NOTE = (
    "Mean rank by loss over the cells where every family was ranked, with the Nemenyi interval of a Friedman test: "
    "two families whose intervals do not overlap rank differently beyond noise (95%). Wins: cells where the family "
    "is better than every other entry beyond noise; a tie or a cell with one entry is no win."
)


def _rank_interval(o: OverallRow) -> str:
    if math.isnan(o.mean_rank):
        return "—"
    if math.isnan(o.rank_lo):
        return f"{o.mean_rank:.2f}"
    return f"{o.mean_rank:.2f} [{o.rank_lo:.2f}, {o.rank_hi:.2f}]"


def friedman_line(lb: Leaderboard) -> str:
    f = lb.friedman
    if f is None:
        return "No Friedman test: fewer than two families or two cells where every family was ranked."
    p = "n/a with two families" if math.isnan(f.p) else f"p = {f.p:.2g}"
    stat = "" if math.isnan(f.statistic) else f"χ² = {f.statistic:.3g}, "
    return (f"Friedman test over {f.cells} cells × {f.families} families: {stat}{p}; "
            f"Nemenyi critical difference {f.critical_difference:.2f}.")


def failed_line(lb: Leaderboard) -> str | None:
    """The line under the overall table that names the runs recorded `failed` (nothing measured there), or None."""
    failed = [(c, e) for c in lb.cells for e in c.entries if e.status == "failed"]
    if not failed:
        return None
    entries = sum(len(c.entries) for c in lb.cells)
    which = "; ".join(f"{e.arch} on {cell_title(c)}" for c, e in failed)
    return (f"{len(failed)} of {entries} cells (family × size × data size) failed, nothing measured: {which}. "
            "`archbench sweep SUITE --retry-failed` trains them again.")


def _with_bits(cell: Cell, e: Entry, metrics: list, cell_type=str) -> list:
    """A row's loss and accuracy, with the loss in bits between them for a next-token dataset
    (`language.loss_header`); empty there for an entry without a loss."""
    nats = e.test_loss.value if e.rank is not None else None
    return [metrics[0], *(cell_type(b) if nats is not None else "" for b in language.in_bits(cell.dataset, nats)),
            *metrics[1:]]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


OVERALL_HEADER = ["arch", "mean rank [95%]", "cells ranked", "wins", "diverged/failed"]


def _overall_md(lb: Leaderboard) -> list[str]:
    rows = [[o.arch, _rank_interval(o), str(o.cells), str(o.wins), str(o.not_ok)] for o in lb.overall]
    return md_table(OVERALL_HEADER, rows, [False, True, True, True, True])


def _cell_md(cell: Cell, *, compact: bool = False) -> list[str]:
    rows = []
    for e in cell.entries:
        if e.rank is None:
            outcome = _md_escape(f"{e.status}: {e.reason}" if e.reason else e.status)
            if len(outcome) > 44:
                outcome = outcome[:43] + "…"
            metrics = [outcome, ""]
        else:
            metrics = [fmt_estimate(e.test_loss), fmt_accuracy(e.test_acc)]
        row = [_rank_label(e), arch_label(e), *_with_bits(cell, e, metrics), str(e.n_seeds), human(e.params)]
        if not compact:
            row += [human(e.flops_per_example), human(e.examples_per_s)]
        rows.append(row)
    loss = language.loss_header(cell.dataset)
    header = ["rank", "arch", *loss, "test acc %", "seeds", "params"]
    right = [True, False, *[False] * len(loss), False, True, True]
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
    lines = [f"# archbench leaderboard · suite `{lb.suite}`", "", LEGEND, "", "## Overall (mean rank over cells)", "",
             OVERALL_NOTE, "", friedman_line(lb), ""]
    lines += _overall_md(lb)
    if failed := failed_line(lb):
        lines += ["", _md_escape(failed)]
    lines += ["", "## Cells"]
    for cell in lb.cells:
        lines += ["", *_cell_md(cell)]
    return "\n".join(lines) + "\n"


def summary_markdown(lb: Leaderboard) -> str:
    """A short terminal summary: overall mean ranks and, per dataset, the cells at its largest data size."""
    largest: dict[str, int] = {}
    for c in lb.cells:
        largest[c.dataset] = max(largest.get(c.dataset, 0), c.data_size)
    lines = [f"## Leaderboard · suite `{lb.suite}` (mean rank over complete cells; `=` not separated)", ""]
    entries = [e for c in lb.cells for e in c.entries if e.status == "ok"]
    unconverged = sum(e.converged is False for e in entries)
    edge = sum(e.lr_at_edge for e in entries)
    if unconverged or edge:
        lines += [f"{unconverged} of {len(entries)} runs had not converged when their budget ended (`~`); "
                  f"{edge} chose a learning rate on an edge of the search (`^`).", ""]
    lines += _overall_md(lb)
    if failed := failed_line(lb):
        lines += ["", _md_escape(failed)]
    lines += ["", friedman_line(lb)]
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
                e.test_loss.value, e.test_loss.lo, e.test_loss.hi, e.test_acc.value, e.test_acc.lo, e.test_acc.hi,
                e.n_seeds, e.params, e.flops_per_example, e.examples_per_s, e.run_id,
            ])  # fmt: skip
    return out.getvalue()


def to_html(lb: Leaderboard, full_page: bool = True) -> str:
    """A self-contained HTML page (inline CSS, no scripts or external files), or a fragment to embed in one."""
    esc = html.escape
    parts = [f"<h2>archbench leaderboard · suite {esc(lb.suite)}</h2>"]
    parts.append(f'<p class="note">{esc(LEGEND.replace("`", ""))}</p><h3>Overall (mean rank over cells)</h3>')
    parts.append(f'<p class="note">{esc(OVERALL_NOTE)} {esc(friedman_line(lb))}</p>')
    overall = [[o.arch, Num(_rank_interval(o)), o.cells, o.wins, o.not_ok] for o in lb.overall]
    parts.append(html_table(OVERALL_HEADER, overall))
    if failed := failed_line(lb):
        parts.append(f"<p class=warn>{esc(failed.replace('`', ''))}</p>")
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
                metrics = [Num(fmt_estimate(e.test_loss)), Num(fmt_accuracy(e.test_acc))]
            classes.append("bad" if e.rank is None else ("tied" if e.tied else ""))
            rows.append([Num(_rank_label(e)), arch_label(e), *_with_bits(c, e, metrics, Num), e.n_seeds,
                         Num(f"{e.params:,}"), Num(human(e.flops_per_example)), Num(human(e.examples_per_s))])
        header = ["rank", "arch", *language.loss_header(c.dataset), "test acc %", "seeds", "params", "FLOPs/ex",
                  "train ex/s"]
        parts.append(html_table(header, rows, classes=classes))
    fragment = '<section class="archbench-leaderboard">' + "\n".join(parts) + "</section>"
    return html_page(f"archbench leaderboard · {lb.suite}", fragment) if full_page else fragment


# --------------------------------------------------------------------------- JSON (read back by compare)


def _unnum(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _estimate_json(est: Estimate) -> dict:
    return {"mean": finite_or_null(est.value), "lo": finite_or_null(est.lo), "hi": finite_or_null(est.hi),
            "values": list(est.values)}


def _estimate_from(d: dict) -> Estimate:
    return Estimate(_unnum(d["mean"]), _unnum(d["lo"]), _unnum(d["hi"]), tuple(float(v) for v in d["values"]))


def to_json(lb: Leaderboard) -> str:
    """Strict JSON (NaN written as null): per cell the ranked entries with mean, interval, params and FLOPs."""
    doc = {
        "format": JSON_FORMAT,
        "suite": lb.suite,
        "confidence_level": LEVEL,
        "overall": [
            {"arch": o.arch, "mean_rank": finite_or_null(o.mean_rank), "cells": o.cells, "wins": o.wins, "not_ok": o.not_ok,
             "rank_lo": finite_or_null(o.rank_lo), "rank_hi": finite_or_null(o.rank_hi)}
            for o in lb.overall
        ],
        "friedman": None if lb.friedman is None else finite_or_null(dataclasses.asdict(lb.friedman)),
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
                        "converged": e.converged, "lr_at_edge": e.lr_at_edge, "seed_ids": list(e.seed_ids),
                        "log_var": finite_or_null(e.log_var), "log_df": e.log_df, "separated": e.separated,
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
                    converged=e.get("converged"), lr_at_edge=bool(e.get("lr_at_edge", False)),
                    seed_ids=tuple(int(s) for s in e.get("seed_ids", ())), log_var=_unnum(e.get("log_var")),
                    log_df=float(e.get("log_df", 0.0)), separated=bool(e.get("separated", False)),
                )  # fmt: skip
                for e in c["entries"]
            ),
        )
        for c in doc["cells"]
    )
    overall = tuple(
        OverallRow(o["arch"], _unnum(o["mean_rank"]), o["cells"], o["wins"], o["not_ok"], _unnum(o.get("rank_lo")),
                   _unnum(o.get("rank_hi")))
        for o in doc["overall"]
    )
    f = doc.get("friedman")
    friedman = None if f is None else Friedman(f["families"], f["cells"], _unnum(f["statistic"]), _unnum(f["p"]),
                                               _unnum(f["critical_difference"]))
    return Leaderboard(suite=doc["suite"], cells=cells, overall=overall, friedman=friedman)


RENDERERS = {"md": to_markdown, "csv": to_csv, "html": to_html, "json": to_json}


def render(lb: Leaderboard, fmt: str) -> str:
    return RENDERERS[fmt](lb)
