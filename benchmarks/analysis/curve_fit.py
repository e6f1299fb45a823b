"""Fitting log L = log(E + Σ_k A_k·(x_k/ref_k)^−α_k) to runs, and bootstrapping the fit.

A curve is fitted to each run's mean log held-out loss over its seeds, with
scipy's `least_squares` (Huber loss on the log residuals, so one odd run cannot
drag the curve) from the best few of a grid of starting points; A is fitted in
log space so it stays positive, E within [0, highest loss] so a pure power law
(E = 0) is reachable in a step rather than at log E = −∞. The bootstrap
replicates are solved all at once by a vectorised Levenberg–Marquardt on the
same objective (tests check it lands where `least_squares` does), which keeps a
suite's fits to a couple of seconds. A curve with fewer than three distinct x
values, or whose best fit sits on a bound (no decrease with x, or an exponent at
its limit), is reported as such rather than as numbers.

Shapes: B bootstrap replicates, P points (runs) of a curve, K power-law terms,
Q = 1 + 2K parameters (E, then log A_k and α_k per term).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from benchmarks.analysis.stats import resample_seeds

HUBER_SCALE = 0.05  # residuals (in log loss) beyond 5% count linearly, not quadratically
ALPHA_MAX = 4.0  # exponents are searched in [0, ALPHA_MAX]
_AT_BOUND = 1e-3
EXACT_NOTE = "as many runs as parameters: the curve passes through them"


def log_model(theta_BxQ: np.ndarray, u_BxPxK: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(E + Σ_k A_k·exp(−α_k·u_k)) and its Jacobian: (B, P) and (B, P, Q)."""
    terms_BxPxK = np.exp(theta_BxQ[:, None, 1::2] - theta_BxQ[:, None, 2::2] * u_BxPxK)
    pred_BxP = theta_BxQ[:, None, 0] + terms_BxPxK.sum(axis=-1)
    jac = np.empty(pred_BxP.shape + (theta_BxQ.shape[1],))
    jac[..., 0] = 1 / pred_BxP
    jac[..., 1::2] = terms_BxPxK / pred_BxP[..., None]
    jac[..., 2::2] = -jac[..., 1::2] * u_BxPxK
    return np.log(pred_BxP), jac


