"""Seed noise as the runs have it, the interval of any average of seeds' log losses, and Holm's correction.

A seed's log test loss is its run's mean, plus the effect of its initialisation, plus noise of its own:

    y_i = μ[cell of i] + u[plot of i] + e_i,    u ~ N(0, τ²),  e ~ N(0, σ²)

A family's initial weights depend on its model size and seed alone (`programs.init_state`), so
one init trains at every data size: a lucky init lowers the loss at all of them. The runs form a split
plot: a *plot* is (family, model size, seed), its data sizes the subplots. In the first committed
reference (2 seeds) three quarters of the seed variance was this shared part; in the regenerated one
(3 seeds) a quarter, init sd 0.048 against 0.082 of each seed's own. An average over data sizes keeps an init's
effect whole, a difference between data sizes cancels it; counting seeds as independent across data
sizes makes the first interval far too narrow.

`SplitPlotNoise.of` estimates τ² and σ² by moments (unbiased ANOVA estimators that take any design:
missing runs, missing seeds, one data size); `variance(k)` is the variance of the combination Σ k_i·y_i
with its Satterthwaite degrees of freedom, from which `t_estimate` makes an `Estimate` at any level.
`holm` adjusts a family of p-values, and `holm_levels` gives each test the confidence level of the
step at which Holm's procedure decided it, so an interval excludes zero exactly when the test rejects.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
from scipy import special
from threadpoolctl import ThreadpoolController

from benchmarks.analysis.stats import LEVEL, Estimate

NAN = float("nan")
P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # finds the BLAS libraries once (30 ms), not on every call


def t_quantile(q: float, df: float) -> float:
    """Student t's q-quantile (scipy.special: the distribution objects cost half a millisecond a call)."""
    return float(special.stdtrit(df, q)) if np.isfinite(df) else float(special.ndtri(q))


def one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with linear algebra on one thread: these matrices have a few hundred rows, and on a busy
    2-core machine a second BLAS thread makes each decomposition some 20× slower, not faster."""

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with _controller().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapped


def orth(m: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of m."""
    if m.shape[1] == 0:
        return m
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return u[:, :0]
    return u[:, : int((s > s[0] * 1e-10).sum())]


def indicators(labels: Sequence) -> np.ndarray:
    """(n, levels) 0/1 matrix: one column per distinct label."""
    if not len(labels):
        return np.zeros((0, 0))
    _, inverse = np.unique([repr(label) for label in labels], return_inverse=True)
    return np.eye(inverse.max() + 1)[inverse.ravel()]


