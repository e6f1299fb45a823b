"""The report's figures for quality levels and model-width sweeps (the quality levels' table is the `quality`
statistic's, from its claims: `benchmarks.analysis.verdict_statistics.quality`).

- `quality_figure`: loss against training examples per family, one panel per quality level of the
  training data (clean first), the fitted curves and bands of `benchmarks.analysis.fits`.
- `write_quality_plots`: both figures as PNGs beside the report's others, by the dataset whose section
  shows them (the clean level's, for a quality axis).
- `width_figure`: held-out error against the width of the hidden layers, for a family swept over at
  least `MIN_WIDTHS` sizes at one training-set size (the MNIST-1D paper's double descent), its most
  prominent interior peak marked (`peak_width`).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

from benchmarks.analysis.fits import DatasetFits  # noqa: E402
from benchmarks.analysis.plots import _colors, _draw_curve, _legend, _loss_points, _png, _style  # noqa: E402
from benchmarks.analysis.stats import mean_ci  # noqa: E402
from benchmarks.analysis.verdict import Verdict  # noqa: E402
from benchmarks.analysis.verdict_statistics.quality import QualityAxis  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.layout import slug  # noqa: E402

MIN_WIDTHS = 5  # sizes of one family at one data size that make a width sweep


def quality_figure(fitted: dict[str, DatasetFits], axis: QualityAxis) -> plt.Figure:
    """Loss against training examples per family at its largest model size, one panel per quality level."""
    panels = [("clean", axis.clean)] + [(q.level, q.dataset) for q in axis.levels]
    archs = sorted({a for _, ds in panels for a in fitted[ds].archs})
    colors = _colors(archs)
    runs = [r for _, ds in panels for r in fitted[ds].runs]
    size = max(r.spec.target_params for r in runs)
    xs = [r.spec.data_size for r in runs]
    x_lo, x_hi = min(xs) / 1.25, max(xs) * 1.25
    ncols = min(len(panels), 3)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 1.8, 3.6 * nrows + 0.6), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, (label, ds) in zip(axes.flat, panels, strict=False):
        df = fitted[ds]
        for arch, af in df.archs.items():
            mine = [r for r in df.runs if r.spec.arch == arch and r.spec.target_params == size]
            if not mine:
                continue
            x, mean, below, above = _loss_points(mine, lambda r: r.spec.data_size, af.noise)
            ax.errorbar(x, mean, yerr=[below, above], fmt="o", color=colors[arch], markersize=5, capsize=3)
            fit = af.vs_data.get(size)
            if fit is not None and fit.kind is not None:
                _draw_curve(ax, fit, colors[arch], x_lo, x_hi)
        ax.set_title(f"{label} ({short_count(size)} parameters)", fontsize=10)
        ax.set_xlim(x_lo, x_hi)
        _style(ax, "training examples")
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())  # the data sizes, not every minor tick
        ax.set_xticks(sorted(set(xs)), [f"{x:,}" for x in sorted(set(xs))])
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("held-out test loss (cross-entropy, nats)")
    fig.suptitle(f"{axis.base}: held-out loss against training examples at each quality of the training data\n"
                 "(validation and test clean; mean over seeds, 95% intervals; solid: fitted law; dashed: local log-log slope)",
                 fontsize=11)
    _legend(fig, colors)
    return fig


def width_sweeps(df: DatasetFits) -> list[tuple[str, int]]:
    """(family, data size) pairs run at MIN_WIDTHS or more model sizes."""
    seen: dict[tuple[str, int], set[int]] = {}
    for r in df.runs:
        seen.setdefault((r.spec.arch, r.spec.data_size), set()).add(r.spec.target_params)
    return sorted(k for k, sizes in seen.items() if len(sizes) >= MIN_WIDTHS)


def error_by_width(df: DatasetFits, arch: str, data_size: int) -> tuple[np.ndarray, ...]:
    """Width of the hidden layers, mean held-out error over seeds and its interval, per run, by width."""
    rows = []
    for r in df.runs:
        if r.spec.arch == arch and r.spec.data_size == data_size:
            errors = [1 - s.test_acc for s in r.seeds if s.test_acc is not None]
            rows.append((r.shape.get("width", r.params), *mean_ci(errors)))
    width, mean, lo, hi = (np.array(c, dtype=float) for c in zip(*sorted(rows), strict=True))
    return width, mean, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0)


def peak_width(width: np.ndarray, error: np.ndarray) -> tuple[float, float] | None:
    """(width, prominence) of the most prominent interior peak of error against width (the double descent's
    peak: higher than its neighbours, by how much it stands above the lower of the minima on either side);
    None where the error has no interior peak."""
    from scipy.signal import find_peaks, peak_prominences

    peaks, _ = find_peaks(error)
    if peaks.size == 0:
        return None
    prominence = peak_prominences(error, peaks)[0]
    best = int(np.argmax(prominence))
    return float(width[peaks[best]]), float(prominence[best])


def width_summary(df: DatasetFits) -> dict[str, dict]:
    """Per width sweep (`family@data_size`): widths, mean held-out error and interval, and the peak, for fits.json."""
    out = {}
    for arch, d in width_sweeps(df):
        width, mean, lo, hi = error_by_width(df, arch, d)
        peak = peak_width(width, mean)
        out[f"{arch}@{d}"] = {"arch": arch, "data_size": d, "width": width.tolist(), "test_error": mean.tolist(),
                              "lo": lo.tolist(), "hi": hi.tolist(), "peak_width": peak[0] if peak else None,
                              "peak_prominence": peak[1] if peak else None}
    return out


def width_figure(df: DatasetFits) -> plt.Figure | None:
    """Held-out error against width for each width sweep of the dataset, the highest error marked; None if none."""
    sweeps = width_sweeps(df)
    if not sweeps:
        return None
    colors = _colors([a for a, _ in sweeps])
    fig, ax = plt.subplots(figsize=(8.0, 4.8), layout="constrained")
    for arch, d in sweeps:
        width, mean, lo, hi = error_by_width(df, arch, d)
        ax.errorbar(width, 100 * mean, yerr=[100 * np.clip(mean - lo, 0, None), 100 * np.clip(hi - mean, 0, None)],
                    fmt="o-", color=colors[arch], markersize=4, capsize=3, label=f"{arch}, {d:,} examples")
        if (peak := peak_width(width, mean)) is not None:
            at = int(np.flatnonzero(width == peak[0])[0])
            ax.annotate(f"peak: width {peak[0]:g}", (peak[0], 100 * mean[at]), textcoords="offset points",
                        xytext=(0, 10), ha="center", fontsize=9, color=colors[arch])
    ax.set_xscale("log")
    ax.set_xlabel("width of the hidden layers")
    ax.set_ylabel("held-out test error (%)")
    ax.grid(True, which="major", alpha=0.35)
    ax.legend(frameon=False, fontsize=9)
    ax.set_title(f"{df.dataset}: held-out error against width (mean over seeds, 95% intervals)", fontsize=11)
    return fig


def write_quality_plots(fitted: dict[str, DatasetFits], plots_dir: Path,
                        stated: Verdict) -> dict[str, list[tuple[str, Path, bytes]]]:
    """The quality panels of each dataset run at quality levels, and the error-against-width figure of each
    dataset with a width sweep: {dataset: [(caption, path, png bytes)]}."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[tuple[str, Path, bytes]]] = {}
    for axis in stated.quality:
        path = plots_dir / f"{slug(axis.base)}-quality-loss-vs-data.png"
        caption = f"{axis.base}: loss against training examples, a panel per quality of the training data"
        out.setdefault(axis.clean, []).append((caption, path, _png(quality_figure(fitted, axis), path)))
    for ds, df in fitted.items():
        if df.runs and (fig := width_figure(df)) is not None:
            path = plots_dir / f"{slug(ds)}-error-vs-width.png"
            peaks = [f"{s['arch']}: peak at width {s['peak_width']:g}" for s in width_summary(df).values()
                     if s["peak_width"] is not None]
            caption = f"{ds}: held-out error against width" + (f" ({'; '.join(peaks)})" if peaks else "")
            out.setdefault(ds, []).append((caption, path, _png(fig, path)))
    return out
