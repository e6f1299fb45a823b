"""The report's figures: loss against parameters, data and compute per family, with fitted bands; the
pairs' multipliers as a forest plot. Each figure is a PNG written under the results folder's plots/."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402
from scipy import stats  # noqa: E402

from benchmarks.analysis import language  # noqa: E402
from benchmarks.analysis.fits import (  # noqa: E402
    DatasetFits,
    PowerLawFit,
    measured_params,
    training_flops,
)
from benchmarks.analysis.stats import LEVEL, SeedNoise, mean_ci, run_log_losses  # noqa: E402
from benchmarks.analysis.verdict import Verdict  # noqa: E402
from benchmarks.analysis.verdict_statistics.multipliers import Multipliers  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.layout import plot_file  # noqa: E402
from benchmarks.spec import RunRecord  # noqa: E402

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
    """Log-log axes; losses usually span less than a decade, so the y ticks are plain round numbers.

    The x ticks are labelled at 1, 2 and 5 of each decade where the axis spans two decades or less
    (400-4,000 examples: 500, 1k, 2k), else at the decades alone; never at the unlabelled minor ticks,
    whose scientific labels would run together ("3×10³4×10³")."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    x_lo, x_hi = ax.get_xlim()
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if x_hi / x_lo <= 100 else (1.0,)))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))  # 500, 1k, 2k, 1M
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
        title = lambda p: f"{p:,} {language.data_label(df.dataset)}"
        curve = lambda af, p: af.vs_params.get(p)
        what = "model size"
    else:
        panels = sorted({r.spec.target_params for r in df.runs})
        in_panel = lambda r, p: r.spec.target_params == p
        x_of, xlabel = (lambda r: r.spec.data_size), language.data_label(df.dataset)
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
    for i, ax in enumerate(axes.flat[:len(panels)]):  # next tokens: the units, bits on the right, tokens on top
        language.loss_axes(ax, df.dataset, x=by, left=i % ncols == 0, right=i % ncols == ncols - 1 or i == len(panels) - 1)
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
    language.loss_axes(ax, df.dataset)
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


_FIGURES: tuple[tuple[str, str, Callable[[DatasetFits], plt.Figure]], ...] = (
    ("params", "parameters", lambda df: _panel_figure(df, by="params")),
    ("data", "training examples", lambda df: _panel_figure(df, by="data")),
    ("compute", "training compute", _compute_figure),
)  # (file kind, caption, draw)


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
        labelled: set = set()  # each slice named once, at its first point (the first pair may have none)
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
                        label=None if s in labelled or axis == "compute"
                        else short_count(s) if axis == "data_size" else f"{s:,}")
                labelled.add(s)
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
        if ax.get_legend_handles_labels()[1]:  # a legend only where a point is labelled (none along compute)
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
            path = plots_dir / plot_file(ds, "multipliers")
            out.setdefault(ds, []).append((f"{ds}: architecture worth k× data, parameters and compute", path,
                                           _png(_multiplier_figure(ds, mult), path)))
        varied = {"params": len({r.spec.target_params for r in df.runs}) > 1,
                  "data": len({r.spec.data_size for r in df.runs}) > 1}
        varied["compute"] = varied["params"] or varied["data"]  # no plot along an axis the suite did not vary
        out[ds] = out.get(ds, []) + [(f"{ds}: loss against {what}", path, _png(draw(df), path))
                                     for kind, what, draw in _FIGURES if varied[kind]
                                     for path in [plots_dir / plot_file(ds, kind)]]
    return out


# ---------------------------------------------------------------------------- HTML

