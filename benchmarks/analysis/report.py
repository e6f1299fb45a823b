"""`archbench report SUITE`: scaling fits, plots, the verdict and one self-contained HTML page.

Writes under `results/SUITE/`: `fits.json` (every fit and the verdict),
`plots/DATASET-loss-vs-{params,data,compute}.png`, and `report.html` with the
plots embedded (base64), the fit tables, the leaderboard and the verdict, so the
page can be mailed or archived as one file. Fits and verdict are pure functions
of the records (`benchmarks.analysis.fits`, `benchmarks.analysis.verdict`); this module only draws
and writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402
from scipy import stats  # noqa: E402

from benchmarks.analysis.fits import (  # noqa: E402
    DatasetFits,
    PowerLawFit,
    fit_datasets,
    fits_to_dict,
    frontier_holders,
    measured_params,
    training_flops,
)
from benchmarks.analysis.leaderboard import Leaderboard, build_leaderboard  # noqa: E402
from benchmarks.analysis.leaderboard_formats import to_html  # noqa: E402
from benchmarks.analysis.stats import LEVEL, Estimate, SeedNoise, mean_ci, run_log_losses  # noqa: E402
from benchmarks.analysis.verdict import DatasetVerdict, Verdict, verdict  # noqa: E402
from benchmarks.analysis.verdict_statistics.multipliers import Multipliers, fmt_factor  # noqa: E402
from benchmarks.analysis.verdict_text import (  # noqa: E402
    fmt_loss_change,
    fmt_share,
    pct,
    short_count,
    verdict_dict,
    verdict_paragraph,
)
from benchmarks.formatting import html_page, html_table, write_text  # noqa: E402
from benchmarks.layout import FITS_FILE, PLOTS_DIR, REPORT_FILE  # noqa: E402
from benchmarks.running.store import ResultsStore  # noqa: E402
from benchmarks.spec import RunRecord, UserError, finite_or_null  # noqa: E402

LOSS_LABEL = "held-out test loss (cross-entropy, nats)"


# ---------------------------------------------------------------------------- plots


def _colors(archs: Sequence[str]) -> dict[str, str]:
    palette = plt.get_cmap("tab10").colors
    return {a: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, a in enumerate(sorted(archs))}


def _loss_points(runs: Sequence[RunRecord], x_of: Callable[[RunRecord], float],
                 noise: SeedNoise | None = None) -> tuple[np.ndarray, ...]:
    """x, mean loss and its interval half-widths (below, above) per run, sorted by x.

    With the family's pooled noise (what its fits use), a run's mean log loss ± t·its sd: two seeds of one run
    say little about their own spread. Without it, the run's own Student-t interval."""
    if noise is None or not noise.known:
        rows = sorted((x_of(r), *mean_ci(np.exp(run_log_losses(r)))) for r in runs)
        x, mean, lo, hi = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
        return x, mean, np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)  # one seed: no bar
    t = stats.t.ppf(0.5 + LEVEL / 2, noise.df)
    rows = sorted((x_of(r), run_log_losses(r).mean(), t * float(noise.mean_sd(run_log_losses(r).size))) for r in runs)
    x, log_mean, half = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    mean = np.exp(log_mean)
    return x, mean, mean - np.exp(log_mean - half), np.exp(log_mean + half) - mean


def _draw_curve(ax, fit: PowerLawFit, color: str, x_lo: float, x_hi: float) -> None:
    """The law, or the local line (dashed: it holds over the measured range only), with its band."""
    if fit.kind is None:
        return
    if fit.kind == "slope":  # a local line is drawn over its own points, not beyond
        x_lo, x_hi = max(x_lo, fit.x.min()), min(x_hi, fit.x.max())
    grid = np.geomspace(x_lo, x_hi, 100)
    band_lo, band_hi = fit.band(grid)
    ax.fill_between(grid, band_lo, band_hi, color=color, alpha=0.15, linewidth=0)
    ax.plot(grid, fit.predict(grid), color=color, linewidth=1.6, linestyle="-" if fit.kind == "law" else "--")


