"""`archbench report SUITE`: scaling fits, plots, the verdict and one self-contained HTML page.

Writes under `results/SUITE/`: `fits.json` (every fit and the verdict, the declared
contrasts between datasets included),
`plots/SLUG-loss-vs-{params,data,compute}.png` (SLUG: the dataset's
name made safe for a file name, `benchmarks.layout.slug`; a suite on `recall` also
`plots/recall-accuracy-vs-{width,state}.png`, `benchmarks.analysis.recall_plots`), and `report.html` with the
plots embedded (base64), the fit tables, the leaderboard and the verdict, so the
page can be mailed or archived as one file. Fits and verdict are pure functions
of the records (`benchmarks.analysis.fits`, `benchmarks.analysis.verdict`); this module only draws
and writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from benchmarks.analysis import language  # noqa: E402
from benchmarks.analysis.fits import (  # noqa: E402
    DatasetFits,
    fit_datasets,
    fits_to_dict,
    frontier_holders,
)
from benchmarks.analysis.frontier_plots import frontier_plots  # noqa: E402
from benchmarks.analysis.leaderboard import Leaderboard, build_leaderboard  # noqa: E402
from benchmarks.analysis.leaderboard_formats import to_html  # noqa: E402
from benchmarks.analysis.plots import write_plots  # noqa: E402
from benchmarks.analysis.quality_plots import width_summary, write_quality_plots  # noqa: E402
from benchmarks.analysis.recall_plots import write_recall_plots  # noqa: E402
from benchmarks.analysis.stats import Estimate  # noqa: E402
from benchmarks.analysis.tickets_report import findings_dict, section_html, ticket_findings  # noqa: E402
from benchmarks.analysis.verdict import DatasetVerdict, Verdict, verdict  # noqa: E402
from benchmarks.analysis.verdict_statistics import Statistic, Table, registered  # noqa: E402
from benchmarks.analysis.verdict_words import Section, sections, verdict_dict  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.formatting import html_page, html_table, write_text  # noqa: E402
from benchmarks.layout import FITS_FILE, MASKS_DIR, PLOTS_DIR, REPORT_FILE, slug  # noqa: E402
from benchmarks.running.store import ResultsStore  # noqa: E402
from benchmarks.running.suite import declared_contrasts  # noqa: E402
from benchmarks.spec import DatasetContrast, UserError, finite_or_null  # noqa: E402

DETAILS = "<details><summary>table</summary>"  # a long table, folded
LEAD_TABLE = "shares"  # the statistic whose table goes on the first screen, under the headline (the variance table)
LONG_TABLE = 8  # rows: a statistic's table longer than this is folded under <details>


def _esc(s: object) -> str:
    return html.escape(str(s))


def _ci(e: Estimate | None, fmt: str = ".3g") -> str:
    if e is None:
        return "—"
    num = lambda v: "0" if abs(v) < 1e-6 else f"{v:{fmt}}"  # E at its bound 0 prints as 0, not 1e-10
    return f"{num(e.value)} [{num(e.lo)}, {num(e.hi)}]"


def _flops_range(lo: float, hi: float) -> str:
    return short_count(lo) if lo == hi else f"{short_count(lo)}–{short_count(hi)}"


def _fit_rows(df: DatasetFits) -> tuple[list[list[object]], list[str]]:
    rows, classes = [], []
    for arch, af in df.archs.items():
        curves = ([(f"vs parameters at {d:,} examples", f) for d, f in af.vs_params.items()]
                  + [(f"vs examples at {short_count(n)} parameters", f) for n, f in af.vs_data.items()]
                  + [("vs training FLOPs (own frontier)", af.vs_compute)])
        for name, f in curves:
            est = f.estimates
            rows.append([arch, name, int(f.x.size), f.status, _ci(est.get("E")), _ci(est.get("A")),
                         _ci(est.get("alpha"), ".2f"), _ci(f.local_exponent, ".3f"), f.reason])
            classes.append("" if f.kind is not None else "bad")
    return rows, classes


def _joint_rows(df: DatasetFits) -> tuple[list[list[object]], list[str]]:
    rows, classes = [], []
    for arch, af in df.archs.items():
        j = af.joint
        e = j.estimates
        rows.append([arch, int(j.n.size), j.status, _ci(e.get("E")), _ci(e.get("alpha"), ".2f"),
                     _ci(e.get("beta"), ".2f"), _ci(e.get("A")), _ci(e.get("B")), j.reason])
        classes.append("" if j.ok else "bad")
    return rows, classes


def _table_html(t: Table, fold: bool = True) -> str:
    """A statistic's table (made from its claims), with its title and how to read it; folded when long."""
    note = f"<p class=note>{_esc(t.note)}</p>" if t.note else ""
    table = html_table(list(t.header), [list(r) for r in t.rows])
    return f"<h3>{_esc(t.title)}</h3>{note}" + (f"{DETAILS}{table}</details>" if fold and len(t.rows) > LONG_TABLE else table)


