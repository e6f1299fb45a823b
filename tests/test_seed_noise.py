"""Seed noise as a split plot: an init shared by every data size, counted once; Holm's correction and its levels."""

from __future__ import annotations

import numpy as np
import pytest
from reference_world import reference_records

from benchmarks.analysis.seed_noise import (
    REFERENCE_RUN_LEVEL,
    FamilyRuns,
    RunLevel,
    SplitPlotNoise,
    families_of,
    holm,
    holm_levels,
    run_level,
    t_estimate,
    t_p,
)
from benchmarks.analysis.stats import usable


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


def _family_runs(gen, kappa, s=0.1, curve=lambda u, v: -0.3 * u - 0.2 * v):
    """One family on quick's grid (3 sizes × 4 data sizes, 3 seeds): a smooth curve, a run effect of variance
    κ·s², each seed's own noise s."""
    u, v = np.meshgrid(np.log([2_500, 5_000, 10_000]), np.log([400, 1_000, 2_000, 4_000]), indexing="ij")
    u, v = u.ravel(), v.ravel()
    mean = curve(u, v) + np.sqrt(kappa) * s * gen.standard_normal(u.size)
    return FamilyRuns(u, v, [m + s * gen.standard_normal(3) for m in mean])


def test_run_level_recovers_a_planted_learning_rate_noise_and_finds_none_where_none_is():
    gen = np.random.default_rng(1)
    planted = [run_level([_family_runs(gen, 1.0) for _ in range(6)]).ratio for _ in range(200)]
    none = [run_level([_family_runs(gen, 0.0) for _ in range(6)]).ratio for _ in range(200)]
    assert np.mean(planted) == pytest.approx(1.0, abs=0.15)
    assert np.mean(none) < 0.1  # floored at 0, so a little above it on average
    assert run_level([_family_runs(gen, 1.0)]).df == 3 * 2 + 4 * 1  # a triple per three neighbours on a line


def test_the_reference_run_level_is_what_the_committed_quick_reference_shows():
    """REFERENCE_RUN_LEVEL, the prior every suite's κ is pooled with, is `run_level` of results/reference/quick's
    usable runs (to its two decimals): regenerating that reference means restating it."""
    measured = run_level(families_of(usable(reference_records("quick"))[0]))
    assert round(measured.ratio, 2) == REFERENCE_RUN_LEVEL.ratio and measured.df == REFERENCE_RUN_LEVEL.df
    assert round(measured.kurtosis, 2) == REFERENCE_RUN_LEVEL.kurtosis


def test_a_bending_curve_is_not_taken_for_run_noise():
    """A double-descent bump over many sizes is smooth to its neighbours: little of it counts as run noise."""
    gen = np.random.default_rng(2)
    u = np.log(np.geomspace(200, 80_000, 17))
    bump = 0.5 * np.exp(-((u - u.mean()) ** 2) / 0.5)
    fam = FamilyRuns(u, np.zeros_like(u), [b - 0.2 * x + 0.02 * gen.standard_normal(3) for b, x in zip(bump, u)])
    assert run_level([fam]).ratio < 5  # on the doubledescent reference a global quadratic gave κ ≈ 32, triples 0.14


def test_the_run_effect_widens_a_mean_over_cells_and_not_a_contrast_within_one():
    gen = np.random.default_rng(3)
    y, cells, plots = split_plot(gen)
    plain = SplitPlotNoise.of(y, cells, plots)
    noise = plain.with_runs(RunLevel(0.5, np.inf))
    mean = np.full(y.size, 1 / y.size)
    same_cell = [i for i in range(y.size) if cells[i] == cells[0]]
    within = np.zeros(y.size)
    within[same_cell[0]], within[same_cell[1]] = 1.0, -1.0
    extra = noise.variance(mean)[0] - plain.variance(mean)[0]
    assert extra == pytest.approx(0.5 * plain.seed_var / len(set(cells)))  # κ·s²·Σ_c (1/C)²
    assert noise.variance(within)[0] == pytest.approx(plain.variance(within)[0])
    assert noise.covariance(mean, mean) - plain.covariance(mean, mean) == pytest.approx(extra)


def test_heavy_tailed_run_effects_lower_the_degrees_of_freedom_of_kappa():
    """Rate choices with Student-t(5) tails make κ noisier than its count of triples: its excess kurtosis is
    measured and its effective df fall below the count; Gaussian ones keep (about) the count."""
    gen = np.random.default_rng(3)
    heavy = lambda u, v: -0.3 * u - 0.2 * v + 0.1 * gen.standard_t(5, u.size) * np.sqrt(3 / 5) * 2
    t = run_level([_family_runs(gen, 0.0, curve=heavy) for _ in range(12)])
    g = run_level([_family_runs(gen, 4.0) for _ in range(12)])
    assert t.df == g.df == 12 * 10
    assert t.effective_df < 0.75 * t.df and g.effective_df > 0.75 * g.df
