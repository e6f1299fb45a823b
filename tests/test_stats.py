import math

import numpy as np
import pytest
from scipy import stats

from benchmarks.analysis.stats import Estimate, expected_range, intervals_overlap, mean_ci, welch_p

# Two-sided 95% and 90% quantiles of Student's t from a printed table.
T975_DF2 = 4.302652729911275
T95_DF4 = 2.131846786326649


def test_mean_ci_is_the_student_t_interval_of_the_mean():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])  # sd 1, n 3
    half = T975_DF2 * 1.0 / math.sqrt(3)
    assert mean == pytest.approx(2.0)
    assert (lo, hi) == pytest.approx((2.0 - half, 2.0 + half))


def test_mean_ci_level_sets_the_quantile():
    values = [0.40, 0.42, 0.43, 0.45, 0.50]
    mean, lo, hi = mean_ci(values, level=0.90)
    sd = stats.tstd(values)
    assert hi - mean == pytest.approx(T95_DF4 * sd / math.sqrt(5))
    assert mean - lo == pytest.approx(hi - mean)


def test_mean_ci_of_a_single_seed_has_an_undefined_interval():
    mean, lo, hi = mean_ci([0.7])
    assert mean == 0.7 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in mean_ci([]))


def test_undefined_interval_overlaps_every_interval():
    assert intervals_overlap((math.nan, math.nan), (5.0, 6.0))
    assert intervals_overlap((0.0, 1.0), (0.5, 2.0))
    assert not intervals_overlap((0.0, 1.0), (1.5, 2.0))


def test_welch_p_uses_unequal_variances():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.5, 7.0, 5.5]
    va, vb = stats.tvar(a) / 3, stats.tvar(b) / 4
    t = (5.5 - 2.0) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)  # Welch–Satterthwaite
    assert welch_p(a, b) == pytest.approx(2 * stats.t.sf(t, df))


def test_welch_p_without_spread_is_certain_and_without_seeds_undefined():
    assert welch_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert welch_p([0.5, 0.5], [0.6, 0.6]) == 0.0
    assert math.isnan(welch_p([0.5], [0.6, 0.7]))


def test_expected_range_of_normals_matches_tables():
    assert expected_range(2) == pytest.approx(1.128, abs=1e-3)
    assert expected_range(5) == pytest.approx(2.326, abs=1e-3)


def test_estimate_over_seeds_drops_missing_and_non_finite_seeds():
    est = Estimate.over_seeds([1.0, None, float("nan"), 3.0])
    assert est.values == (1.0, 3.0) and est.value == 2.0 and est.lo < 2.0 < est.hi


def test_recentred_interval_follows_the_estimate_and_is_nan_without_replicates():
    est = Estimate.recentred(1.0, np.array([10.0, 11.0, 12.0]))  # replicates centred on 11: shifted to 1
    assert est.lo < 1.0 < est.hi and abs((est.lo + est.hi) / 2 - 1.0) < 1e-9
    assert np.isnan(Estimate.recentred(1.0, np.array([])).lo)


# ---------------------------------------------------------------------------- seed noise for fitted curves


def test_pooled_seed_noise_weights_runs_by_their_degrees_of_freedom():
    from benchmarks.analysis.stats import pooled_seed_noise

    noise = pooled_seed_noise([np.array([0.0, 2.0]), np.array([1.0, 2.0, 3.0]), np.array([5.0])])
    assert noise.df == 3  # 1 + 2; the one-seed run adds nothing
    assert noise.sd == pytest.approx(math.sqrt((1 * 2.0 + 2 * 1.0) / 3))
    assert not pooled_seed_noise([np.array([1.0]), np.array([2.0])]).known


def test_seed_noise_draws_carry_the_uncertainty_of_its_estimate():
    """With few degrees of freedom the draws are Student-t wide, not Gaussian: the pooled sd is itself uncertain."""
    from benchmarks.analysis.stats import SeedNoise

    rng = np.random.default_rng(0)
    draws = SeedNoise(sd=0.1, df=4).draw(np.array([1.0]), 200_000, rng)[:, 0]
    assert np.quantile(np.abs(draws), 0.95) == pytest.approx(0.1 * stats.t.ppf(0.975, 4), rel=0.03)
    mean_of_3 = SeedNoise(sd=0.1, df=math.inf, run_sd=0.05).draw(np.array([3.0]), 200_000, rng)[:, 0]
    assert mean_of_3.std() == pytest.approx(math.sqrt(0.1**2 / 3 + 0.05**2), rel=0.01)
