"""Seed noise as a split plot: an init shared by every data size, counted once; Holm's correction and its levels."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.analysis.seed_noise import SplitPlotNoise, holm, holm_levels, t_estimate, t_p


def split_plot(gen, tau=0.04, sigma=0.02, sizes=3, data_sizes=4, seeds=3):
    """One family's seeds: cell means 0, an init per (size, seed) shared by its data sizes, noise per seed."""
    y, cells, plots = [], [], []
    for n in range(sizes):
        for s in range(seeds):
            u = tau * gen.standard_normal()
            for d in range(data_sizes):
                y.append(u + sigma * gen.standard_normal())
                cells.append((n, d))
                plots.append((n, s))
    return np.array(y), cells, plots


def test_moments_recover_the_init_and_the_seed_noise():
    gen = np.random.default_rng(0)
    noise = SplitPlotNoise.of(*split_plot(gen, sizes=60))
    assert noise.shared
    assert noise.tau2 == pytest.approx(0.04**2, rel=0.25) and noise.sigma2 == pytest.approx(0.02**2, rel=0.15)


def test_an_average_over_data_sizes_counts_each_init_once_and_covers_at_its_level():
    """The mean over every cell: its interval covers 0 at 95%; treating seeds as independent would not."""
    gen = np.random.default_rng(1)
    hits = naive_hits = 0
    n_sims = 300
    for _ in range(n_sims):
        y, cells, plots = split_plot(gen)
        noise = SplitPlotNoise.of(y, cells, plots)
        k = np.full(y.size, 1 / y.size)
        e = t_estimate(float(k @ y), *noise.variance(k))
        hits += e.lo <= 0 <= e.hi
        own = SplitPlotNoise.of(y, cells, list(range(y.size)))  # every seed its own init: the naive model
        e = t_estimate(float(k @ y), *own.variance(k))
        naive_hits += e.lo <= 0 <= e.hi
    assert 0.92 <= hits / n_sims <= 0.98
    assert naive_hits / n_sims < 0.85


def test_a_difference_between_data_sizes_cancels_the_init():
    gen = np.random.default_rng(2)
    y, cells, plots = split_plot(gen, tau=1.0, sigma=0.02, sizes=20)
    noise = SplitPlotNoise.of(y, cells, plots)
    k = np.array([(1.0 if c[1] == 3 else -1.0 if c[1] == 0 else 0.0) for c in cells]) / (len(y) / 4)
    var, _ = noise.variance(k)
    assert var == pytest.approx(2 * 0.02**2 / (len(y) / 4), rel=0.3)  # σ² only, though τ is 50× larger


def test_one_seed_per_run_has_no_noise_estimate():
    noise = SplitPlotNoise.of(np.array([0.1, 0.2, 0.3]), [0, 1, 2], [0, 1, 2])
    var, df = noise.variance(np.ones(3) / 3)
    assert np.isnan(var) and df == 0
    assert np.isnan(t_estimate(0.2, var, df).lo) and np.isnan(t_p(0.2, var, df))


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.02, np.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.5)


def test_holm_levels_give_intervals_that_exclude_zero_exactly_when_holm_rejects():
    gen = np.random.default_rng(3)
    for _ in range(200):
        values = gen.normal(0, 1, 8) * gen.uniform(0, 4)
        variances = gen.uniform(0.2, 1.0, 8)
        p = np.array([t_p(v, s, 20) for v, s in zip(values, variances, strict=True)])
        levels = holm_levels(p)
        for v, s, level, ph in zip(values, variances, levels, holm(p), strict=True):
            e = t_estimate(v, s, 20, level)
            assert (ph < 0.05) == (not e.lo <= 0 <= e.hi)


def test_sometimes_pool_takes_one_variance_where_the_inits_show_nothing():
    gen = np.random.default_rng(4)
    flat = split_plot(gen, tau=0.0, sigma=0.02)
    pooled, kept = 0, 0
    for _ in range(100):
        y, cells, plots = split_plot(gen, tau=0.0, sigma=0.02)
        pooled += SplitPlotNoise.of(y, cells, plots, pool_below=0.75).pooled
        y, cells, plots = split_plot(gen, tau=0.1, sigma=0.02)
        kept += not SplitPlotNoise.of(y, cells, plots, pool_below=0.75).pooled
    assert 0.65 <= pooled / 100 <= 0.85 and kept == 100  # pooled at its quantile under no init effect, never with one
    noise = SplitPlotNoise.of(*flat, pool_below=1.0)  # always pool: one variance with both mean squares' df
    var, df = noise.variance(np.full(flat[0].size, 1 / flat[0].size))
    assert noise.pooled and noise.tau2 == 0 and df == noise.plot_df + noise.within_df
    assert var == pytest.approx(noise.sigma2 / flat[0].size)
