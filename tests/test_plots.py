"""How the report's figures label their axes (`benchmarks/analysis/plots.py`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from benchmarks.analysis.plots import _style


@pytest.mark.parametrize("x, labels", [
    ((400, 1000, 2000, 4000), ["500", "1k", "2k"]),  # the loss-against-data panels of `quick`
    ((2_500, 1_000_000), ["10k", "100k", "1M"]),  # wider than two decades: the decades alone
])
def test_log_x_ticks_are_round_counts_and_minor_ticks_carry_no_label(x, labels):
    fig, ax = plt.subplots()
    ax.plot(x, [1.0 + 0.1 * i for i in range(len(x))], "o")
    _style(ax, "training examples")
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]
    assert shown == labels
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    plt.close(fig)