def _style(ax, xlabel: str) -> None:
    """Log-log axes; losses usually span less than a decade, so the y ticks are plain round numbers."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    lo, hi = ax.get_ylim()
    if hi / lo < 10:
        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=7))
        ax.yaxis.set_minor_locator(ticker.NullLocator())
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", axis="x", alpha=0.12)


def _legend(fig, colors: dict[str, str]) -> None:
    handles = [plt.Line2D([], [], color=c, marker="o", linewidth=1.6, label=a) for a, c in colors.items()]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.25, label="fit: 95% band"))
    fig.legend(handles=handles, loc="outside right center", frameon=False, title="architecture")


def _panel_figure(df: DatasetFits, *, by: str) -> plt.Figure:
    """Loss against parameters (one panel per data size) or against data (one panel per model size)."""
    colors = _colors(df.archs)
    if by == "params":
        panels = sorted({r.spec.data_size for r in df.runs})
        in_panel = lambda r, p: r.spec.data_size == p
        x_of, xlabel = measured_params, "parameters"
        title = lambda p: f"{p:,} training examples"
        curve = lambda af, p: af.vs_params.get(p)
        what = "model size"
    else:
        panels = sorted({r.spec.target_params for r in df.runs})
        in_panel = lambda r, p: r.spec.target_params == p
        x_of, xlabel = (lambda r: r.spec.data_size), "training examples"
        title = lambda p: f"{short_count(p)} parameters (target)"
        curve = lambda af, p: af.vs_data.get(p)
        what = "training-set size"
    xs = [x_of(r) for r in df.runs]
    x_lo, x_hi = min(xs) / 1.25, max(xs) * 1.25
    ncols = min(len(panels), 3)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 1.8, 3.6 * nrows + 0.6), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, p in zip(axes.flat, panels, strict=False):
        for arch, af in df.archs.items():
            runs = [r for r in df.runs if r.spec.arch == arch and in_panel(r, p)]
            if not runs:
                continue
            x, mean, below, above = _loss_points(runs, x_of, af.noise)
            ax.errorbar(x, mean, yerr=[below, above], fmt="o", color=colors[arch], markersize=5, capsize=3)
            fit = curve(af, p)
            if fit is not None and fit.kind is not None:
                _draw_curve(ax, fit, colors[arch], x_lo, x_hi)
            else:  # no fit to draw: join the points so the trend still reads
                ax.plot(x, mean, color=colors[arch], linewidth=0.8, linestyle=":")
        ax.set_title(title(p), fontsize=10)
        ax.set_xlim(x_lo, x_hi)
        _style(ax, xlabel)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(LOSS_LABEL)
    fig.suptitle(f"{df.dataset}: held-out loss against {what} (mean over seeds, 95% intervals from pooled noise; "
                 r"solid: $L = E + A\,x^{-\alpha}$ where identified; dashed: local log-log slope)", fontsize=11)
    _legend(fig, colors)
    return fig


def _compute_figure(df: DatasetFits) -> plt.Figure:
    colors = _colors(df.archs)
    fig, ax = plt.subplots(figsize=(8.5, 5.0), layout="constrained")
    runs = [r for r in df.runs if r.flops_per_example > 0]
    if runs:
        xs = [training_flops(r) for r in runs]
        x_lo, x_hi = min(xs) / 1.4, max(xs) * 1.4
        for arch, af in df.archs.items():
            mine = [r for r in runs if r.spec.arch == arch]
            if not mine:
                continue
            x, mean, below, above = _loss_points(mine, training_flops, af.noise)
            ax.errorbar(x, mean, yerr=[below, above], fmt="o", color=colors[arch], markersize=4, capsize=2,
                        alpha=0.75)
            own = af.vs_compute.x
            if own.size:  # drawn over the compute this architecture was measured at, not beyond
                _draw_curve(ax, af.vs_compute, colors[arch], own.min() / 1.25, own.max() * 1.25)
        if df.frontier:
            fx = [p.compute for p in df.frontier] + [x_hi]
            fy = [p.loss for p in df.frontier] + [df.frontier[-1].loss]
            ax.step(fx, fy, where="post", color="black", linewidth=1.0, linestyle="--")
        ax.set_xlim(x_lo, x_hi)
    _style(ax, "training compute per seed (FLOPs, ≈ 3 × forward FLOPs × steps × batch)")
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title(f"{df.dataset}: held-out loss against training compute\n(every run; lines: fit on each "
                 "architecture's own frontier; dashed: best loss at each compute)", fontsize=11)
    _legend(fig, colors)
    return fig


def _png(fig: plt.Figure, path: Path) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def _multiplier_figure(dataset: str, m: Multipliers) -> plt.Figure:
    """A forest plot: per pair of families, the factor of data (parameters, compute) the weaker one needs to reach
    the stronger one's loss, at each slice, with its interval; an arrow at the edge of the measured range where
    the factor (or its interval) lies past it."""
    panels = [("data_size", "× training examples (at each model size)", lambda p: p.data),
              ("params", "× parameters (at each training-set size)", lambda p: p.params)]
    if any(p.compute.log_k is not None for p in m.pairs):
        panels.append(("compute", "× training compute (own frontiers)", lambda p: {0: p.compute}))
    rows = m.pairs
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 2.2, max(4.0, 0.42 * len(rows) + 2.0)),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, (axis, label, by) in zip(axes[0], panels, strict=True):
        slices = sorted({k for p in rows for k in by(p)})
        colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(slices), 1)))
        edge = 1.0
        for i, p in enumerate(rows):
            for j, s in enumerate(slices):
                x = by(p).get(s)
                if x is None or x.log_k is None:
                    continue
                y = i + (j - (len(slices) - 1) / 2) * min(0.22, 0.8 / max(len(slices), 1))
                lo_w, hi_w = x.log_window
                edge = max(edge, np.exp(hi_w), np.exp(-lo_w))
                clip = lambda v, lo_w=lo_w, hi_w=hi_w: float(np.exp(np.clip(v, lo_w, hi_w)))
                if np.isfinite(x.log_k.lo):
                    ax.plot([clip(x.log_k.lo), clip(x.log_k.hi)], [y, y], color=colors[j], linewidth=1.4)
                inside = x.status == "ok"
                marker = "o" if inside else (">" if x.log_k.value > 0 else "<")
                ax.plot(clip(x.log_k.value), y, marker=marker, color=colors[j], markersize=6,
                        markerfacecolor=colors[j] if inside else "white", linestyle="none",
                        label=(short_count(s) if axis == "data_size" else f"{s:,}") if i == 0 and axis != "compute"
                        else None)
        ax.axvline(1.0, color="grey", linewidth=0.8)
        for x_edge in (1 / edge, edge):  # the measured range: past it, a factor is a bound
            ax.axvline(x_edge, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_xlim(1 / (1.3 * edge), 1.3 * edge)
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("factor the weaker family needs (dotted: the measured range)")
        ax.grid(True, axis="x", alpha=0.3)
        if axis != "compute" and slices:
            ax.legend(title="parameters" if axis == "data_size" else "examples", fontsize=8, title_fontsize=8,
                      loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(slices), frameon=False)
    axes[0, 0].set_yticks(range(len(rows)), [f"{p.weaker} → {p.stronger}" for p in rows], fontsize=9)
    axes[0, 0].invert_yaxis()
    fig.suptitle(f"{dataset}: architecture worth k× data, parameters, compute (95% intervals; hollow arrow: past the "
                 "measured range, the bound shown)", fontsize=11)
    return fig


def write_plots(fitted: dict[str, DatasetFits], plots_dir: Path,
                stated: Verdict | None = None) -> dict[str, list[tuple[str, Path, bytes]]]:
    """Three figures per dataset, and the multipliers' forest plot where the verdict has it:
    {dataset: [(caption, path, png bytes)]}."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    by_ds = {v.dataset: v for v in stated.datasets} if stated is not None else {}
    out = {}
    for ds, df in fitted.items():
        if not df.runs:
            continue
        mult = by_ds[ds].statistics.get("multipliers") if ds in by_ds else None
        if mult is not None and mult.pairs:
            path = plots_dir / f"{ds}-multipliers.png"
            out.setdefault(ds, []).append((f"{ds}: architecture worth k× data, parameters and compute", path,
                                           _png(_multiplier_figure(ds, mult), path)))
        out[ds] = out.get(ds, []) + [
            (f"{ds}: loss against parameters", plots_dir / f"{ds}-loss-vs-params.png",
             _png(_panel_figure(df, by="params"), plots_dir / f"{ds}-loss-vs-params.png")),
            (f"{ds}: loss against training examples", plots_dir / f"{ds}-loss-vs-data.png",
             _png(_panel_figure(df, by="data"), plots_dir / f"{ds}-loss-vs-data.png")),
            (f"{ds}: loss against training compute", plots_dir / f"{ds}-loss-vs-compute.png",
             _png(_compute_figure(df), plots_dir / f"{ds}-loss-vs-compute.png")),
        ]
    return out


