"""benchmarks/analysis/verdict_statistics/quality.py on planted results: clean data worth a known k× noisy data, and a known
architecture × quality interaction, recovered within their intervals; in the verdict's words and fits.json."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_results import Law, planted_records

from benchmarks.analysis.fits import fit_dataset
from benchmarks.analysis.quality_plots import error_by_width, peak_width, width_sweeps
from benchmarks.analysis.report import write_report
from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_statistics.quality import quality_axes, quality_contrasts
from benchmarks.analysis.verdict_words import quality_section
from benchmarks.data.levels import quality_groups
from benchmarks.layout import slug
from benchmarks.running.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
BETA = 0.3
CLEAN_EFFECT = {"conv": 0.0, "mlp": 0.05, "transformer": 0.1}  # the families' log-loss offsets with clean data
WORTH = {"conv": 3.0, "mlp": 1.5, "transformer": 1.0}  # clean data is worth k× noisy data, per family
DESIGN = dict(sizes=(2_500,), data_sizes=(250, 500, 1000, 2000), seeds=(0, 1, 2), epochs=16.0)  # quality.toml's


def _law(effect: dict[str, float]) -> Law:
    """L = B·D^−β times e^effect: no floor and no model-size term, so the planted factors are exact."""
    return Law(E=0.0, A=0.0, B=20.0, beta=BETA, effect=effect, sigma=0.01)


def _planted(rng: int = 0) -> list:
    noisy = {a: e + BETA * np.log(WORTH[a]) for a, e in CLEAN_EFFECT.items()}  # L(D/k) = k^β·L(D)
    return (planted_records(_law(CLEAN_EFFECT), dataset="mnist1d", rng=rng, **DESIGN)
            + planted_records(_law(noisy), dataset="mnist1d?label_noise=0.2", rng=rng + 1, **DESIGN))


def test_levels_group_under_their_clean_dataset_and_become_its_contrasts():
    names = ["mnist1d", "mnist1d?label_noise=0.2", "mnist1d?label_noise=0.1", "listops?label_noise=0.1", "recall"]
    assert quality_groups(names) == {"mnist1d": {"": "mnist1d", "label_noise=0.1": "mnist1d?label_noise=0.1",
                                                 "label_noise=0.2": "mnist1d?label_noise=0.2"}}
    assert [(c.base, c.variant) for c in quality_contrasts(names)] == [
        ("mnist1d", "mnist1d?label_noise=0.1"), ("mnist1d", "mnist1d?label_noise=0.2")]


def test_planted_clean_data_multipliers_and_interaction_are_recovered_within_their_intervals():
    stated = verdict(_planted())
    (axis,) = stated.quality
    (level,) = axis.levels
    assert (axis.base, axis.clean, level.level) == ("mnist1d", "mnist1d", "label_noise=0.2")
    for arch, k in WORTH.items():
        m = level.headline(arch)
        assert m.status == "ok" and m.x0 == 250
        assert np.exp(m.log_k.lo) <= k <= np.exp(m.log_k.hi), (arch, m.log_k)
        assert m.log_k.hi - m.log_k.lo < np.log(2.0)  # tight enough to tell 3× from 1.5× from 1×
    truth_clean = np.std(list(CLEAN_EFFECT.values()), ddof=1)
    truth_noisy = np.std([e + BETA * np.log(WORTH[a]) for a, e in CLEAN_EFFECT.items()], ddof=1)
    spread = level.interaction
    assert spread.base.lo <= truth_clean <= spread.base.hi
    assert spread.variant.lo <= truth_noisy <= spread.variant.hi
    assert spread.change.lo <= truth_noisy - truth_clean <= spread.change.hi and spread.change.lo > 0

    words = quality_section(axis, axis.levels[0]).text()
    assert "conv needs more training examples than its clean curve: 3" in words
    assert "transformer matches its clean curve within noise (1" in words
    assert "the families drift apart as quality falls" in words


def test_the_planted_multiplier_and_interaction_intervals_cover_the_truth_at_about_their_level():
    """40 planted datasets at the quality suite's design: the 95% intervals of the three families' clean-data
    multipliers hold the truth in about 95% of the 120 (binomial sd 2%), the spread's at either level in about
    95% of the 80, and its change's at least as often."""
    truth = {"base": np.std(list(CLEAN_EFFECT.values()), ddof=1),
             "variant": np.std([e + BETA * np.log(WORTH[a]) for a, e in CLEAN_EFFECT.items()], ddof=1)}
    truth["change"] = truth["variant"] - truth["base"]
    covered, spread_covered = 0, dict.fromkeys(truth, 0)
    for rng in range(0, 80, 2):
        by_dataset: dict[str, list] = {}
        for r in _planted(rng):
            by_dataset.setdefault(r.spec.dataset, []).append(r)
        level = quality_axes({ds: fit_dataset(rs) for ds, rs in by_dataset.items()}, []).pop().levels[0]
        for arch, k in WORTH.items():
            m = level.headline(arch)
            covered += np.exp(m.log_k.lo) <= k <= np.exp(m.log_k.hi)
        for part, t in truth.items():
            e = getattr(level.interaction, part)
            spread_covered[part] += e.lo <= t <= e.hi
    assert 0.88 <= covered / 120 <= 1.0, covered
    assert 0.85 <= (spread_covered["base"] + spread_covered["variant"]) / 80 <= 1.0, spread_covered
    assert spread_covered["change"] / 40 >= 0.9, spread_covered