def _bounds(logy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """E in [0, highest loss] (E = 0 is a pure power law), log A_k within wide limits, α_k in [0, ALPHA_MAX]."""
    lo, hi = logy.min(), logy.max()
    lower = [0.0] + [lo - 15.0, 0.0] * k
    upper = [np.exp(hi)] + [hi + 5.0, ALPHA_MAX] * k
    return np.array(lower), np.array(upper)


def _grid_inits(u_PxK: np.ndarray, logy_P: np.ndarray, bounds: tuple[np.ndarray, np.ndarray],
                n_best: int = 3) -> np.ndarray:
    """Several starting points: for a grid of exponents, E and A solved linearly; the best few by Huber cost."""
    k = u_PxK.shape[1]
    grid = np.geomspace(0.02, 3.0, 24 if k == 1 else 10)
    alphas_CxK = np.array(list(itertools.product(grid, repeat=k)))
    y = np.exp(logy_P)
    feats_CxPxK1 = np.concatenate(
        [np.ones((len(alphas_CxK), y.size, 1)), np.exp(-alphas_CxK[:, None, :] * u_PxK[None])], axis=-1)
    f = feats_CxPxK1 / y[None, :, None]  # relative residuals, like the log residuals fitted later
    f_t = f.transpose(0, 2, 1)
    coef = np.linalg.solve(f_t @ f + 1e-9 * np.eye(k + 1), (f_t @ np.ones(y.size))[..., None])[..., 0]
    coef = np.maximum(coef, 1e-4 * y.min())  # (a start only needs to be valid)
    theta = np.empty((len(alphas_CxK), 1 + 2 * k))
    theta[:, 0] = coef[:, 0]
    theta[:, 1::2], theta[:, 2::2] = np.log(coef[:, 1:]), alphas_CxK
    theta = np.clip(theta, bounds[0] + 1e-6, bounds[1] - 1e-6)
    cost = _huber_cost(log_model(theta, u_PxK[None])[0] - logy_P)
    return theta[np.argsort(cost)[:n_best]]


def _huber_cost(r: np.ndarray) -> np.ndarray:
    """Huber cost summed over the last axis, as least_squares defines it (with its f_scale)."""
    z = (r / HUBER_SCALE) ** 2
    rho = np.where(z <= 1, z, 2 * np.sqrt(z) - 1)
    return 0.5 * HUBER_SCALE**2 * rho.sum(axis=-1)


def _solve(u_PxK: np.ndarray, logy_P: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Best fit of one curve: the best few starting points refined together, the winner polished by
    scipy's least_squares (the reference solver)."""
    starts = _grid_inits(u_PxK, logy_P, bounds, n_best=6)
    u = np.broadcast_to(u_PxK, (len(starts),) + u_PxK.shape)
    refined = _solve_batch(u, np.broadcast_to(logy_P, (len(starts), logy_P.size)), starts, bounds)
    best = refined[np.argmin(_huber_cost(log_model(refined, u)[0] - logy_P))]
    res = optimize.least_squares(
        lambda th: log_model(th[None], u[:1])[0][0] - logy_P, best,
        jac=lambda th: log_model(th[None], u[:1])[1][0],
        bounds=bounds, loss="huber", f_scale=HUBER_SCALE, method="trf",
    )
    return res.x


def _solve_batch(u_BxPxK: np.ndarray, logy_BxP: np.ndarray, theta0_BxQ: np.ndarray,
                 bounds: tuple[np.ndarray, np.ndarray], max_iter: int = 200) -> np.ndarray:
    """B independent fits of the same objective as `_solve`, vectorised for the bootstrap.

    Levenberg–Marquardt on the Huber cost (iteratively reweighted), each replicate
    with its own damping; a parameter on a bound whose gradient points outward is
    held there. Started from the full-data fit, it lands where `least_squares` would
    (tests check that).
    """
    lower, upper = bounds
    theta = np.clip(theta0_BxQ, lower, upper)
    q = theta.shape[1]
    lam = np.full(len(theta), 1e-3)
    r, jac = log_model(theta, u_BxPxK)
    r = r - logy_BxP
    cost = _huber_cost(r)
    live = np.arange(len(theta))  # replicates still converging; the rest are left alone
    for _ in range(max_iter):
        th, rr, jj, uu, lm = theta[live], r[live], jac[live], u_BxPxK[live], lam[live]
        w = np.minimum(1.0, HUBER_SCALE / np.maximum(np.abs(rr), 1e-300))  # Huber as reweighted least squares
        jw = jj * w[..., None]
        hess = jw.transpose(0, 2, 1) @ jj  # (B, Q, Q)
        grad = np.einsum("bpq,bp->bq", jw, rr)
        held = ((th <= lower + 1e-12) & (grad > 0)) | ((th >= upper - 1e-12) & (grad < 0))
        hess = np.where(held[:, :, None] | held[:, None, :], 0.0, hess)
        diag = np.einsum("bqq->bq", hess)
        damped = hess + (lm[:, None] * np.maximum(diag, 1e-12) + held)[:, :, None] * np.eye(q)
        step = np.linalg.solve(damped, np.where(held, 0.0, -grad)[..., None])[..., 0]
        trial = np.clip(th + step, lower, upper)
        r_new, jac_new = log_model(trial, uu)
        r_new = r_new - logy_BxP[live]
        cost_new = _huber_cost(r_new)
        better = cost_new < cost[live]
        gain_tiny = better & (cost[live] - cost_new <= 1e-8 * cost[live] + 1e-14)
        step_tiny = np.abs(step).max(axis=1) <= 1e-8 * (1 + np.abs(th).max(axis=1))
        moved = live[better]
        theta[moved], r[moved], jac[moved] = trial[better], r_new[better], jac_new[better]
        cost[moved] = cost_new[better]
        lam[live] = np.where(better, lm / 3, lm * 4)
        live = live[~(gain_tiny | step_tiny)]  # converged: the last step gained or moved (almost) nothing
        if live.size == 0:
            break
    return theta



@dataclass(frozen=True)
class CurveFit:
    """What `fit_curve` returns: the best fit and its bootstrap replicates, or why there is none."""

    status: str  # "ok" | "not enough points" | "degenerate"
    reason: str
    log_ref_K: np.ndarray  # log of the reference x per term (the fit is in x / x_ref)
    theta: np.ndarray | None  # (Q,)
    boot_BxQ: np.ndarray | None


def fit_curve(logx_PxK: np.ndarray, seeds: Sequence[np.ndarray], *, names: Sequence[str],
               resample_points: bool, n_boot: int, rng: np.random.Generator,
               groups: Sequence[Hashable] | None) -> CurveFit:
    """Fit log L = log(E + Σ_k A_k (x_k/ref_k)^−α_k) to per-point mean log loss; bootstrap it."""
    k = logx_PxK.shape[1]
    log_ref = logx_PxK.mean(axis=0)
    for j, name in enumerate(names):
        if np.unique(np.round(logx_PxK[:, j], 9)).size < 3:
            return CurveFit("not enough points", f"fewer than 3 distinct {name}", log_ref, None, None)
    if len(seeds) < 2 * k + 2 and k > 1:
        return CurveFit("not enough points", f"{len(seeds)} runs for {1 + 2 * k} parameters", log_ref, None, None)
    u = logx_PxK - log_ref
    logy = np.array([s.mean() for s in seeds])
    bounds = _bounds(logy, k)
    theta = _solve(u, logy, bounds)
    flat = (theta[2::2] < _AT_BOUND) | (theta[1::2] < bounds[0][1::2] + _AT_BOUND)
    if flat.any():
        name = names[int(np.argmax(flat))]
        return CurveFit("degenerate", f"the loss does not decrease with {name}", log_ref, theta, None)
    if np.any(theta[2::2] > ALPHA_MAX - _AT_BOUND):
        return CurveFit("degenerate", f"an exponent sits at its bound {ALPHA_MAX:g}: too few points to pin the curve",
                       log_ref, theta, None)

    logy_BxP = np.stack([r.mean(axis=1) for r in resample_seeds(seeds, n_boot, rng, groups)], axis=1)
    u_BxPxK = np.broadcast_to(u, (n_boot,) + u.shape)
    if resample_points:
        idx = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
        for _ in range(100):  # redraw the few resamples that lost too many distinct points to fit
            bad = np.array([np.unique(row).size < 3 for row in u[idx, 0]])
            if not bad.any():
                break
            idx[bad] = rng.integers(0, len(seeds), size=(int(bad.sum()), len(seeds)))
        logy_BxP = np.take_along_axis(logy_BxP, idx, axis=1)
        u_BxPxK = u[idx]
    boot = _solve_batch(u_BxPxK, logy_BxP, np.tile(theta, (n_boot, 1)), bounds)
    notes = []
    if len(seeds) == theta.size:
        notes.append(EXACT_NOTE)
    if theta[0] < 1e-6 * np.exp(logy.min()):
        notes.append("E = 0 fits best (a pure power law), so α is only the local slope")
    return CurveFit("ok", "; ".join(notes), log_ref, theta, boot)