# ---------------------------------------------------------------------------- HTML

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


def _verdict_tables(v: DatasetVerdict) -> str:
    """The tables of the built-in statistics (a statistic of its own shows in the verdict paragraph)."""
    parts = []
    shares, gaps, trend = (v.statistics.get(name) for name in ("shares", "gaps", "gap_trend"))
    if shares is not None and shares.shares:
        rows = [[s.term, fmt_share(s.share), f"{100 * s.eta2:.3g}%", s.df] for s in shares.shares]
        rows.append(["seed noise (residual)", "—", f"{100 * shares.seed_share:.3g}%", "—"])
        parts.append("<h3>Variance of log test loss, by factor</h3>" + html_table(
            ["term", "share beyond seed noise [95% CI]", "raw share (eta²)", "df"], rows))
    if gaps is not None and gaps.gaps:
        rows = [[f"{g.data_size:,}", g.best, g.worst, fmt_loss_change(g.gap),
                 f"{pct(g.noise_floor):.2g}%"] for g in gaps.gaps]
        per_decade = ""
        if trend is not None and trend.trend is not None:
            t = trend.trend
            per_decade = (f"<p class=note>Trend: the gap changes ×{np.exp(t.value):.2f} "
                          f"[×{np.exp(t.lo):.2f}, ×{np.exp(t.hi):.2f}] per tenfold more data.</p>")
        parts.append("<h3>Best against worst architecture, by training-set size</h3>" + html_table(
            ["training examples", "best", "worst", "worst's loss above best [95% CI]", "seed-noise level"], rows)
            + per_decade)
    parts += [_multiplier_table(v), _exponent_tables(v), _small_to_large_table(v)]
    return "".join(parts)


