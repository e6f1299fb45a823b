"""Scaling-curve fits per architecture: L = E + A·X^(−α), the joint L(N, D), the compute frontier.

Every fit is a pure function of RunRecords. A curve is fitted to each run's mean
log held-out loss over its seeds, with scipy's `least_squares` (Huber loss on the
log residuals, so one odd run cannot drag the curve) from the best few of a grid
of starting points; A is fitted in log space so it stays positive, E within
[0, highest loss] so a pure power law (E = 0) is reachable in a step rather than
at log E = −∞. Confidence intervals come from a bootstrap that resamples the
seeds of every run (runs sharing a seed's initialisation together) and, where a
curve has six runs or more, the runs themselves; the replicates are solved all
at once by a vectorised Levenberg–Marquardt on the same objective (tests check it
lands where `least_squares` does), which keeps a suite's fits to a couple of
seconds. A curve with fewer than three distinct x values, or whose best fit sits
on a bound (no decrease with x, or an exponent at its limit), is reported as
such rather than as numbers.

Shapes: B bootstrap replicates, P points (runs) of a curve, K power-law terms,
Q = 1 + 2K parameters (E, then log A_k and α_k per term).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from benchmarks.analysis.stats import mean_ci
from benchmarks.running.store import newest
from benchmarks.spec import RunRecord

LEVEL = 0.95  # confidence level of every interval
N_BOOT = 200  # bootstrap replicates per curve
HUBER_SCALE = 0.05  # residuals (in log loss) beyond 5% count linearly, not quadratically
ALPHA_MAX = 4.0  # exponents are searched in [0, ALPHA_MAX]
_AT_BOUND = 1e-3
EXACT_NOTE = "as many runs as parameters: the curve passes through them"

AXES = {
    "params": "parameters",
    "data_size": "training examples",
    "compute": "training FLOPs",
}


# ---------------------------------------------------------------------------- records


def run_log_losses(record: RunRecord) -> np.ndarray:
    """Per-seed log held-out (test) loss of a run; non-finite seeds dropped."""
    losses = np.array([s.test_loss for s in record.seeds], dtype=float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    return np.log(losses)


def training_flops(record: RunRecord) -> float:
    """Training compute of one seed: forward+backward ≈ 3× the measured forward FLOPs."""
    return 3.0 * record.flops_per_example * record.spec.steps * record.spec.batch_size


def usable(records: Sequence[RunRecord]) -> tuple[list[RunRecord], list[RunRecord]]:
    """Split the newest record of each cell (`store.newest`) into those a fit can use (status ok, a
    finite loss) and those excluded."""
    ok, excluded = [], []
    for r in newest(records):
        (ok if r.status == "ok" and run_log_losses(r).size > 0 else excluded).append(r)
    return ok, excluded


def seed_group(record: RunRecord) -> tuple:
    """Runs with the same group share their seeds' initialisations (one architecture and size, across data
    sizes and datasets), so the bootstrap resamples their seeds together."""
    ids = tuple(s.seed for s in record.seeds if s.test_loss is not None and np.isfinite(s.test_loss)
                and s.test_loss > 0)
    return record.spec.arch, record.spec.target_params, ids


def resample_seeds(values: Sequence[np.ndarray], n_boot: int, rng: np.random.Generator,
                   groups: Sequence[Hashable] | None = None, draws: dict | None = None) -> list[np.ndarray]:
    """Bootstrap the seeds of each run: a (B, m) array per run of m seeds.

    Runs of one group get the same draw of seed indices (a paired bootstrap: a lucky
    seed stays lucky in every run that shares it); `draws` keeps the draws across
    calls, so runs in separate calls pair up too. Deviations from the run's mean are
    scaled by sqrt(m/(m−1)) first, so the resampled spread is not shrunk by the few
    seeds (the usual small-sample correction); a one-seed run stays fixed.
    """
    draws = {} if draws is None else draws
    out = []
    for i, v in enumerate(values):
        v = np.asarray(v, dtype=float)
        m = v.size
        if m < 2:
            out.append(np.broadcast_to(v, (n_boot, m)).copy())
            continue
        key = (groups[i], m) if groups is not None else ("run", i, id(values))
        if key not in draws or draws[key].shape[0] != n_boot:
            draws[key] = rng.integers(0, m, size=(n_boot, m))
        adjusted = v.mean() + (v - v.mean()) * np.sqrt(m / (m - 1))
        out.append(adjusted[draws[key]])
    return out


# ---------------------------------------------------------------------------- the model


def _log_model(theta_BxQ: np.ndarray, u_BxPxK: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    cost = _huber_cost(_log_model(theta, u_PxK[None])[0] - logy_P)
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
    best = refined[np.argmin(_huber_cost(_log_model(refined, u)[0] - logy_P))]
    res = optimize.least_squares(
        lambda th: _log_model(th[None], u[:1])[0][0] - logy_P, best,
        jac=lambda th: _log_model(th[None], u[:1])[1][0],
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
    r, jac = _log_model(theta, u_BxPxK)
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
        r_new, jac_new = _log_model(trial, uu)
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


# ---------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class Estimate:
    """A fitted quantity with its bootstrap interval."""

    value: float
    lo: float
    hi: float

    def to_dict(self) -> dict:
        return {"value": self.value, "lo": self.lo, "hi": self.hi}


def _estimate(value: float, samples: np.ndarray, level: float = LEVEL) -> Estimate:
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return Estimate(float(value), float(lo), float(hi))


@dataclass(frozen=True)
class _Fitted:
    """What `_fit_curve` returns: the best fit and its bootstrap replicates, or why there is none."""

    status: str  # "ok" | "not enough points" | "degenerate"
    reason: str
    log_ref_K: np.ndarray  # log of the reference x per term (the fit is in x / x_ref)
    theta: np.ndarray | None  # (Q,)
    boot_BxQ: np.ndarray | None


def _fit_curve(logx_PxK: np.ndarray, seeds: Sequence[np.ndarray], *, names: Sequence[str],
               resample_points: bool, n_boot: int, rng: np.random.Generator,
               groups: Sequence[Hashable] | None) -> _Fitted:
    """Fit log L = log(E + Σ_k A_k (x_k/ref_k)^−α_k) to per-point mean log loss; bootstrap it."""
    k = logx_PxK.shape[1]
    log_ref = logx_PxK.mean(axis=0)
    for j, name in enumerate(names):
        if np.unique(np.round(logx_PxK[:, j], 9)).size < 3:
            return _Fitted("not enough points", f"fewer than 3 distinct {name}", log_ref, None, None)
    if len(seeds) < 2 * k + 2 and k > 1:
        return _Fitted("not enough points", f"{len(seeds)} runs for {1 + 2 * k} parameters", log_ref, None, None)
    u = logx_PxK - log_ref
    logy = np.array([s.mean() for s in seeds])
    bounds = _bounds(logy, k)
    theta = _solve(u, logy, bounds)
    flat = (theta[2::2] < _AT_BOUND) | (theta[1::2] < bounds[0][1::2] + _AT_BOUND)
    if flat.any():
        name = names[int(np.argmax(flat))]
        return _Fitted("degenerate", f"the loss does not decrease with {name}", log_ref, theta, None)
    if np.any(theta[2::2] > ALPHA_MAX - _AT_BOUND):
        return _Fitted("degenerate", f"an exponent sits at its bound {ALPHA_MAX:g}: too few points to pin the curve",
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
    return _Fitted("ok", "; ".join(notes), log_ref, theta, boot)


def _seed_arrays(y: Sequence[Sequence[float] | float]) -> list[np.ndarray]:
    """Per-point seed losses -> per-point arrays of finite log losses."""
    out = []
    for v in y:
        a = np.atleast_1d(np.asarray(v, dtype=float))
        a = a[np.isfinite(a) & (a > 0)]
        if a.size == 0:
            raise ValueError("every point needs at least one finite positive loss")
        out.append(np.log(a))
    return out


@dataclass(frozen=True)
class PowerLawFit:
    """L(x) = E + A·x^(−α) for one curve, with bootstrap intervals; `status` says whether it is usable."""

    axis: str  # "params" | "data_size" | "compute"
    status: str  # "ok" | "not enough points" | "degenerate"
    reason: str
    x: np.ndarray  # (P,) the points' x
    loss: np.ndarray  # (P,) the points' mean loss (geometric mean over seeds)
    n_seeds: int
    log_x_ref: float = 0.0
    theta: np.ndarray | None = None  # (E, log A at x_ref, α)
    boot: np.ndarray | None = field(default=None, repr=False)  # (B, 3) replicates of theta

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _params(self, th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """E, A (in the x's own units) and α from parameter rows."""
        return th[..., 0], np.exp(th[..., 1] + th[..., 2] * self.log_x_ref), th[..., 2]

    @property
    def estimates(self) -> dict[str, Estimate]:
        if not self.ok:
            return {}
        point, boot = self._params(self.theta), self._params(self.boot)
        return {name: _estimate(p, b) for name, p, b in zip(("E", "A", "alpha"), point, boot, strict=True)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self._log_predict(self.theta[None], x)[0])

    def band(self, x: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap interval of the fitted curve at x."""
        lo, hi = np.percentile(self._log_predict(self.boot, x), [50 * (1 - level), 50 * (1 + level)], axis=0)
        return np.exp(lo), np.exp(hi)

    def _log_predict(self, theta_BxQ: np.ndarray, x: np.ndarray) -> np.ndarray:
        u = (np.log(np.asarray(x, dtype=float)) - self.log_x_ref)[None, :, None]
        return _log_model(theta_BxQ, u)[0]

    def to_dict(self) -> dict:
        d = {"axis": self.axis, "status": self.status, "reason": self.reason, "n_points": int(self.x.size),
             "n_seeds": self.n_seeds, "points": {"x": self.x.tolist(), "loss": self.loss.tolist()}}
        if self.ok:
            d |= {name: e.to_dict() for name, e in self.estimates.items()}
            d["x_ref"] = float(np.exp(self.log_x_ref))
            d["n_boot"] = int(len(self.boot))
        return d


def fit_power_law(x: Sequence[float], y: Sequence[Sequence[float] | float], *, axis: str = "x",
                  n_boot: int = N_BOOT, rng: np.random.Generator | int | None = 0,
                  groups: Sequence[Hashable] | None = None) -> PowerLawFit:
    """Fit L = E + A·x^(−α) to points x with per-seed losses y[i] (a list of seed losses, or one loss).

    Huber loss on log residuals, several starting points; intervals from a bootstrap
    over the seeds of each point (points of one group resampled together, see
    `resample_seeds`) and, with six points or more, over the points.
    """
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=float)
    seeds = _seed_arrays(y)
    if x.shape != (len(seeds),) or np.any(~np.isfinite(x) | (x <= 0)):
        raise ValueError("x must be one positive finite value per point")
    order = np.argsort(x, kind="stable")
    x, seeds = x[order], [seeds[i] for i in order]
    groups = [groups[i] for i in order] if groups is not None else None
    fitted = _fit_curve(np.log(x)[:, None], seeds, names=[AXES.get(axis, axis)],
                        resample_points=len(seeds) >= 6, n_boot=n_boot, rng=rng, groups=groups)
    return PowerLawFit(axis, fitted.status, fitted.reason, x, np.exp([s.mean() for s in seeds]),
                       int(sum(s.size for s in seeds)), float(fitted.log_ref_K[0]), fitted.theta, fitted.boot_BxQ)


@dataclass(frozen=True)
class JointFit:
    """L(N, D) = E + A/N^α + B/D^β over a grid of model and data sizes."""

    status: str
    reason: str
    n: np.ndarray  # (P,) parameters
    d: np.ndarray  # (P,) training examples
    loss: np.ndarray  # (P,)
    log_ref: np.ndarray = field(default_factory=lambda: np.zeros(2))  # log N_ref, log D_ref
    theta: np.ndarray | None = None  # (E, log A, α, log B, β), A and B at the reference sizes
    boot: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _params(self, th: np.ndarray) -> tuple[np.ndarray, ...]:
        return (th[..., 0], np.exp(th[..., 1] + th[..., 2] * self.log_ref[0]), th[..., 2],
                np.exp(th[..., 3] + th[..., 4] * self.log_ref[1]), th[..., 4])

    @property
    def estimates(self) -> dict[str, Estimate]:
        if not self.ok:
            return {}
        point, boot = self._params(self.theta), self._params(self.boot)
        return {name: _estimate(p, b) for name, p, b in zip(("E", "A", "alpha", "B", "beta"), point, boot,
                                                              strict=True)}

    def predict(self, n: np.ndarray, d: np.ndarray) -> np.ndarray:
        u = np.stack([np.log(n) - self.log_ref[0], np.log(d) - self.log_ref[1]], axis=-1)
        return np.exp(_log_model(self.theta[None], u[None])[0][0])

    def to_dict(self) -> dict:
        d = {"status": self.status, "reason": self.reason, "n_points": int(self.n.size),
             "points": {"params": self.n.tolist(), "data_size": self.d.tolist(), "loss": self.loss.tolist()}}
        if self.ok:
            d |= {name: e.to_dict() for name, e in self.estimates.items()}
        return d


def fit_joint(n: Sequence[float], d: Sequence[float], y: Sequence[Sequence[float] | float], *,
              n_boot: int = N_BOOT, rng: np.random.Generator | int | None = 0,
              groups: Sequence[Hashable] | None = None) -> JointFit:
    """Fit L(N, D) = E + A/N^α + B/D^β; needs at least 3 distinct N, 3 distinct D and 6 runs."""
    rng = np.random.default_rng(rng)
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    seeds = _seed_arrays(y)
    fitted = _fit_curve(np.log(np.stack([n, d], axis=1)), seeds, names=["parameters", "training examples"],
                        resample_points=False, n_boot=n_boot, rng=rng, groups=groups)
    return JointFit(fitted.status, fitted.reason, n, d, np.exp([s.mean() for s in seeds]),
                    fitted.log_ref_K, fitted.theta, fitted.boot_BxQ)


# ---------------------------------------------------------------------------- records -> fits


@dataclass(frozen=True)
class FrontierPoint:
    """A run on the compute-efficient frontier: no run with less or equal compute reached a lower loss."""

    compute: float  # training FLOPs per seed
    loss: float  # mean held-out loss over seeds
    lo: float
    hi: float
    arch: str
    target_params: int
    params: int
    data_size: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _one_dataset(records: Sequence[RunRecord]) -> str:
    datasets = {r.spec.dataset for r in records}
    if len(datasets) > 1:
        raise ValueError(f"records of several datasets ({', '.join(sorted(datasets))}); split them first")
    return datasets.pop() if datasets else ""


def compute_frontier(records: Sequence[RunRecord]) -> list[FrontierPoint]:
    """The best loss reached at each compute level (one dataset), in increasing compute, and who holds it."""
    _one_dataset(records)
    runs = [r for r in usable(records)[0] if r.flops_per_example > 0]
    rows = []
    for r in runs:
        mean, lo, hi = mean_ci(np.exp(run_log_losses(r)))
        rows.append(FrontierPoint(training_flops(r), mean, lo, hi, r.spec.arch, r.spec.target_params,
                                  r.params, r.spec.data_size))
    frontier: list[FrontierPoint] = []
    for p in sorted(rows, key=lambda p: (p.compute, p.loss)):
        if not frontier or p.loss < frontier[-1].loss:
            frontier.append(p)
    return frontier


def frontier_holders(frontier: Sequence[FrontierPoint]) -> list[tuple[str, float, float]]:
    """Consecutive stretches of the frontier held by one architecture: (arch, from FLOPs, to FLOPs)."""
    out: list[tuple[str, float, float]] = []
    for p in frontier:
        if out and out[-1][0] == p.arch:
            out[-1] = (p.arch, out[-1][1], p.compute)
        else:
            out.append((p.arch, p.compute, p.compute))
    return out


@dataclass(frozen=True)
class ArchFits:
    """Every curve of one architecture on one dataset."""

    arch: str
    vs_params: dict[int, PowerLawFit]  # one curve per data size
    vs_data: dict[int, PowerLawFit]  # one curve per target parameter count
    vs_compute: PowerLawFit  # on this architecture's own compute frontier
    joint: JointFit

    def to_dict(self) -> dict:
        return {
            "vs_params": {str(d): f.to_dict() for d, f in self.vs_params.items()},
            "vs_data": {str(n): f.to_dict() for n, f in self.vs_data.items()},
            "vs_compute": self.vs_compute.to_dict(),
            "joint": self.joint.to_dict(),
        }


@dataclass(frozen=True)
class DatasetFits:
    dataset: str
    archs: dict[str, ArchFits]
    frontier: list[FrontierPoint]
    runs: list[RunRecord]  # the usable runs the fits are made of
    excluded: list[RunRecord]  # failed or diverged runs, left out of every fit

    def to_dict(self) -> dict:
        return {
            "n_runs": len(self.runs),
            "excluded": [{"arch": r.spec.arch, "target_params": r.spec.target_params, "data_size": r.spec.data_size,
                          "status": r.status, "reason": r.reason} for r in self.excluded],
            "archs": {a: f.to_dict() for a, f in self.archs.items()},
            "frontier": [p.to_dict() for p in self.frontier],
            "frontier_holders": [{"arch": a, "from_flops": lo, "to_flops": hi}
                                 for a, lo, hi in frontier_holders(self.frontier)],
        }


def _rng(*key: object) -> np.random.Generator:
    """A generator of its own per curve, so a curve's intervals do not depend on what else is fitted."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _curve(runs: Sequence[RunRecord], x_of, axis: str, key: tuple, n_boot: int) -> PowerLawFit:
    if not runs:
        return PowerLawFit(axis, "not enough points", "no runs", np.zeros(0), np.zeros(0), 0)
    return fit_power_law([x_of(r) for r in runs], [np.exp(run_log_losses(r)) for r in runs], axis=axis,
                         n_boot=n_boot, rng=_rng(*key), groups=[seed_group(r) for r in runs])


def _measured_params(r: RunRecord) -> int:
    return r.params or r.spec.target_params


def fit_dataset(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> DatasetFits:
    """Every curve of every architecture on one dataset, and the compute frontier."""
    dataset = _one_dataset(records)
    runs, excluded = usable(records)
    archs = {}
    for arch in sorted({r.spec.arch for r in runs}):
        mine = [r for r in runs if r.spec.arch == arch]
        key = (dataset, arch)
        vs_params = {d: _curve([r for r in mine if r.spec.data_size == d], _measured_params, "params",
                               key + ("params", d), n_boot)
                     for d in sorted({r.spec.data_size for r in mine})}
        vs_data = {n: _curve([r for r in mine if r.spec.target_params == n], lambda r: r.spec.data_size,
                             "data_size", key + ("data", n), n_boot)
                   for n in sorted({r.spec.target_params for r in mine})}
        if all(r.flops_per_example > 0 for r in mine):
            on_frontier = {(p.target_params, p.data_size) for p in compute_frontier(mine)}
            frontier_runs = [r for r in mine if (r.spec.target_params, r.spec.data_size) in on_frontier]
            vs_compute = _curve(frontier_runs, training_flops, "compute", key + ("compute",), n_boot)
        else:
            vs_compute = PowerLawFit("compute", "not enough points", "FLOPs per example not measured",
                                     np.zeros(0), np.zeros(0), 0)
        joint = fit_joint([_measured_params(r) for r in mine], [r.spec.data_size for r in mine],
                          [np.exp(run_log_losses(r)) for r in mine], n_boot=n_boot, rng=_rng(*key, "joint"),
                          groups=[seed_group(r) for r in mine])
        archs[arch] = ArchFits(arch, vs_params, vs_data, vs_compute, joint)
    return DatasetFits(dataset, archs, compute_frontier(runs), runs, excluded)


def fit_datasets(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> dict[str, DatasetFits]:
    """`fit_dataset` for each dataset in the records."""
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.spec.dataset, []).append(r)
    return {ds: fit_dataset(rs, n_boot=n_boot) for ds, rs in sorted(by_dataset.items())}


def fits_to_dict(fitted: dict[str, DatasetFits]) -> dict:
    """Fitted datasets as plain JSON-ready data."""
    return {
        "level": LEVEL,
        "model": "L = E + A*x^-alpha (joint: E + A/N^alpha + B/D^beta), Huber loss on log residuals",
        "datasets": {ds: f.to_dict() for ds, f in fitted.items()},
    }


def fit_suite(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> dict:
    """All fits of a suite's records, JSON-ready (what `fits.json` holds besides the verdict)."""
    return fits_to_dict(fit_datasets(records, n_boot=n_boot))
