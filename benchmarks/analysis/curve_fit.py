"""Fitting log L = log(E + Σ_k A_k·(x_k/ref_k)^−α_k), or a local log-log line, to runs; bootstrapping it.

A curve is fitted to each run's mean log held-out loss over its seeds. The law
L = E + A·x^−α has three parameters, and a handful of points over a short range
cannot tell them apart (three points pass through any such curve exactly), so it
is fitted only where the points can identify it: at least `MIN_LAW_POINTS`
distinct x over at least `MIN_LAW_DECADES` decades (the threshold the planted
tests of tests/test_curve_fit.py and the coverage script prove). Elsewhere the
curve is a two-parameter local line, log L = c + s·log x (status `slope`), whose
slope is the local exponent −s over the measured range, said as such.

The law is fitted with scipy's `least_squares` (Huber loss on the log residuals,
so one odd run cannot drag the curve) from the best few of a grid of starting
points; A is fitted in log space so it stays positive, E within [0, highest loss]
so a pure power law (E = 0) is reachable in a step rather than at log E = −∞.

Intervals come from a parametric bootstrap: each replicate adds to the fitted
curve the noise of a run's mean that seed noise pooled over many runs implies
(`stats.SeedNoise`), rather than resampling a run's own two or three seeds (which
collapses: with two seeds half the draws reproduce the observed mean). The law's
replicates are solved all at once by a vectorised Levenberg–Marquardt on the same
objective (tests check it lands where `least_squares` does). A law whose best fit
sits on a bound, or whose replicates pile up on one (more than `PILE_UP_SHARE` of
them), is `degenerate`: not identified, and the local line stands in for it.

Shapes: B bootstrap replicates, P points (runs) of a curve, K power-law terms,
Q = 1 + 2K parameters (E, then log A_k and α_k per term).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from benchmarks.analysis.stats import SeedNoise

HUBER_SCALE = 0.05  # residuals (in log loss) beyond 5% count linearly, not quadratically
ALPHA_MAX = 4.0  # exponents are searched in [0, ALPHA_MAX]
_AT_BOUND = 1e-3  # a parameter within this share of its range from a bound sits on it
MIN_LAW_POINTS = 5  # the law is fitted only with this many distinct x ...
MIN_LAW_DECADES = 1.0  # ... spanning at least this many decades
PILE_UP_SHARE = 0.025  # more replicates than this on a bound: the law is degenerate


N_BOOT = 400  # bootstrap replicates per curve

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
        rhs = np.where(held, 0.0, -grad)[..., None]
        try:
            step = np.linalg.solve(damped, rhs)[..., 0]
        except np.linalg.LinAlgError:  # a replicate whose damping has shrunk on a flat valley: least-norm steps
            step = (np.linalg.pinv(damped) @ rhs)[..., 0]
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


# ---------------------------------------------------------------------------- the local line


def line_fit(u_P: np.ndarray, logy_BxP: np.ndarray, n_seeds_P: np.ndarray) -> np.ndarray:
    """Weighted least-squares line log L = c + s·u through B rows of points at once: (B, 2) = (c, s).

    Weights are the seed counts (a run mean of m seeds has variance σ²/m); with u centred
    (on the unweighted mean) c is the fitted log loss at the reference x."""
    w = n_seeds_P / n_seeds_P.sum()
    u_bar = w @ u_P
    du = u_P - u_bar
    slope = (logy_BxP @ (w * du)) / (w @ du**2)
    return np.stack([logy_BxP @ w - slope * u_bar, slope], axis=-1)


def log_line(theta_Bx2: np.ndarray, u_P: np.ndarray) -> np.ndarray:
    """(B, P) log loss of B lines at P points."""
    return theta_Bx2[:, :1] + theta_Bx2[:, 1:] * u_P[None, :]


# ---------------------------------------------------------------------------- one curve


def law_identifiable(logx_P: np.ndarray, min_points: int = MIN_LAW_POINTS,
                     min_decades: float = MIN_LAW_DECADES) -> bool:
    """Whether points at these log x can identify E, A and α: `min_points` distinct x over `min_decades`."""
    distinct = np.unique(np.round(logx_P, 9))
    return distinct.size >= min_points and (distinct[-1] - distinct[0]) / np.log(10) >= min_decades - 1e-9


@dataclass(frozen=True)
class CurvePoint:
    """The best fit of one curve, before its bootstrap: the law where the points identify it, and the line."""

    status: str  # "ok" (the law, pending its bootstrap) | "slope" | "degenerate" | "not enough points"
    reason: str
    u_PxK: np.ndarray  # log x − log_ref per point and term
    logy_P: np.ndarray  # each point's mean log loss
    n_seeds_P: np.ndarray
    log_ref_K: np.ndarray
    law: np.ndarray | None  # (Q,) where the law was fitted
    line: np.ndarray | None  # (2,) (c, s), one-term curves with two distinct x or more

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.logy_P, self.u_PxK.shape[1])


def fit_curve_point(logx_PxK: np.ndarray, seeds: Sequence[np.ndarray], *, names: Sequence[str],
                    min_points: int = MIN_LAW_POINTS, min_decades: float = MIN_LAW_DECADES,
                    no_law: str = "") -> CurvePoint:
    """Best fit of one curve: the law where every term's points identify it (`law_identifiable`); for one
    term, also the local line (which stands in where the law is not fitted or degenerate). The threshold
    is lowered only by the studies that show why it is where it is (scripts/coverage.py); `no_law` says why
    only the line is fitted, whatever the points."""
    k = logx_PxK.shape[1]
    log_ref = logx_PxK.mean(axis=0)
    u = logx_PxK - log_ref
    logy = np.array([s.mean() for s in seeds])
    m = np.array([s.size for s in seeds], dtype=float)
    distinct = [np.unique(np.round(logx_PxK[:, j], 9)).size for j in range(k)]
    line = line_fit(u[:, 0], logy[None], m)[0] if k == 1 and distinct[0] >= 2 else None
    point = dict(u_PxK=u, logy_P=logy, n_seeds_P=m, log_ref_K=log_ref, law=None, line=line)
    short = [n for n, j in zip(names, range(k), strict=True)
             if not law_identifiable(logx_PxK[:, j], min_points, min_decades)]
    if short or no_law:
        why = no_law or (f"fewer than {min_points} distinct {', '.join(short)} over {min_decades:g} decade: "
                         "too few to identify E, A and α")
        if line is None:
            return CurvePoint("not enough points", why if k > 1 else f"fewer than 2 distinct {names[0]}", **point)
        return CurvePoint("slope", why if no_law else why + "; the local log-log slope instead", **point)
    bounds = _bounds(logy, k)
    theta = _solve(u, logy, bounds)
    point["law"] = theta
    flat = (theta[2::2] < _AT_BOUND) | (theta[1::2] < bounds[0][1::2] + _AT_BOUND)
    if flat.any():
        name = names[int(np.argmax(flat))]
        return CurvePoint("degenerate", f"the loss does not decrease with {name}", **point)
    if np.any(theta[2::2] > ALPHA_MAX - _AT_BOUND):
        return CurvePoint("degenerate", f"an exponent sits at its bound {ALPHA_MAX:g}", **point)
    return CurvePoint("ok", "", **point)


@dataclass(frozen=True)
class CurveFit:
    """What `bootstrap_curve` returns: the best fit and its bootstrap replicates, or why there is none.

    `law`/`law_boot` hold the law where it was fitted (status ok, or degenerate with its replicates
    piled on a bound); `line`/`line_boot` the local line of a one-term curve."""

    status: str  # "ok" | "slope" | "degenerate" | "not enough points"
    reason: str
    log_ref_K: np.ndarray  # log of the reference x per term (the fit is in x / x_ref)
    law: np.ndarray | None  # (Q,)
    law_boot: np.ndarray | None  # (B, Q)
    line: np.ndarray | None  # (2,)
    line_boot: np.ndarray | None  # (B, 2)
    noise: SeedNoise | None = None  # what the replicates were drawn with


def _pile_up(boot_BxQ: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(B, Q): whether each replicate's parameter sits on one of its bounds."""
    lower, upper = bounds
    tol = _AT_BOUND * (upper - lower)
    return (boot_BxQ <= lower + tol) | (boot_BxQ >= upper - tol)