def _multiplier_table(v: DatasetVerdict) -> str:
    m = v.statistics.get("multipliers")
    if m is None or not m.pairs:
        return ""
    cell = lambda x: fmt_factor(x) if x.log_k is not None else x.status
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
    parts = [f'<section class="dataset" id="ds-{_esc(df.dataset)}"><h2>{_esc(df.dataset)}</h2>']
    if not df.runs:
        parts.append("<p>No usable runs: every run of this dataset failed or diverged, so there is nothing to "
                     "fit or plot.</p>")
    for caption, path, data in plots:
        b64 = base64.b64encode(data).decode()
        parts.append(f'<figure><img class="plot" alt="{_esc(caption)}" src="data:image/png;base64,{b64}">'
                     f"<figcaption>{_esc(caption)} ({_esc(path.name)})</figcaption></figure>")
    if v is not None:
        parts.append(_verdict_tables(v))
    rows, classes = _fit_rows(df)
    parts.append("<h3>Scaling fits: L = E + A·x<sup>−α</sup>, or the local slope</h3><p class=note>Per "
                 "architecture and curve. The law is fitted only with at least 5 runs over at least a decade, and "
                 "called ok only where its bootstrap replicates do not pile up on a bound; elsewhere the curve is "
                 "the local log-log slope over the measured range (status slope; local exponent = −d log L / d log "
                 "x). 95% intervals from a parametric bootstrap with the seed noise pooled over all of an "
                 "architecture's runs (docs/statistics.md); greyed: no fit, with the reason.</p>")
    parts.append(html_table(["arch", "curve", "runs", "status", "E", "A", "α", "local exponent", "note"], rows,
                            classes=classes))
    rows, classes = _joint_rows(df)
    parts.append("<h3>Joint fits: L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup></h3>")
    parts.append(html_table(["arch", "runs", "status", "E", "α", "β", "A", "B", "note"], rows, classes=classes))
    if df.frontier:
        holders = ", ".join(f"{a} ({_flops_range(lo, hi)} FLOPs)"
                            for a, lo, hi in frontier_holders(df.frontier))
        rows = [[f"{p.compute:.3g}", p.arch, f"{p.params:,}", f"{p.data_size:,}", f"{p.loss:.4g}",
                 "—" if math.isnan(p.lo) else f"[{p.lo:.4g}, {p.hi:.4g}]"] for p in df.frontier]
        parts.append(f"<h3>Compute-efficient frontier</h3><p>Held by {_esc(holders)}.</p>")
        parts.append(html_table(["training FLOPs", "arch", "params", "examples", "test loss", "95% CI"], rows))
    if df.excluded:
        rows = [[r.spec.arch, f"{r.spec.target_params:,}", f"{r.spec.data_size:,}", r.status, r.reason]
                for r in df.excluded]
        parts.append(f"<h3>Runs left out ({len(df.excluded)})</h3><p class=note>Failed or diverged runs are "
                     "excluded from every fit and from the verdict.</p>")
        parts.append(html_table(["arch", "target params", "examples", "status", "reason"], rows))
    parts.append("</section>")
    return "".join(parts)


