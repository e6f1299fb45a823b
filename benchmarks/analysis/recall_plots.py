"""The report's figures for multi-query associative recall (`recall`; Zoology, Arora et al. 2023, its Figure 2).

- `recall_points`: per run on a `recall` dataset, the family, the number of key-value pairs, the solved
  width, the recurrent state size (`architectures.state_size` at the dataset's task), and the mean held-out
  accuracy over seeds with its Student-t interval (`stats.mean_ci`).
- `width_figure`: accuracy against model width, a panel per `recall` dataset (one number of pairs each,
  fewest first), a line per family.
- `state_figure`: accuracy against recurrent state size, a panel per family, a line per number of pairs.
- `write_recall_plots`: both as PNGs, shown in the section of the suite's first `recall` dataset; nothing
  where the suite has no runs on `recall`, or no family at two widths of it.

Both figures draw exactly the points of `recall_points`, so a test can read them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

import architectures  # noqa: E402
from architectures.spec import ArchShape  # noqa: E402
from benchmarks import data  # noqa: E402
from benchmarks.analysis.fits import DatasetFits  # noqa: E402
from benchmarks.analysis.plots import _colors, _png  # noqa: E402
from benchmarks.analysis.stats import mean_ci  # noqa: E402

RECALL = "recall"  # the dataset these figures are for


@dataclass(frozen=True)
class RecallPoint:
    """One run on a recall dataset, as both figures draw it."""

    dataset: str
    arch: str
    pairs: int  # key-value pairs in each context
    width: int  # the solved model width
    state_size: int | None  # floats carried between positions (None: the family reads no sequence)
    accuracy: float  # mean held-out (test) accuracy over seeds
    lo: float  # its 95% interval (NaN with one seed)
    hi: float
    seeds: int


def recall_points(fitted: dict[str, DatasetFits]) -> list[RecallPoint]:
    """Every usable run on a `recall` dataset, sorted by pairs, family and width."""
    points = []
    for ds, df in fitted.items():
        if ds.split("?")[0] != RECALL or not df.runs:  # by name: a report reads records of datasets it cannot load
            continue
        ref = data.parse(ds)
        task = data.task(ds)
        for r in df.runs:
            accs = [s.test_acc for s in r.seeds if s.test_acc is not None]
            if not accs or "width" not in r.shape:
                continue
            shape = ArchShape(r.shape["width"], r.shape.get("depth", 0), r.shape.get("hidden", 0))
            points.append(RecallPoint(ds, r.spec.arch, int(ref.options["pairs"]), shape.width,
                                      architectures.state_size(r.spec.arch, task, shape), *mean_ci(accs), len(accs)))
    return sorted(points, key=lambda p: (p.pairs, p.dataset, p.arch, p.width))


def _swept(points: list[RecallPoint]) -> bool:
    """Whether some family ran at two or more widths of one recall dataset (else a line has one point)."""
    widths: dict[tuple[str, str], set[int]] = {}
    for p in points:
        widths.setdefault((p.dataset, p.arch), set()).add(p.width)
    return any(len(w) > 1 for w in widths.values())


def _draw(ax, points: list[RecallPoint], x_of, color: str, label: str, marker: str = "o") -> None:
    """Mean accuracy (%) against x, with its interval where there are two seeds or more."""
    x = np.array([x_of(p) for p in points], dtype=float)
    y = np.array([100 * p.accuracy for p in points])
    below = np.nan_to_num([100 * (p.accuracy - p.lo) for p in points])
    above = np.nan_to_num([100 * (p.hi - p.accuracy) for p in points])
    ax.errorbar(x, y, yerr=[np.clip(below, 0, None), np.clip(above, 0, None)], fmt=f"{marker}-", color=color,
                markersize=4, capsize=3, label=label)


def _axes_style(ax, xlabel: str, xs: list[float]) -> None:
    """Log x, labelled at the values drawn (widths, state sizes) as plain numbers; accuracy 0-100%."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(xs)), [f"{x:,.0f}" for x in sorted(set(xs))], fontsize=8)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylim(-3, 103)
    ax.grid(True, which="major", alpha=0.35)


def width_figure(points: list[RecallPoint]) -> plt.Figure:
    """Accuracy against width, a panel per recall dataset (fewest pairs first), a line per family."""
    datasets = list(dict.fromkeys(p.dataset for p in points))
    colors = _colors(sorted({p.arch for p in points}))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.0 * len(datasets) + 1.6, 4.2), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, ds in zip(axes[0], datasets, strict=True):
        mine = [p for p in points if p.dataset == ds]
        for arch in sorted({p.arch for p in mine}):
            _draw(ax, [p for p in mine if p.arch == arch], lambda p: p.width, colors[arch], arch)
        ax.set_title(f"{mine[0].pairs} key-value pairs", fontsize=10)
        _axes_style(ax, "model width (solved at matched parameters)", [p.width for p in mine])
    axes[0, 0].set_ylabel("held-out recall accuracy (%)")
    axes[0, -1].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle("recall: accuracy against model width\n(mean over seeds, 95% intervals)", fontsize=11)
    return fig


def state_figure(points: list[RecallPoint]) -> plt.Figure:
    """Accuracy against recurrent state size, a panel per family, a line per number of pairs."""
    points = [p for p in points if p.state_size]
    archs = sorted({p.arch for p in points})
    datasets = list(dict.fromkeys(p.dataset for p in points))
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.8, max(len(datasets), 1)))
    fig, axes = plt.subplots(1, len(archs), figsize=(3.4 * len(archs) + 1.2, 3.8), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, arch in zip(axes[0], archs, strict=True):
        for shade, ds in zip(shades, datasets, strict=True):
            mine = [p for p in points if p.arch == arch and p.dataset == ds]
            if mine:
                _draw(ax, sorted(mine, key=lambda p: p.state_size), lambda p: p.state_size, shade,
                      f"{mine[0].pairs} pairs")
        ax.set_title(arch, fontsize=10)
        _axes_style(ax, "recurrent state (floats)", [p.state_size for p in points if p.arch == arch])
    axes[0, 0].set_ylabel("held-out recall accuracy (%)")
    axes[0, 0].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle("recall: accuracy against the state carried between positions (attention: its keys and "
                 "values)\n(mean over seeds, 95% intervals)", fontsize=11)
    return fig


def write_recall_plots(fitted: dict[str, DatasetFits], plots_dir: Path) -> dict[str, list[tuple[str, Path, bytes]]]:
    """Both figures, under the suite's first recall dataset: {dataset: [(caption, path, png bytes)]}; {} where
    no family ran at two widths of a recall dataset."""
    points = recall_points(fitted)
    if not _swept(points):
        return {}
    plots_dir.mkdir(parents=True, exist_ok=True)
    first = next(ds for ds in fitted if ds in {p.dataset for p in points})  # the section the report shows first
    out = []
    for kind, caption, draw in (("accuracy-vs-width", "recall: accuracy against width, a panel per number of pairs",
                                 width_figure),
                                ("accuracy-vs-state", "recall: accuracy against recurrent state size per family",
                                 state_figure)):
        path = plots_dir / f"{RECALL}-{kind}.png"
        out.append((caption, path, _png(draw(points), path)))
    return {first: out}
