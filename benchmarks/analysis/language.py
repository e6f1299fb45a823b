"""Next-token suites in the report: losses in nats and in bits, and the loss against the position in the context.

A next-token dataset's loss is a cross-entropy per token in nats; the report also states it in bits per token
(nats / ln 2), per byte for a byte-level corpus (`token_unit`). Classification datasets keep their figures and
words as they were: every function here returns nothing for them.

The loss against the position in the context (Kaplan et al. 2020, Figure 7, right) is read from each seed's
`test_position_loss` (the test loss at each position at its scored checkpoint, benchmarks/running/runner.py): per
family, its run at its largest model size and, there, its largest training-set size (`position_curves`). The
position is counted in tokens read: the prediction at position t has read t + 1 tokens.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

from benchmarks import data  # noqa: E402
from benchmarks.analysis.stats import mean_ci  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.data import text  # noqa: E402
from benchmarks.layout import plot_file  # noqa: E402
from benchmarks.spec import RunRecord, UserError  # noqa: E402

# ---------------------------------------------------------------------------- units


@functools.lru_cache(maxsize=64)
def task_of(dataset: str):
    """A dataset's task, known without preparing it; None for a dataset this process cannot describe (a report
    reads records of datasets it may not load: they are shown as classification's are)."""
    try:
        return data.task(dataset)
    except (UserError, OSError, KeyError, ValueError, TypeError):
        return None


def token_unit(dataset: str) -> str | None:
    """What a next-token dataset's loss is per: "byte" for a byte-level corpus (tokens over the 256 bytes of
    UTF-8 text: `pydoc`, `text:PATH`), "token" for any other; None for a classification dataset (or one that
    cannot be described here)."""
    task = task_of(dataset)
    if task is None or not task.causal:
        return None
    return "byte" if task.input_kind == "tokens" and task.vocab_size == text.VOCAB else "token"


def context_length(dataset: str) -> int:
    """Tokens per window of a next-token dataset: an example of its training set is one window."""
    task = task_of(dataset)
    return int(task.input_shape[0]) if task is not None else 0


bits = text.bits  # a cross-entropy in nats, in bits (numbers or arrays)


def loss_header(dataset: str, what: str = "test loss") -> list[str]:
    """The header of a loss column, with its unit for a next-token dataset, and of the column in bits beside
    it: ["test loss"] for classification, ["test loss (nats/byte)", "bits/byte"] for a byte-level corpus."""
    unit = token_unit(dataset)
    return [what] if unit is None else [f"{what} (nats/{unit})", f"bits/{unit}"]


def in_bits(dataset: str, nats: float | None, fmt: str = ".4g") -> list[str]:
    """The cell in bits beside a loss in nats, for a next-token dataset (none for classification)."""
    if token_unit(dataset) is None:
        return []
    return ["—" if nats is None or not math.isfinite(nats) else f"{bits(nats):{fmt}}"]


def loss_axes(ax, dataset: str, x: str | None = None, left: bool = True, right: bool = True) -> None:
    """Say the units on a figure of a next-token dataset's loss: nats per token on the left (`left`: the panel
    that carries the label), bits on the right (`right`); with `x="data"`, training tokens along the top
    (windows × context). A classification dataset's figure is left as it is."""
    unit = token_unit(dataset)
    if unit is None:
        return
    if left:
        ax.set_ylabel(f"held-out test loss (nats/{unit})")
    if right:
        axis = ax.secondary_yaxis("right", functions=(bits, lambda b: b * math.log(2)))
        axis.set_ylabel(f"bits/{unit}")
        axis.yaxis.set_major_locator(ticker.MaxNLocator(nbins=7))
        axis.yaxis.set_minor_locator(ticker.NullLocator())
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    if x == "data":
        n = context_length(dataset)
        top = ax.secondary_xaxis("top", functions=(lambda w: w * n, lambda t: t / n))
        top.set_xlabel(f"training tokens ({unit}s: windows × {n})", fontsize=8)
        top.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        top.xaxis.set_minor_formatter(ticker.NullFormatter())
        top.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))


def data_label(dataset: str, base: str = "training examples") -> str:
    """The data axis's words: for a next-token dataset an example is a window of `context` tokens."""
    unit, n = token_unit(dataset), context_length(dataset)
    return base if unit is None else f"training windows of {n} {unit}s"


def loss_words(datasets: Sequence[str]) -> str:
    """What the report's losses are measured in, where some dataset is next-token: '' for classification."""
    units = sorted({u for d in datasets if (u := token_unit(d)) is not None})
    if not units:
        return ""
    per = " or ".join(f"nats per {u}" for u in units)
    return f" Next-token losses are in {per} (bits = nats / ln 2 beside them)."


# ---------------------------------------------------------------------------- loss against position


