"""The compute-frontier figures (Smith et al. 2023's, Hoffmann et al. 2022's): per family, held-out loss
against training compute, every (size, length) run faint and the family's frontier bold, log-log; and the
compute-optimal model size against compute. Each is a PNG under the results folder's plots/."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.analysis.compute_optimal import ComputeFrontiers, FamilyFrontier  # noqa: E402
from benchmarks.analysis.fits import DatasetFits, training_flops  # noqa: E402
from benchmarks.analysis.plots import LOSS_LABEL, _colors, _png, _style  # noqa: E402
from benchmarks.analysis.stats import percentiles, run_log_losses  # noqa: E402
from benchmarks.layout import plot_file  # noqa: E402

COMPUTE_LABEL = "training compute per seed (FLOPs: 3 × forward FLOPs × examples seen)"
KIND_WORDS = {"ok": "law", "slope": "local line"}


def _grid(f: FamilyFrontier, n: int = 60) -> np.ndarray:
    return np.linspace(*f.log_c_range, n)


def _frontier_band(ax, f: FamilyFrontier, color: str, width: float = 2.6) -> None:
    """The family's frontier over its measured compute (bold), with the band of its replicates: the law's
    curve, or the envelope of the runs itself with its local line thin and dashed."""
    label = f"{f.arch} ({KIND_WORDS[f.status]})"
    if f.status == "slope":
        x = np.array([row["compute"] for row in f.envelope_rows])
        y = np.array([[row["loss"][k] for k in ("value", "lo", "hi")] for row in f.envelope_rows])
        ax.plot(x, y[:, 0], color=color, linewidth=width, label=label)
        ax.fill_between(x, y[:, 1], y[:, 2], color=color, alpha=0.18, linewidth=0)
        ax.plot(x, np.exp(f.log_loss_RxK(np.log(x))[0]), color=color, linewidth=1.0, linestyle="--")
        return
    log_c = _grid(f)
    rows = np.exp(f.log_loss_RxK(log_c))
    ax.plot(np.exp(log_c), rows[0], color=color, linewidth=width, label=label)
    if len(rows) > 2:
        lo, hi = percentiles(rows[1:], axis=0)
        ax.fill_between(np.exp(log_c), lo, hi, color=color, alpha=0.18, linewidth=0)


def _family_panel(ax, df: DatasetFits, f: FamilyFrontier, color: str) -> None:
    runs = [r for r in df.runs if r.spec.arch == f.arch and r.flops_per_example > 0]
    for n in sorted({r.spec.target_params for r in runs}):
        mine = sorted((r for r in runs if r.spec.target_params == n), key=training_flops)
        x = [training_flops(r) for r in mine]
        y = [float(np.exp(run_log_losses(r).mean())) for r in mine]
        ax.plot(x, y, "o-", color=color, alpha=0.3, markersize=3.5, linewidth=0.8)
        ax.annotate(f"{n / 1000:g}k", (x[-1], y[-1]), fontsize=7, alpha=0.6, xytext=(3, 0), textcoords="offset points")
    if f.ok:
        _frontier_band(ax, f, color)
    elif f.points:
        ax.step([p.compute for p in f.points], [p.loss for p in f.points], where="post", color=color, linewidth=2.4)
    title = f"{f.arch}" + (f": γ = {f.estimates['gamma'].value:.3g}" if f.ok else " (no frontier fit)")
    ax.set_title(title, fontsize=10)
    _style(ax, "training FLOPs per seed")


def loss_figure(df: DatasetFits, fr: ComputeFrontiers) -> plt.Figure:
    """One panel per family (its runs faint, joined per size; its frontier bold), then all frontiers together."""
    archs = list(fr.families)
    colors = _colors(archs)
    cols = min(4, len(archs) + 1)
    rows = math.ceil((len(archs) + 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, arch in zip(axes.flat, archs):
        _family_panel(ax, df, fr.families[arch], colors[arch])
    ax = axes.flat[len(archs)]
    for arch, f in fr.fitted.items():
        _frontier_band(ax, f, colors[arch], width=2.0)
    ax.set_title("every family's frontier", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    _style(ax, "training FLOPs per seed")
    for ax in axes.flat[len(archs) + 1:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(LOSS_LABEL)
    fig.suptitle(f"{df.dataset}: held-out loss against training compute ({COMPUTE_LABEL})\nfaint: each size's runs "
                 "over its training lengths (mean over seeds); bold: the family's frontier (the law's, or the envelope "
                 "of its runs with its local line dashed); band: 95% interval", fontsize=10)
    return fig


def size_figure(df: DatasetFits, fr: ComputeFrontiers) -> plt.Figure:
    """Compute-optimal parameters against compute per family, with 95% intervals; dashed past the measured sizes."""
    colors = _colors(list(fr.families))
    fig, ax = plt.subplots(figsize=(8.5, 5.0), layout="constrained")
    for arch, f in fr.fitted.items():
        table = f.table(_grid(f, 25))
        x = np.array([row["compute"] for row in table])
        n = np.array([[row["optimal_params"][k] for k in ("value", "lo", "hi")] for row in table])
        a = f.estimates.get("a")
        label = f"{arch}: a = {a.value:.2f} [{a.lo:.2f}, {a.hi:.2f}]" if a else f"{arch}: a not measured"
        ax.plot(x, n[:, 0], color=colors[arch], linewidth=2.0, label=label, linestyle="-" if f.status == "ok" else "--")
        if f.status != "ok":  # the envelope's N*: filled where the sizes bracket it, hollow where a size bounds it
            inner = np.array([row["measured"] for row in table])
            ax.plot(x[inner], n[inner, 0], "o", color=colors[arch], markersize=4)
            ax.plot(x[~inner], n[~inner, 0], "o", markerfacecolor="none", color=colors[arch], markersize=4)
        ax.fill_between(x, n[:, 1], n[:, 2], color=colors[arch], alpha=0.15, linewidth=0)
    _style(ax, COMPUTE_LABEL)
    ax.set_ylabel("compute-optimal parameters N*")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"{df.dataset}: compute-optimal model size against training compute, N* ∝ C^a\n(solid: from the "
                 "law; dashed: IsoFLOP vertices of the runs, hollow where N* is the smallest or largest\nsize covering "
                 "that compute, a bound and not a measurement; band: 95% interval)", fontsize=10)
    return fig


def frontier_plots(df: DatasetFits, plots_dir: Path) -> list[tuple[str, Path, bytes]]:
    """The two figures of a dataset whose compute varies apart from parameters: [(caption, path, png)]."""
    fr = df.frontiers
    if fr is None or not fr.families:
        return []
    out = []
    for kind, caption, draw in (("frontiers", "compute frontiers per family", loss_figure),
                                ("optimal-size", "compute-optimal model size against compute", size_figure)):
        if kind == "optimal-size" and not fr.fitted:
            continue
        path = plots_dir / plot_file(df.dataset, kind)
        out.append((f"{df.dataset}: {caption}", path, _png(draw(df, fr), path)))
    return out
