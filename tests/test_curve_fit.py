"""The curve solver: the vectorised bootstrap solver minimises what scipy's least_squares does."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from benchmarks.analysis import curve_fit
from benchmarks.analysis.stats import resample_seeds


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