@dataclass(frozen=True)
class PositionCurve:
    """One run's test loss at each position of the context, per seed (nats; NaN where no token is scored)."""

    arch: str
    target_params: int
    data_size: int
    seeds: tuple[int, ...]
    losses_SxL: np.ndarray

    @property
    def tokens_read(self) -> np.ndarray:
        """1 ... L: the prediction at position t has read t + 1 tokens."""
        return np.arange(1, self.losses_SxL.shape[1] + 1)

    def mean_ci(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per position: the mean over seeds and its Student-t interval (NaN bounds with one seed)."""
        rows = [mean_ci(col[np.isfinite(col)]) for col in self.losses_SxL.T]
        return tuple(np.array(c, dtype=float) for c in zip(*rows, strict=True))


def _position_losses(r: RunRecord) -> list[tuple[int, list[float | None]]]:
    return [(s.seed, s.test_position_loss) for s in r.seeds if s.test_position_loss and s.test_loss is not None]


def position_curves(records: Sequence[RunRecord]) -> list[PositionCurve]:
    """Per family (sorted), its run with position losses at its largest model size and, there, its largest
    training-set size (the newest record of that cell); none for a dataset whose records have no position
    losses (classification)."""
    best: dict[str, RunRecord] = {}
    for r in records:
        if r.status != "ok" or not _position_losses(r):
            continue
        key = lambda x: (x.spec.target_params, x.spec.data_size, x.created_at)
        if r.spec.arch not in best or key(r) > key(best[r.spec.arch]):
            best[r.spec.arch] = r
    curves = []
    for arch in sorted(best):
        r = best[arch]
        got = _position_losses(r)
        losses = np.array([[np.nan if v is None else v for v in loss] for _, loss in got], dtype=float)
        curves.append(PositionCurve(arch, r.spec.target_params, r.spec.data_size, tuple(s for s, _ in got), losses))
    return curves


def octaves(length: int) -> list[tuple[int, int]]:
    """The context cut into octaves of tokens read, (first, last) inclusive: (1, 1), (2, 2), (3, 4), (5, 8), ...,
    the last one ending at `length`: equal blocks on the log axis a position figure is read on."""
    edges = [0]
    while edges[-1] < length:
        edges.append(min(length, max(1, 2 * edges[-1])))
    return [(a + 1, b) for a, b in zip(edges, edges[1:], strict=False)]


def octave_losses(curve: PositionCurve) -> np.ndarray:
    """Each seed's mean loss over each octave of the context (S x K; NaN where an octave scores no token)."""
    out = np.full((curve.losses_SxL.shape[0], len(octaves(curve.losses_SxL.shape[1]))), np.nan)
    for j, (a, b) in enumerate(octaves(curve.losses_SxL.shape[1])):
        block = curve.losses_SxL[:, a - 1:b]
        scored = np.isfinite(block).any(axis=1)
        out[scored, j] = np.nanmean(block[scored], axis=1)
    return out


def octave_points(curve: PositionCurve) -> tuple[np.ndarray, np.ndarray]:
    """Where the figure draws each octave's loss: its middle in tokens read (geometric), and the mean over seeds
    of the seeds' octave losses."""
    blocks = octaves(curve.losses_SxL.shape[1])
    return (np.array([math.sqrt(a * b) for a, b in blocks]),
            np.array([np.nanmean(col) if np.isfinite(col).any() else np.nan for col in octave_losses(curve).T]))


def position_figure(dataset: str, curves: Sequence[PositionCurve], plateaus: dict[str, int] | None = None) -> plt.Figure:
    """Loss against tokens read: per family a thin line at every position (mean over seeds) with its 95% interval
    over seeds, and its mean over each octave of the context (the points the verdict's rule compares, joined);
    a hollow marker at the octave from which the verdict says its loss falls no further beyond noise
    (`plateaus`: family -> the octave's first token)."""
    from benchmarks.analysis.plots import _colors, _style

    colors = _colors([c.arch for c in curves])
    fig, ax = plt.subplots(figsize=(9.5, 5.4), layout="constrained")
    for c in curves:
        mean, lo, hi = c.mean_ci()
        color = colors[c.arch]
        ax.plot(c.tokens_read, mean, color=color, linewidth=0.8, alpha=0.6)
        if np.isfinite(lo).any():
            ax.fill_between(c.tokens_read, lo, hi, color=color, alpha=0.12, linewidth=0)
        x, y = octave_points(c)
        ax.plot(x, y, color=color, marker="o", markersize=4, linewidth=1.8,
                label=f"{c.arch} ({short_count(c.target_params)} params, {c.data_size:,} windows)")
        at = (plateaus or {}).get(c.arch)
        starts = [a for a, _ in octaves(c.losses_SxL.shape[1])]
        if at in starts:
            j = starts.index(at)
            ax.plot(x[j], y[j], marker="o", markersize=10, markerfacecolor="none", color=color, linestyle="none")
    _style(ax, "tokens of context read (position + 1)")
    loss_axes(ax, dataset)
    fig.suptitle(f"{dataset}: held-out loss against position in the context (Kaplan et al. 2020, Fig. 7 right)\n"
                 "each family at its largest size and data size; thin: each position, mean over seeds, band 95% over "
                 "seeds;\npoints: mean over each octave of positions; ringed: from there no further fall beyond noise",
                 fontsize=10)
    fig.legend(loc="outside right center", frameon=False, title="architecture", fontsize=8)
    return fig


def position_plots(dataset: str, records: Sequence[RunRecord], plots_dir: Path,
                   plateaus: dict[str, int] | None = None) -> list[tuple[str, Path, bytes]]:
    """The figure of loss against position for a next-token dataset, [(caption, path, png)]; [] for others."""
    from benchmarks.analysis.plots import _png

    curves = position_curves(records)
    if not curves:
        return []
    plots_dir.mkdir(parents=True, exist_ok=True)
    path = plots_dir / plot_file(dataset, "position")
    return [(f"{dataset}: loss against position in the context", path,
             _png(position_figure(dataset, curves, plateaus), path))]