def render_html(suite: str, fitted: dict[str, DatasetFits], verdict: Verdict,
                plots: dict[str, list[tuple[str, Path, bytes]]], leaderboard_html: str) -> str:
    by_ds = {v.dataset: v for v in verdict.datasets}
    n_runs = sum(len(df.runs) for df in fitted.values())
    n_out = sum(len(df.excluded) for df in fitted.values())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<h1>archbench report · suite {_esc(suite)}</h1>",
        f'<p class="meta">{n_runs} runs on {len(fitted)} dataset{"s" if len(fitted) != 1 else ""} '
        f"({_esc(', '.join(fitted))})" + (f"; {n_out} failed or diverged runs left out" if n_out else "")
        + f"; generated {now}. Loss is the held-out (test) cross-entropy; every interval is 95%.</p>",
        '<section class="verdict" id="verdict"><h2>Verdict</h2>',
    ]
    parts += [f'<p class="verdict-text">{_esc(p)}</p>' for p in verdict_paragraph(verdict).split("\n\n")]
    parts.append('<p class="note">How to read it: shares are of the variance of log test loss across all seeds, '
                 "from an ANOVA with architecture, model size and data size as factors, minus what seed noise "
                 "alone would put in each term, so a factor without effect sits near zero. Intervals come from "
                 "a bootstrap over each run's seeds.</p></section>")
    for ds, df in fitted.items():
        parts.append(_dataset_section(df, by_ds.get(ds), plots.get(ds, [])))
    parts.append('<section id="leaderboard"><h2>Leaderboard</h2>')
    parts.append(leaderboard_html)
    parts.append("</section>")
    return html_page(f"archbench report · {suite}", "\n".join(parts))


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Written:
    """What `write_report` wrote, and the verdict it stated."""

    report: Path
    files: list[Path]  # fits.json, the plots, report.html
    verdict: Verdict
    leaderboard: Leaderboard


def write_report(results_dir: str | Path, suite: str) -> Written:
    """Fit, plot and write `fits.json`, the PNGs and `report.html` for a suite (each written whole, atomically)."""
    store = ResultsStore(results_dir, suite)
    records = store.records()
    if not records:
        raise UserError(f"no results for suite {suite!r} in {store.dir} (run `archbench sweep {suite}` first)")
    store.ensure_writable()
    fitted = fit_datasets(records)
    stated = verdict(records)
    doc = {"suite": suite, **fits_to_dict(fitted), "verdict": verdict_dict(stated)}
    for v in stated.datasets:  # the multipliers per dataset, beside its fits
        if (m := v.statistics.get("multipliers")) is not None:
            doc["datasets"][v.dataset]["pairs"] = m.to_dict()["pairs"]
    write_text(store.dir / FITS_FILE, json.dumps(finite_or_null(doc), indent=1, allow_nan=False) + "\n")
    plots = write_plots(fitted, store.dir / PLOTS_DIR, stated)
    board = build_leaderboard(records, suite)
    path = store.dir / REPORT_FILE
    write_text(path, render_html(suite, fitted, stated, plots, to_html(board, full_page=False)))
    pngs = [png for per_dataset in plots.values() for _, png, _ in per_dataset]
    return Written(path, [store.dir / FITS_FILE, *pngs, path], stated, board)
