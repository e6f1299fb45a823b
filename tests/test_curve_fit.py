"""The curve solver lands where scipy does; the law is fitted only where its points identify it (the threshold,
proved on planted curves), and its intervals come from pooled seed noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from benchmarks.analysis import curve_fit
from benchmarks.analysis.stats import SeedNoise, resample_seeds


def _power_law_points(E, A, alpha, x, sigma, rng, n_seeds=3):
    return [(E + A * xx**-alpha) * np.exp(sigma * rng.standard_normal(n_seeds)) for xx in x]


def test_bootstrap_solver_lands_where_least_squares_does():
    """The vectorised replicate solver minimises the same Huber objective as scipy's least_squares."""
    rng = np.random.default_rng(3)
    x = np.array([1e3, 3e3, 1e4, 3e4])
    seeds = [np.log(p) for p in _power_law_points(0.5, 10.0, 0.3, x, 0.05, rng)]
    u = (np.log(x) - np.log(x).mean())[:, None]
    logy = np.array([s.mean() for s in seeds])
    bounds = curve_fit._bounds(logy, 1)
    theta = curve_fit._solve(u, logy, bounds)
    reps = np.stack([r.mean(axis=1) for r in resample_seeds(seeds, 20, rng)], axis=1)
    batch = curve_fit._solve_batch(np.broadcast_to(u, (20,) + u.shape), reps, np.tile(theta, (20, 1)), bounds)
    for b in range(20):
        ref = optimize.least_squares(
            lambda th, y=reps[b]: curve_fit.log_model(th[None], u[None])[0][0] - y, theta,
            jac=lambda th: curve_fit.log_model(th[None], u[None])[1][0], bounds=bounds,
            loss="huber", f_scale=curve_fit.HUBER_SCALE)
        cost = curve_fit._huber_cost(curve_fit.log_model(batch[b:b + 1], u[None])[0][0] - reps[b])
        assert cost <= ref.cost + 1e-9
        np.testing.assert_allclose(batch[b], ref.x, atol=1e-3)


# ---------------------------------------------------------------------------- when the law is identifiable

LAW = dict(E=1.0, A=1.0 * 1_000**0.5, alpha=0.5)  # half the loss reducible at x = 1,000


def _planted_curve(points: int, decades: float, sigma: float, rng: np.random.Generator):
    x = np.geomspace(1_000, 1_000 * 10**decades, points)
    clean = np.log(LAW["E"] + LAW["A"] * x ** -LAW["alpha"])
    return np.log(x)[:, None], [m + sigma * rng.standard_normal(3) for m in clean]


def _fit(points: int, decades: float, sigma: float, seed: int, **threshold) -> curve_fit.CurveFit:
    rng = np.random.default_rng(seed)
    logx, seeds = _planted_curve(points, decades, sigma, rng)
    point = curve_fit.fit_curve_point(logx, seeds, names=["x"], **threshold)
    return curve_fit.bootstrap_curve(point, SeedNoise(sigma, 500.0), n_boot=300, rng=rng, names=["x"])


def _estimates(fit: curve_fit.CurveFit) -> dict[str, tuple[float, float]]:
    b = fit.law_boot
    reps = {"E": b[:, 0], "A": np.exp(b[:, 1] + b[:, 2] * fit.log_ref_K[0]), "alpha": b[:, 2]}
    return {k: tuple(np.percentile(v, [2.5, 97.5])) for k, v in reps.items()}


def test_the_law_needs_five_distinct_points_over_a_decade():
    assert curve_fit.law_identifiable(np.log(np.geomspace(400, 4_000, 5)))
    assert not curve_fit.law_identifiable(np.log(np.geomspace(400, 4_000, 4)))  # the quick suite's data sizes
    assert not curve_fit.law_identifiable(np.log(np.geomspace(1_000, 3_162, 8)))  # half a decade
    assert not curve_fit.law_identifiable(np.log([400, 400, 1_000, 2_000, 4_000]))  # 4 distinct