def statistic_tables(statistics: Mapping[str, Statistic], over: str = "dataset", only: str | None = None) -> str:
    """The tables of every registered statistic (of one, with `only`), each a function of its claims alone."""
    return "".join(_table_html(t, fold=only is None) for s in registered(over) if s.table is not None
                   and s.name in statistics and only in (None, s.name) for t in s.table(statistics[s.name].claims))


def _dataset_section(df: DatasetFits, v: DatasetVerdict | None,
                     plots: Sequence[tuple[str, Path, bytes]]) -> str:
    parts = [f'<section class="dataset" id="ds-{_esc(slug(df.dataset))}"><h2>{_esc(df.dataset)}</h2>']
    if not df.runs:
        parts.append("<p>No usable runs: every run of this dataset failed or diverged, so there is nothing to "
                     "fit or plot.</p>")
    parts += [_figure(*p) for p in plots]
    if v is not None:
        parts.append(statistic_tables(v.statistics))
    rows, classes = _fit_rows(df)
    parts.append("<h3>Scaling fits: L = E + A·x<sup>−α</sup>, or the local slope</h3><p class=note>Per "
                 "architecture and curve. The law is fitted only with at least 5 runs over at least a decade, and "
                 "called ok only where its bootstrap replicates do not pile up on a bound; elsewhere the curve is "
                 "the local log-log slope over the measured range (status slope; local exponent = −d log L / d log "
                 "x). 95% intervals from a parametric bootstrap with the seed noise pooled over all of an "
                 "architecture's runs (docs/statistics.md); greyed: no fit, with the reason.</p>")
    e_loss = language.loss_header(df.dataset, "E")[0]  # E is a loss: its unit, for next tokens
    parts.append(DETAILS + html_table(["arch", "curve", "runs", "status", e_loss, "A", "α", "local exponent", "note"], rows,
                            classes=classes)
                 + "</details>")
    rows, classes = _joint_rows(df)
    parts.append("<h3>Joint fits: L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup></h3>")
    parts.append(DETAILS + html_table(["arch", "runs", "status", e_loss, "α", "β", "A", "B", "note"], rows, classes=classes)
                 + "</details>")
    if df.frontier:
        holders = ", ".join(f"{a} ({_flops_range(lo, hi)} FLOPs)"
                            for a, lo, hi in frontier_holders(df.frontier))
        rows = [[f"{p.compute:.3g}", p.arch, f"{p.params:,}", f"{p.data_size:,}", f"{p.loss:.4g}",
                 *language.in_bits(df.dataset, p.loss), "—" if math.isnan(p.lo) else f"[{p.lo:.4g}, {p.hi:.4g}]"]
                for p in df.frontier]
        parts.append(f"<h3>Compute-efficient frontier</h3><p>Held by {_esc(holders)}.</p>")
        header = ["training FLOPs", "arch", "params", "examples", *language.loss_header(df.dataset), "95% CI"]
        parts.append(DETAILS + html_table(header, rows) + "</details>")
    if df.excluded:
        rows = [[r.spec.arch, f"{r.spec.target_params:,}", f"{r.spec.data_size:,}", r.status, r.reason]
                for r in df.excluded]
        parts.append(f"<h3>Runs left out ({len(df.excluded)})</h3><p class=note>Failed or diverged runs are "
                     "excluded from every fit and from the verdict.</p>")
        parts.append(html_table(["arch", "target params", "examples", "status", "reason"], rows))
    parts.append("</section>")
    return "".join(parts)


