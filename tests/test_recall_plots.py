"""The recall figures (`benchmarks/analysis/recall_plots.py`): drawn from the records, only for recall."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

import architectures
from architectures.spec import ArchShape
from benchmarks import data
from benchmarks.analysis.fits import DatasetFits
from benchmarks.analysis.recall_plots import recall_points, state_figure, width_figure, write_recall_plots
from tests.record_factory import make_record

FEW, MANY = "recall?pairs=4&positions=all&queries=4", "recall?pairs=16&positions=all&queries=16"
ACCS = {  # (dataset, family, width) -> accuracy per seed
    (FEW, "transformer", 16): [0.95, 0.97, 0.99], (FEW, "transformer", 32): [1.0, 0.99, 1.0],
    (FEW, "gru", 16): [0.60, 0.64, 0.62], (FEW, "gru", 32): [0.80, 0.70, 0.75],
    (MANY, "transformer", 16): [0.90, 0.94, 0.92], (MANY, "transformer", 32): [0.99, 0.98, 0.97],
    (MANY, "gru", 16): [0.20, 0.25, 0.30], (MANY, "gru", 32): [0.40, 0.35, 0.45],
}


def _fitted(accs: dict = ACCS) -> dict[str, DatasetFits]:
    runs: dict[str, list] = {}
    for (ds, arch, width), acc in accs.items():
        r = make_record(arch, [1.0] * len(acc), acc, dataset=ds, target_params=width * 1000)
        runs.setdefault(ds, []).append(dataclasses.replace(r, shape={"width": width, "depth": 2, "hidden": 8}))
    return {ds: DatasetFits(ds, {}, [], rs, []) for ds, rs in runs.items()}


def _drawn(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (x, y) of each line the panel's errorbars drew."""
    return {c.get_label(): tuple(np.asarray(a, dtype=float) for a in c.lines[0].get_data()) for c in ax.containers}


def test_the_width_figure_draws_each_runs_mean_accuracy_at_its_width_a_panel_per_number_of_pairs():
    fig = width_figure(recall_points(_fitted()))
    panels = fig.axes
    assert [ax.get_title() for ax in panels] == ["4 key-value pairs", "16 key-value pairs"]
    for ax, ds in zip(panels, (FEW, MANY), strict=True):
        for arch, (x, y) in _drawn(ax).items():
            assert x.tolist() == [16, 32]
            assert y == pytest.approx([100 * np.mean(ACCS[ds, arch, w]) for w in (16, 32)])
    plt.close(fig)


def test_the_state_figure_puts_each_run_at_its_familys_state_size():
    fig = state_figure(recall_points(_fitted()))
    ax = next(ax for ax in fig.axes if ax.get_title() == "gru")
    task = data.task(MANY)
    x, y = _drawn(ax)["16 pairs"]
    assert x.tolist() == [architectures.state_size("gru", task, ArchShape(w, 2, 8)) for w in (16, 32)]
    assert y == pytest.approx([100 * np.mean(ACCS[MANY, "gru", w]) for w in (16, 32)])
    plt.close(fig)


def test_recall_figures_are_written_under_the_first_recall_dataset_and_not_for_other_tasks(tmp_path):
    written = write_recall_plots(_fitted(), tmp_path)
    assert list(written) == [FEW]
    assert [p.name for _, p, _ in written[FEW]] == ["recall-accuracy-vs-width.png", "recall-accuracy-vs-state.png"]
    assert all(p.read_bytes() == png for _, p, png in written[FEW])
    other = {("mnist1d", "gru", 16): [0.5, 0.6], ("mnist1d", "gru", 32): [0.7, 0.8]}
    assert write_recall_plots(_fitted(other), tmp_path / "other") == {}
    one_width = {k: v for k, v in ACCS.items() if k[2] == 16}
    assert write_recall_plots(_fitted(one_width), tmp_path / "one") == {}