def bootstrap_curve(point: CurvePoint, noise: SeedNoise, *, n_boot: int, rng: np.random.Generator,
                    names: Sequence[str]) -> CurveFit:
    """Parametric bootstrap of a fitted curve: every replicate is the fitted curve plus the noise of the
    points' means (`noise.draw`), fitted again. Without a noise estimate (one seed everywhere) there
    are no replicates, so no intervals. A law whose replicates pile up on a bound is degenerate."""
    empty = CurveFit(point.status, point.reason, point.log_ref_K, point.law, None, point.line, None, noise)
    if point.status == "not enough points" or not noise.known:
        return empty
    eps_BxP = noise.draw(point.n_seeds_P, n_boot, rng)
    line_boot = None
    if point.line is not None:
        u = point.u_PxK[:, 0]
        line_boot = line_fit(u, log_line(point.line[None], u) + eps_BxP, point.n_seeds_P)
    if point.status != "ok":
        return CurveFit(point.status, point.reason, point.log_ref_K, point.law, None, point.line, line_boot, noise)
    bounds = point.bounds
    u_BxPxK = np.broadcast_to(point.u_PxK, (n_boot,) + point.u_PxK.shape)
    fitted_P = log_model(point.law[None], point.u_PxK[None])[0][0]
    law_boot = _solve_batch(u_BxPxK, fitted_P + eps_BxP, np.tile(point.law, (n_boot, 1)), bounds)
    on_bound = _pile_up(law_boot, bounds)
    status, reason = "ok", ""
    if on_bound.any(axis=1).mean() > PILE_UP_SHARE:
        labels = ["E"] + [f"{p}{('_' + n) if len(names) > 1 else ''}" for n in names for p in ("A", "α")]
        worst = int(np.argmax(on_bound.mean(axis=0)))
        status = "degenerate"
        reason = (f"{100 * on_bound.any(axis=1).mean():.0f}% of the bootstrap fits sit on a bound "
                  f"(mostly {labels[worst]}): the points do not identify the law"
                  + ("; the local log-log slope instead" if point.line is not None else ""))
    elif point.law[0] < 1e-6 * np.exp(point.logy_P.min()):
        reason = "E = 0 fits best (a pure power law)"
    return CurveFit(status, reason, point.log_ref_K, point.law, law_boot, point.line, line_boot, noise)


def seed_arrays(y: Sequence[Sequence[float] | float]) -> list[np.ndarray]:
    """Per-point seed losses -> per-point arrays of finite log losses."""
    out = []
    for v in y:
        a = np.atleast_1d(np.asarray(v, dtype=float))
        a = a[np.isfinite(a) & (a > 0)]
        if a.size == 0:
            raise ValueError("every point needs at least one finite positive loss")
        out.append(np.log(a))
    return out


def point_and_replicates(point: float, boot: np.ndarray | None) -> np.ndarray:
    """(1 + B, ...): the point estimate, then its replicates."""
    point = np.asarray(point, dtype=float)[None]
    return point if boot is None else np.concatenate([point, boot])