def _section_html(s: Section) -> str:
    """A section of the verdict: its headline, its bullets by group, its details folded."""
    parts = [f"<h3>{_esc(s.title)}</h3>", '<div class="headline">'
             + "".join(f"<p>{_esc(line)}</p>" for line in s.headline) + "</div>"]
    for group, bullets in s.bullets.items():
        parts.append(f"<p class=group>{_esc(group)}</p><ul>" + "".join(f"<li>{_esc(b)}</li>" for b in bullets)
                     + "</ul>")
    if s.details:
        parts.append(f"<details><summary>every claim ({len(s.details)})</summary><ul>"
                     + "".join(f"<li>{_esc(d)}</li>" for d in s.details) + "</ul></details>")
    return "".join(parts)


def _figure(caption: str, path: Path, data: bytes, lead: bool = False) -> str:
    b64 = base64.b64encode(data).decode()
    return (f'<figure{" class=lead" if lead else ""}><img class="plot" alt="{_esc(caption)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{_esc(caption)} ({_esc(path.name)})</figcaption></figure>")


def render_html(suite: str, fitted: dict[str, DatasetFits], verdict: Verdict,
                plots: dict[str, list[tuple[str, Path, bytes]]], leaderboard_html: str,
                sections_html: Sequence[str] = ()) -> str:
    """The page: the answer first (each section's headline, the loss-against-data figure, the variance table),
    then a table of contents and the sections; `sections_html` (such as the lottery tickets') go after the
    contrasts, before the leaderboard."""
    by_ds = {v.dataset: v for v in verdict.datasets}
    n_runs = sum(len(df.runs) for df in fitted.values())
    n_out = sum(len(df.excluded) for df in fitted.values())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    words = sections(verdict)
    suite_tables = statistic_tables(verdict.statistics, "suite")
    parts = [
        f"<h1>archbench report · suite {_esc(suite)}</h1>",
        '<section class="verdict" id="verdict">',
        "".join('<div class="headline">' + "".join(f"<p>{_esc(line)}</p>" for line in s.headline) + "</div>"
                for s in words[:1]),
    ]
    lead = next((ds for ds in fitted if plots.get(ds)), None)  # the first dataset with figures (not one all failed)
    data_plots = ([p for p in plots.get(lead, []) if p[1].name.endswith("loss-vs-data.png")]
                  or plots.get(lead, [])[:1]) if lead else []
    if data_plots:
        parts.append(_figure(*data_plots[0], lead=True))
    if lead in by_ds:
        parts.append(statistic_tables(by_ds[lead].statistics, only=LEAD_TABLE))
    parts.append(f'<p class="meta">{n_runs} runs on {len(fitted)} dataset{"s" if len(fitted) != 1 else ""} '
                 f"({_esc(', '.join(fitted))})" + (f"; {n_out} failed or diverged runs left out" if n_out else "")
                 + f"; generated {now}. Loss is the held-out (test) cross-entropy; every interval is 95%."
                 + _esc(language.loss_words(list(fitted))) + "</p>")
    toc = [f'<li><a href="#ds-{_esc(slug(ds))}">{_esc(ds)}</a></li>' for ds in fitted]
    toc += ['<li><a href="#suite">contrasts and quality levels</a></li>'] if suite_tables else []
    toc += ['<li><a href="#leaderboard">leaderboard</a></li>']
    parts.append("<h2>Verdict</h2>" + "".join(_section_html(s) for s in words))
    parts.append('<p class="note">How to read it: shares are of the variance of log test loss across all seeds, '
                 "from an ANOVA with architecture, model size and data size as factors, minus what seed noise "
                 "alone would put in each term, so a factor without effect sits near zero; their intervals come "
                 "from a parametric bootstrap. Families are compared pair by pair, seed by seed in the cells both "
                 "ran, Holm-adjusted; an init's effect is shared by every data size it trained at, and the "
                 "intervals count it once (docs/statistics.md).</p></section>")
    parts.append('<nav id="contents"><h2>Contents</h2><ul>' + "".join(toc) + "</ul></nav>")
    for ds, df in fitted.items():  # the figure shown first is not shown twice
        parts.append(_dataset_section(df, by_ds.get(ds), [p for p in plots.get(ds, []) if p not in data_plots[:1]]))
    if suite_tables:  # the statistics of the suite: declared contrasts, quality levels
        parts.append(f'<section id="suite"><h2>Contrasts and quality levels</h2>{suite_tables}</section>')
    parts += [s for s in sections_html if s]
    parts.append('<section id="leaderboard"><h2>Leaderboard</h2><details><summary>every run</summary>')
    parts.append(leaderboard_html)
    parts.append("</details></section>")
    return html_page(f"archbench report · {suite}", "\n".join(parts))


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Written:
    """What `write_report` wrote, and the verdict it stated."""

    report: Path
    files: list[Path]  # fits.json, the plots, report.html
    verdict: Verdict
    leaderboard: Leaderboard


def write_report(results_dir: str | Path, suite: str, contrasts: Sequence[DatasetContrast] | None = None) -> Written:
    """Fit, plot and write `fits.json`, the PNGs and `report.html` for a suite (each written whole, atomically).

    `contrasts`: the pairs of datasets to contrast; by default the ones the suite's sweep declared
    (`benchmarks.running.suite.declared_contrasts`)."""
    store = ResultsStore(results_dir, suite)
    records = store.records()
    if not records:
        raise UserError(f"no results for suite {suite!r} in {store.dir} (run `archbench sweep {suite}` first)")
    store.ensure_writable()
    fitted = fit_datasets(records)
    if contrasts is None:
        contrasts = declared_contrasts(results_dir, suite)
    stated = verdict(records, contrasts=contrasts, fitted=fitted)
    doc = {"suite": suite, **fits_to_dict(fitted), "verdict": verdict_dict(stated)}
    tickets = ticket_findings(records, store.dir)
    if tickets.curves:
        doc["tickets"] = findings_dict(tickets)
    for v in stated.datasets:  # the multipliers per dataset, beside its fits
        if (m := v.statistics.get("multipliers")) is not None:
            doc["datasets"][v.dataset]["pairs"] = m.to_dict()["pairs"]
    for ds, df in fitted.items():  # error against width, where a family was swept over widths
        if sweeps := width_summary(df):
            doc["datasets"][ds]["width_sweeps"] = sweeps
    if stated.quality:  # per dataset run at quality levels: clean data worth k× each level's, the interaction
        doc["quality"] = doc["verdict"]["quality"]
    write_text(store.dir / FITS_FILE, json.dumps(finite_or_null(doc), indent=1, allow_nan=False) + "\n")
    plots = write_plots(fitted, store.dir / PLOTS_DIR, stated)
    for ds, extra in write_quality_plots(fitted, store.dir / PLOTS_DIR, stated).items():
        plots[ds] = plots.get(ds, []) + extra
    for ds, extra in write_recall_plots(fitted, store.dir / PLOTS_DIR).items():  # recall: Zoology's figures, first
        plots[ds] = extra + plots.get(ds, [])
    for ds, df in fitted.items():  # where compute varies apart from parameters: the frontiers' two figures
        plots[ds] = plots.get(ds, []) + frontier_plots(df, store.dir / PLOTS_DIR)
    for v in stated.datasets:  # next tokens: the loss against the position in the context
        context = v.statistics.get("context")
        plateaus = context.tokens_read() if context is not None else None
        plots[v.dataset] = plots.get(v.dataset, []) + language.position_plots(
            v.dataset, fitted[v.dataset].runs, store.dir / PLOTS_DIR, plateaus)
    board = build_leaderboard(records, suite)
    path = store.dir / REPORT_FILE
    tickets_html, ticket_pngs = section_html(tickets, store.dir / MASKS_DIR, store.dir / PLOTS_DIR)
    write_text(path, render_html(suite, fitted, stated, plots, to_html(board, full_page=False), [tickets_html]))
    pngs = [png for per_dataset in plots.values() for _, png, _ in per_dataset]
    return Written(path, [store.dir / FITS_FILE, *pngs, *ticket_pngs, path], stated, board)
