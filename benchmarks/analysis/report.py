"""`archbench report SUITE`: scaling fits, plots, the verdict and one self-contained HTML page.

Writes under `results/SUITE/`: `fits.json` (every fit and the verdict, the declared
contrasts between datasets included),
`plots/SLUG-loss-vs-{params,data,compute}.png` (SLUG: the dataset's
name made safe for a file name, `benchmarks.layout.slug`), and `report.html` with the
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from benchmarks.analysis.claims import pct  # noqa: E402
from benchmarks.analysis.contrast import ContrastEffect  # noqa: E402
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
from benchmarks.analysis.quality_plots import quality_section, width_summary, write_quality_plots  # noqa: E402
from benchmarks.analysis.stats import Estimate  # noqa: E402
from benchmarks.analysis.tickets_report import findings_dict, section_html, ticket_findings  # noqa: E402
from benchmarks.analysis.verdict import DatasetVerdict, Verdict, verdict  # noqa: E402
from benchmarks.analysis.verdict_statistics.multipliers import factor_cell  # noqa: E402
from benchmarks.analysis.verdict_words import Section, sections, verdict_dict  # noqa: E402
from benchmarks.analysis.wording import loss_change as fmt_loss_change  # noqa: E402
from benchmarks.analysis.wording import share as fmt_share  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.formatting import html_page, html_table, write_text  # noqa: E402
from benchmarks.layout import FITS_FILE, MASKS_DIR, PLOTS_DIR, REPORT_FILE, slug  # noqa: E402
from benchmarks.running.store import ResultsStore  # noqa: E402
from benchmarks.running.suite import declared_contrasts  # noqa: E402
from benchmarks.spec import DatasetContrast, UserError, finite_or_null  # noqa: E402

DETAILS = "<details><summary>table</summary>"  # a long table, folded


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


def _shares_table(v: DatasetVerdict) -> str:
    shares = v.statistics.get("shares")
    if shares is None or not shares.shares:
        return ""
    rows = [[s.term, fmt_share(s.share), f"{100 * s.raw:.3g}%", s.df] for s in shares.shares]
    if shares.confounded is not None:
        rows.append(["several factors together, none alone", fmt_share(shares.confounded), "—", "—"])
    rows.append(["seed noise (inits and seeds)", fmt_share(shares.seed_share), "—", "—"])
    rows += [[f"{t} (not separable in this design)", "—", "—", 0] for t in shares.aliased]
    if shares.without:
        rows += [[f"without {w.family}: " + ", ".join(f"{t} {100 * x:.3g}%" for t, x in w.shares.items()),
                  f"leads: {w.leading}; best: {w.best}", "—", "—"] for w in shares.without]
    return (f"<h3>Variance of log test loss, by factor ({_esc(v.dataset)})</h3>" + html_table(
        ["term", "share beyond seed noise [95% CI], within 0–100%", "estimate before the cut at 0", "df"], rows))


def _verdict_tables(v: DatasetVerdict) -> str:
    """The tables of the built-in statistics (a statistic of its own shows in the verdict paragraph)."""
    parts = []
    shares, contrasts, gaps, trend = (v.statistics.get(n) for n in ("shares", "contrasts", "gaps", "gap_trend"))
    parts.append(_shares_table(v))
    if contrasts is not None and contrasts.contrasts:
        rows = [[c.higher, c.lower, fmt_loss_change(c.adjusted), f"{c.p_holm:.2g}", "yes" if c.separated else "no",
                 c.cells, c.matched] for c in contrasts.contrasts]  # the claims' interval: the Holm step's
        parts.append("<h3>Family against family (paired by seed and cell, Holm-adjusted)</h3>" + html_table(
            ["higher loss", "lower loss", "loss above [Holm-adjusted 95% CI]", "Holm p", "separated", "cells",
             "matched by"], rows))
    if gaps is not None and len({g.data_size for g in gaps.gaps}) > 1:  # at one size the pairs' table says it
        sizes = sorted({g.data_size for g in gaps.gaps})
        rows = [[other] + [next((fmt_loss_change(g.gap) for g in gaps.of(other) if g.data_size == d), "—")
                           for d in sizes] for other in gaps.others]
        if trend is not None and trend.trends:
            per = {t.other: t for t in trend.trends}
            for row, other in zip(rows, gaps.others, strict=True):
                t = per.get(other)
                row.append("—" if t is None else f"×{np.exp(t.per_decade.value):.2f} [×{np.exp(t.per_decade.lo):.2f}, "
                           f"×{np.exp(t.per_decade.hi):.2f}]" + (" (beyond noise)" if t.separated else ""))
            header_trend = ["per tenfold more data [95% CI]"]
        else:
            header_trend = []
        note = (f"<p class=note>Trend with data not estimated: {html.escape(trend.not_given)}.</p>"
                if trend is not None and trend.not_given else "")
        parts.append(f"<h3>Loss above {html.escape(gaps.leader)}'s, by training-set size</h3>" + html_table(
            ["family"] + [f"{d:,} examples" for d in sizes] + header_trend, rows) + note)
    parts += [_multiplier_table(v), _exponent_tables(v), _small_to_large_table(v)]
    return "".join(parts)


def _multiplier_table(v: DatasetVerdict) -> str:
    m = v.statistics.get("multipliers")
    if m is None or not m.pairs:
        return ""
    cell = factor_cell
    head = m.pairs[0]
    data, params = head.headline(head.data, "data_size"), head.headline(head.params, "params")
    rows = [[p.stronger, p.weaker, cell(p.headline(p.data, "data_size")), cell(p.headline(p.params, "params")),
             cell(p.compute)] for p in m.pairs]
    where = (f"data at {short_count(data.at)} parameters from {data.x0:,.0f} examples; parameters at "
             f"{params.at:,} examples from {short_count(params.x0)}" if data.log_k is not None and
             params.log_k is not None else "")
    return ("<h3>Architecture worth k× data, parameters, compute</h3><p class=note>How many times the training "
            "examples (parameters, compute) the weaker family needs to reach the stronger one's held-out loss, read "
            f"off their fitted curves ({_esc(where)}; every model size and data size in fits.json, and in the "
            "forest plot). Past the measured range the factor is a bound, not a number: the extrapolation is in "
            "fits.json, labelled. 95% intervals from the curves' parametric bootstrap.</p>"
            + html_table(["stronger", "weaker", "× training examples", "× parameters", "× compute"], rows))


def _exponent_tables(v: DatasetVerdict) -> str:
    x = v.statistics.get("equal_exponents")
    if x is None or not x.axes:
        return ""
    parts = ["<h3>Do the families scale alike?</h3>"]
    for a in x.axes:
        slices = sorted({s for by in a.by_slice.values() for s in by})
        name = (lambda s: f"at {short_count(s)} params") if a.axis == "data_size" else (lambda s: f"at {s:,} examples")
        rows = [[arch, *(_ci(by.get(s), ".3f") for s in slices), _ci(a.pooled.get(arch), ".3f")]
                for arch, by in a.by_slice.items()]
        what = "α" if a.kind == "alpha" else "local exponent (−d log L / d log x)"
        test = (f"one shared exponent per slice: Wald W = {a.statistic:.3g} on {a.df} df, p = {a.p_value:.2g}"
                if np.isfinite(a.p_value) else "no test: fewer than two families with intervals per slice")
        parts.append(f"<p class=note>Against {'training examples' if a.axis == 'data_size' else 'parameters'}: "
                     f"{_esc(what)}; {_esc(test)}.</p>")
        parts.append(html_table(["arch", *(name(s) for s in slices), "over all"], rows))
    return "".join(parts)


def _small_to_large_table(v: DatasetVerdict) -> str:
    x = v.statistics.get("small_to_large")
    if x is None or not x.axes:
        return ""
    pct_of = lambda d: f"{pct(d):.2g}%"
    rows = [["training examples" if a.axis == "data_size" else "parameters", f"{a.held_out:,}",
             pct_of(a.rms_error), pct_of(a.rms_noise), f"{a.p_value:.2g}",
             f"{a.order_held}/{a.pairs}" if a.pairs else "—",
             f"{a.predicted_order_held}/{a.pairs}" if a.pairs else "—"] for a in x.axes]
    return ("<h3>Does small scale predict large?</h3><p class=note>Each curve fitted without the largest size, "
            "its prediction there against the measurement: rms error in loss, against what noise alone gives; p of "
            "the misses under 'as good as noise allows'; family pairs whose order at the next size held at the "
            "largest (decision accuracy), and whose order the extrapolated curves got right.</p>"
            + html_table(["axis", "held out", "rms error", "rms noise", "p", "order held", "predicted order held"],
                         rows))


def _dataset_section(df: DatasetFits, v: DatasetVerdict | None,
                     plots: Sequence[tuple[str, Path, bytes]]) -> str:
    parts = [f'<section class="dataset" id="ds-{_esc(slug(df.dataset))}"><h2>{_esc(df.dataset)}</h2>']
    if not df.runs:
        parts.append("<p>No usable runs: every run of this dataset failed or diverged, so there is nothing to "
                     "fit or plot.</p>")
    parts += [_figure(*p) for p in plots]
    if v is not None:
        parts.append(_verdict_tables(v))
    rows, classes = _fit_rows(df)
    parts.append("<h3>Scaling fits: L = E + A·x<sup>−α</sup>, or the local slope</h3><p class=note>Per "
                 "architecture and curve. The law is fitted only with at least 5 runs over at least a decade, and "
                 "called ok only where its bootstrap replicates do not pile up on a bound; elsewhere the curve is "
                 "the local log-log slope over the measured range (status slope; local exponent = −d log L / d log "
                 "x). 95% intervals from a parametric bootstrap with the seed noise pooled over all of an "
                 "architecture's runs (docs/statistics.md); greyed: no fit, with the reason.</p>")
    parts.append(DETAILS + html_table(["arch", "curve", "runs", "status", "E", "A", "α", "local exponent", "note"], rows,
                            classes=classes)
                 + "</details>")
    rows, classes = _joint_rows(df)
    parts.append("<h3>Joint fits: L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup></h3>")
    parts.append(DETAILS + html_table(["arch", "runs", "status", "E", "α", "β", "A", "B", "note"], rows, classes=classes)
                 + "</details>")
    if df.frontier:
        holders = ", ".join(f"{a} ({_flops_range(lo, hi)} FLOPs)"
                            for a, lo, hi in frontier_holders(df.frontier))
        rows = [[f"{p.compute:.3g}", p.arch, f"{p.params:,}", f"{p.data_size:,}", f"{p.loss:.4g}",
                 "—" if math.isnan(p.lo) else f"[{p.lo:.4g}, {p.hi:.4g}]"] for p in df.frontier]
        parts.append(f"<h3>Compute-efficient frontier</h3><p>Held by {_esc(holders)}.</p>")
        parts.append(DETAILS + html_table(["training FLOPs", "arch", "params", "examples", "test loss", "95% CI"], rows)
                     + "</details>")
    if df.excluded:
        rows = [[r.spec.arch, f"{r.spec.target_params:,}", f"{r.spec.data_size:,}", r.status, r.reason]
                for r in df.excluded]
        parts.append(f"<h3>Runs left out ({len(df.excluded)})</h3><p class=note>Failed or diverged runs are "
                     "excluded from every fit and from the verdict.</p>")
        parts.append(html_table(["arch", "target params", "examples", "status", "reason"], rows))
    parts.append("</section>")
    return "".join(parts)


def _contrast_section(c: ContrastEffect) -> str:
    """One declared contrast: each family's loss change, and its gap to the base's leader on both datasets."""
    label = f" ({_esc(c.contrast.label)})" if c.contrast.label else ""
    parts = [f'<section class="contrast" id="contrast-{_esc(slug(c.base + "-vs-" + c.variant))}">'
             f"<h2>Contrast: {_esc(c.variant)} against {_esc(c.base)}{label}</h2>",
             "<p class=note>Per family: the mean over the model and data sizes it ran on both datasets of the "
             "change in log held-out loss (variant − base), as a change in loss, with a 95% bootstrap interval "
             "over seeds (a seed's draw shared by both datasets).</p>"]
    rows = [[a, c.cells[a], fmt_loss_change(e)] for a, e in sorted(c.change.items(), key=lambda t: -t[1].value)]
    parts.append(html_table(["arch", "sizes on both", "loss change, variant vs base [95% CI]"], rows))
    if c.gaps:
        point = lambda e: f"{pct(e.value):.3g}%"  # the pair's interval is its contrast's, in the families table
        rows = [[a, point(g.base), point(g.variant), fmt_loss_change(g.change)]
                for a, g in c.gaps.items() if a != c.leader]
        parts.append(f"<h3>Gaps to {_esc(c.leader)}, the best on {_esc(c.base)}</h3><p class=note>Over the "
                     f"{c.shared_cells} sizes every family ran on both datasets: each family's loss above "
                     f"{_esc(c.leader)}'s on each, and how that gap changes (negative: the variant narrows it).</p>")
        parts.append(html_table(["arch", f"above {c.leader} on {c.base}", f"above {c.leader} on {c.variant}",
                                 "change of the gap"], rows))
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
        parts.append(_shares_table(by_ds[lead]))
    parts.append(f'<p class="meta">{n_runs} runs on {len(fitted)} dataset{"s" if len(fitted) != 1 else ""} '
                 f"({_esc(', '.join(fitted))})" + (f"; {n_out} failed or diverged runs left out" if n_out else "")
                 + f"; generated {now}. Loss is the held-out (test) cross-entropy; every interval is 95%.</p>")
    toc = [f'<li><a href="#ds-{_esc(slug(ds))}">{_esc(ds)}</a></li>' for ds in fitted]
    toc += [f'<li><a href="#contrast-{_esc(slug(c.base + "-vs-" + c.variant))}">contrast: {_esc(c.variant)} '
            f"against {_esc(c.base)}</a></li>" for c in verdict.contrasts]
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
    parts += [_contrast_section(c) for c in verdict.contrasts]
    parts += [quality_section(q) for q in verdict.quality]
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
    for ds, df in fitted.items():  # where compute varies apart from parameters: the frontiers' two figures
        plots[ds] = plots.get(ds, []) + frontier_plots(df, store.dir / PLOTS_DIR)
    board = build_leaderboard(records, suite)
    path = store.dir / REPORT_FILE
    tickets_html, ticket_pngs = section_html(tickets, store.dir / MASKS_DIR, store.dir / PLOTS_DIR)
    write_text(path, render_html(suite, fitted, stated, plots, to_html(board, full_page=False), [tickets_html]))
    pngs = [png for per_dataset in plots.values() for _, png, _ in per_dataset]
    return Written(path, [store.dir / FITS_FILE, *pngs, *ticket_pngs, path], stated, board)