def test_the_report_writes_the_multipliers_and_interaction_to_fits_json_and_draws_a_panel_per_level(tmp_path):
    store = ResultsStore(tmp_path, "quality")
    for r in _planted():
        store.append(r)
    written = write_report(tmp_path, "quality")
    doc = json.loads((tmp_path / "quality" / "fits.json").read_text())
    (axis,) = doc["quality"]
    (level,) = axis["levels"]
    assert level["level"] == "label_noise=0.2" and set(level["data_multiplier"]) == set(WORTH)
    assert level["data_multiplier"]["conv"]["lo"] <= 3.0 <= level["data_multiplier"]["conv"]["hi"]
    assert level["interaction"]["change"]["lo"] > 0
    assert any(s["title"] == "Quality: mnist1d at label_noise=0.2 against clean" for s in doc["verdict"]["sections"])
    plot = tmp_path / "quality" / "plots" / "mnist1d-quality-loss-vs-data.png"
    assert plot.is_file() and plot in written.files
    page = written.report.read_text()
    assert "a panel per quality of the training data (mnist1d-quality-loss-vs-data.png)" in page
    assert "Quality of the training data: mnist1d" in page and "clean data worth" in page


def test_a_width_sweep_gets_an_error_against_width_figure_with_its_peak(tmp_path):
    """Planted: held-out error peaks at width 48 of 4..256 (the double descent's shape)."""
    widths = [4, 8, 16, 32, 48, 64, 128, 256]
    error = {4: 0.6, 8: 0.52, 16: 0.48, 32: 0.5, 48: 0.56, 64: 0.53, 128: 0.49, 256: 0.46}
    records = planted_records(_law({"mlp": 0.0}), dataset="mnist1d?label_noise=0.15",
                              sizes=[w * w + 52 * w + 10 for w in widths], data_sizes=(4000,), seeds=(0, 1, 2))
    store = ResultsStore(tmp_path, "dd")
    for r in records:
        w = next(w for w in widths if w * w + 52 * w + 10 == r.spec.target_params)
        seeds = [dataclasses.replace(s, test_acc=1 - error[w] + 0.005 * (s.seed - 1)) for s in r.seeds]
        store.append(dataclasses.replace(r, shape={"width": w, "depth": 2, "hidden": w}, seeds=seeds))
    df = fit_dataset(store.records())
    assert width_sweeps(df) == [("mlp", 4000)]
    width, mean, lo, hi = error_by_width(df, "mlp", 4000)
    assert width.tolist() == widths and np.all(lo < mean) and np.all(mean < hi)
    assert peak_width(width, mean) == (48, pytest.approx(0.08))  # not width 4: the error there is the first descent
    written = write_report(tmp_path, "dd")
    assert [p.name for p in written.files if p.name.endswith("-error-vs-width.png")] == [
        f"{slug('mnist1d?label_noise=0.15')}-error-vs-width.png"]
    sweep = json.loads((tmp_path / "dd" / "fits.json").read_text())["datasets"]["mnist1d?label_noise=0.15"]
    assert sweep["width_sweeps"]["mlp@4000"]["peak_width"] == 48
    assert "mlp: peak at width 48" in written.report.read_text()


PAPER_PEAK_WIDTH = 47  # greydanus/mnist1d notebooks/deep-double-descent.ipynb: test error 55.8% at h = 47 (15% noise)


def test_the_double_descent_reference_peaks_within_a_factor_2_of_the_papers_width_then_falls():
    doc = json.loads((ROOT / "results" / "reference" / "doubledescent" / "fits.json").read_text())
    sweep = doc["datasets"]["mnist1d?label_noise=0.15"]["width_sweeps"]["mlp@4000"]
    assert PAPER_PEAK_WIDTH / 2 <= sweep["peak_width"] <= PAPER_PEAK_WIDTH * 2
    error = dict(zip(sweep["width"], sweep["test_error"], strict=True))
    peak = error[sweep["peak_width"]]
    assert peak > min(e for w, e in error.items() if w < sweep["peak_width"])  # it rose to the peak ...
    assert error[max(error)] < peak  # ... and falls again past it


def test_the_quality_reference_holds_every_familys_multiplier_per_level_and_the_interaction():
    doc = json.loads((ROOT / "results" / "reference" / "quality" / "fits.json").read_text())
    (axis,) = doc["quality"]
    assert axis["dataset"] == "mnist1d" and [q["level"] for q in axis["levels"]] == ["label_noise=0.1",
                                                                                      "label_noise=0.2"]
    families = {"convnet", "gru", "mingru", "mixer", "mlp", "transformer"}
    for level in axis["levels"]:
        assert set(level["data_multiplier"]) == families
        for m in level["data_multiplier"].values():
            assert m["status"] == "ok" and m["lo"] <= m["value"] <= m["hi"]
        change = level["interaction"]["change"]
        assert change["lo"] <= change["value"] <= change["hi"]
    plot = ROOT / "results" / "reference" / "quality" / "plots" / "mnist1d-quality-loss-vs-data.png"
    assert plot.is_file()