@pytest.mark.parametrize("seed", range(3))
def test_planted_law_at_the_threshold_is_recovered_within_its_intervals(seed):
    """Five points over one decade identify E, A and α: the fit is ok and each interval holds the truth."""
    fit = _fit(5, 1.0, 0.01, seed)
    assert fit.status == "ok"
    for name, (lo, hi) in _estimates(fit).items():
        assert lo <= LAW[name] <= hi, name
    lo, hi = _estimates(fit)["alpha"]
    assert hi - lo < 0.5  # an interval that says something


def test_below_the_threshold_in_span_the_law_piles_up_on_its_bounds():
    """Five points over half a decade, the same law and noise: forced to fit the law, most draws pile their
    replicates on a bound (the law is not identified), and what stays `ok` is no longer trustworthy; so below
    the threshold the curve is a local slope."""
    forced = [_fit(5, 0.5, 0.01, seed, min_decades=0.0) for seed in range(8)]
    assert sum(f.status == "degenerate" for f in forced) >= 6
    at_threshold = _fit(5, 1.0, 0.01, 0)
    widths = [np.diff(_estimates(f)["alpha"])[0] for f in forced if f.law_boot is not None]
    assert np.median(widths) > 2 * np.diff(_estimates(at_threshold)["alpha"])[0]
    assert _fit(5, 0.5, 0.01, 0).status == "slope"


def test_below_the_threshold_in_points_three_points_fit_any_law_exactly():
    """Three points leave the law no residual: it passes through them whatever the curve, so nothing in the
    curve checks it. The threshold asks for two residual degrees of freedom at least."""
    rng = np.random.default_rng(0)
    logx, seeds = _planted_curve(3, 1.0, 0.01, rng)
    point = curve_fit.fit_curve_point(logx, seeds, names=["x"], min_points=3)
    residual = point.logy_P - curve_fit.log_model(point.law[None], point.u_PxK[None])[0][0]
    assert np.abs(residual).max() < 1e-6
    assert curve_fit.fit_curve_point(logx, seeds, names=["x"]).status == "slope"


def test_replicates_piled_on_a_bound_make_the_fit_degenerate_never_ok():
    """A pure power law (E = 0) over two decades: half the replicates put E on its bound 0, so the law's E and
    A are not identified; the fit says so (degenerate) and the local slope stands in, with the exponent."""
    rng = np.random.default_rng(1)
    x = np.geomspace(1_000, 100_000, 8)
    seeds = [np.log(30 * xx**-0.3) + 0.01 * rng.standard_normal(3) for xx in x]
    point = curve_fit.fit_curve_point(np.log(x)[:, None], seeds, names=["x"])
    fit = curve_fit.bootstrap_curve(point, SeedNoise(0.01, 500.0), n_boot=300, rng=rng, names=["x"])
    assert fit.status == "degenerate" and "bound (mostly E)" in fit.reason
    slope = -np.percentile(fit.line_boot[:, 1], [97.5, 2.5])
    assert slope[0] <= 0.3 <= slope[1]


def test_a_slope_interval_comes_from_pooled_noise_not_from_the_curve_own_seeds():
    """Two seeds per point that happen to agree: the interval still has the width the pooled noise implies,
    with the estimate inside it (a resampling of two seeds would collapse onto the estimate)."""
    x = np.log([400.0, 1_000.0, 2_000.0, 4_000.0])[:, None]
    seeds = [np.array([v, v + 1e-4]) for v in (0.5, 0.4, 0.33, 0.25)]
    point = curve_fit.fit_curve_point(x, seeds, names=["x"])
    fit = curve_fit.bootstrap_curve(point, SeedNoise(0.05, 100.0), n_boot=2000, rng=np.random.default_rng(0),
                                    names=["x"])
    lo, hi = np.percentile(fit.line_boot[:, 1], [2.5, 97.5])
    expected_sd = 0.05 / np.sqrt(2) / np.sqrt(((x[:, 0] - x[:, 0].mean()) ** 2).sum())
    assert (hi - lo) / 2 == pytest.approx(1.96 * expected_sd, rel=0.1)
    assert lo + 0.3 * (hi - lo) < fit.line[1] < hi - 0.3 * (hi - lo)