@dataclass(frozen=True)
class SplitPlotNoise:
    """Moment estimates of the two parts of seed noise, as two independent mean squares.

    `plot_ms` (df `plot_df`) is the spread of plot means about their cells, E = σ² + τ²·`plot_trace`/`plot_df`;
    `within_ms` (df `within_df`) the spread within plots about their cells, E = σ². With one data size per
    plot the two parts cannot be told apart: `within_ms` then holds all of it (σ² + τ², `shared` False)."""

    plot_ms: float
    plot_df: int
    within_ms: float
    within_df: int
    plot_trace: float  # tr((I − P_cells) Z Zᵀ): how much of τ² the plot mean square carries
    plots: np.ndarray  # plot index of each observation
    pooled: bool = False  # τ² taken as 0 and both mean squares pooled into σ² (`of(pool_below=...)`)

    @classmethod
    @one_blas_thread
    def of(cls, y_n: np.ndarray, cell_n: Sequence, plot_n: Sequence, *,
           pool_below: float | None = None) -> SplitPlotNoise:
        """Estimate from observations y_n with their cells (runs) and plots (inits).

        `pool_below`: where the plot mean square is not above the within one at this quantile of their F
        ratio (no sign of a shared part), take τ² as 0 and pool both into σ² (the "sometimes pool" rule of
        split-plot practice, after Bozivich, Bancroft and Hartley 1956, who advise 0.75): more degrees of
        freedom where the inits add nothing, at a small cost in error rate where they add a little."""
        y = np.asarray(y_n, dtype=float)
        x, z = indicators(cell_n), indicators(plot_n)
        plots = np.argmax(z, axis=1) if y.size else np.zeros(0, int)
        q1 = orth(x)
        q2 = orth(np.hstack([x, z]))
        ss1 = float(y @ y - np.sum((q1.T @ y) ** 2))
        ss2 = float(y @ y - np.sum((q2.T @ y) ** 2))
        df1, df2 = y.size - q1.shape[1], y.size - q2.shape[1]
        trace = float(z.sum() - np.sum((q1.T @ z) ** 2))
        plot_df = df1 - df2
        if plot_df == 0 or df2 == 0 or trace <= 1e-9:  # the two parts are not separable here
            return cls(NAN, 0, max(ss1, 0.0) / df1 if df1 > 0 else NAN, df1, 0.0, plots)
        plot_ms, within_ms = max(ss1 - ss2, 0.0) / plot_df, max(ss2, 0.0) / df2
        pooled = pool_below is not None and (
            within_ms == 0 and plot_ms == 0 or within_ms > 0 and plot_ms / within_ms < f_quantile(pool_below, plot_df, df2))
        return cls(plot_ms, plot_df, within_ms, df2, trace, plots, pooled)

    @property
    def shared(self) -> bool:
        """Whether the shared (init) part is estimated apart from the rest."""
        return self.plot_df > 0

    @property
    def _one_variance(self) -> bool:
        """τ² estimated below 0, or pooled: one variance, σ², with both mean squares' degrees of freedom."""
        return self.shared and (self.pooled or self.plot_ms < self.within_ms)

    @property
    def tau2(self) -> float:
        """Variance of an init's effect (0 where it is not separable, estimated below 0, or pooled)."""
        if not self.shared or self._one_variance:
            return 0.0
        return max(0.0, (self.plot_ms - self.within_ms) * self.plot_df / self.plot_trace)

    @property
    def sigma2(self) -> float:
        """Variance of a seed's own noise; where the parts are not separable, all of the seed variance."""
        if self._one_variance:
            return (self.plot_ms * self.plot_df + self.within_ms * self.within_df) / (self.plot_df + self.within_df)
        return self.within_ms

    @property
    def seed_var(self) -> float:
        """Variance of one seed's log loss about its run's mean: τ² + σ²."""
        return self.tau2 + self.sigma2

    def variance(self, k_n: np.ndarray) -> tuple[float, float]:
        """(variance, degrees of freedom) of Σ k_i·y_i; NaN where seed noise is unknown (one seed per run)."""
        k = np.asarray(k_n, dtype=float)
        own = float(k @ k)
        per_plot = np.bincount(self.plots, weights=k, minlength=int(self.plots.max(initial=-1)) + 1)
        shared = float(per_plot @ per_plot)
        if not self.shared:
            if not self.within_df:
                return NAN, 0.0
            # τ² and σ² confounded: assume the worse of "all shared" and "none shared"
            return self.within_ms * max(own, shared), float(self.within_df)
        if self._one_variance:
            return self.sigma2 * own, float(self.plot_df + self.within_df)
        c_plot = shared * self.plot_df / self.plot_trace
        c_within = own - c_plot
        v = c_plot * self.plot_ms + c_within * self.within_ms
        terms = (c_plot * self.plot_ms) ** 2 / self.plot_df + (c_within * self.within_ms) ** 2 / self.within_df
        if v <= 0:
            return 0.0, float(self.plot_df + self.within_df)
        return v, v * v / terms if terms > 0 else math.inf

    def covariance(self, k1_n: np.ndarray, k2_n: np.ndarray) -> float:
        """Covariance of Σ k1_i·y_i and Σ k2_i·y_i under the estimated τ² and σ² (NaN where unknown)."""
        k1, k2 = np.asarray(k1_n, dtype=float), np.asarray(k2_n, dtype=float)
        size = int(self.plots.max(initial=-1)) + 1
        p1, p2 = np.bincount(self.plots, k1, size), np.bincount(self.plots, k2, size)
        if not self.shared:
            if not self.within_df:
                return NAN
            return self.within_ms * float(k1 @ k2)
        return self.sigma2 * float(k1 @ k2) + self.tau2 * float(p1 @ p2)


def f_quantile(q: float, df1: float, df2: float) -> float:
    """The q-quantile of Fisher's F(df1, df2)."""
    return float(special.fdtri(df1, df2, q))


def t_estimate(value: float, variance: float, df: float, level: float = LEVEL) -> Estimate:
    """`value` with its Student-t interval at `level`; NaN ends where the variance is unknown."""
    if not (np.isfinite(variance) and df > 0):
        return Estimate(float(value), NAN, NAN)
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(max(variance, 0.0))
    return Estimate(float(value), float(value - half), float(value + half))


def t_p(value: float, variance: float, df: float) -> float:
    """Two-sided p-value of `value` against 0; NaN where the variance is unknown."""
    if not (np.isfinite(variance) and df > 0):
        return NAN
    if variance <= 0:
        return 1.0 if value == 0 else 0.0
    t = abs(value) / math.sqrt(variance)
    return float(2 * (special.stdtr(df, -t) if np.isfinite(df) else special.ndtr(-t)))


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, NAN)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    running = 0.0
    for step, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - step) * p[i]))
        out[i] = running
    return out


def holm_levels(p: Sequence[float], alpha: float = 1 - LEVEL) -> np.ndarray:
    """Per test, the confidence level of the step at which Holm's procedure decided it.

    Sorted by p, test j (from 0) of m is rejected when every test up to it has p ≤ α/(m − j); its interval
    at level 1 − α/(m − j) then excludes zero. The tests not rejected all get the level of the first of
    them, 1 − α/(m − j*), at which each interval includes zero. So an interval excludes zero exactly when
    Holm's procedure rejects. NaN p-values get the plain level."""
    p = np.asarray(p, dtype=float)
    levels = np.full(p.shape, 1 - alpha)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    stopped = None
    for step, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        if stopped is None and p[i] > alpha / (m - step):
            stopped = step
        levels[i] = 1 - alpha / (m - (step if stopped is None else stopped))
    return levels
