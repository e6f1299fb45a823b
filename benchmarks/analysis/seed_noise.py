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
A run also has noise that all its seeds share, which their spread cannot show: the learning rate its
search chose on seed 0, at which every seed then trains. `RunLevel` is that term, one model for every
statistic: a run's mean log loss carries, beside the seed terms, a run effect r ~ N(0, κ·s²), where s² is
the seed variance of the run's family (τ² + σ²) and κ one ratio per dataset. κ is estimated from the scatter
of the run means about a smooth surface per family (`run_level`), pooled over families: noisy families
are noisier in their rate choice too, and one ratio has the degrees of freedom of all of them. A
combination Σ k_i·y_i then gains κ·s²·Σ_c K_c² (K_c the weight of cell c: its seeds' k summed), with the
degrees of freedom of κ in its Satterthwaite sum (`SplitPlotNoise.variance`). Seeds of two families in one
cell, or of one family on two datasets, tuned apart: their run effects are independent and add.

`holm` adjusts a family of p-values, and `holm_levels` gives each test the confidence level of the
step at which Holm's procedure decided it, so an interval excludes zero exactly when the test rejects.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import ParamSpec, TypeVar

import numpy as np
from scipy import special
from threadpoolctl import ThreadpoolController

from benchmarks.analysis.stats import LEVEL, Estimate, run_log_losses
from benchmarks.spec import RunRecord

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
class RunLevel:
    """Noise a run's seeds share (the learning rate its search chose), as a ratio to its family's seed variance:
    a run effect has variance `ratio`·s², its estimate `df` degrees of freedom (`run_level`)."""

    ratio: float = 0.0
    df: float = math.inf
    kurtosis: float = 0.0  # excess kurtosis of the pseudo-residuals κ is the mean square of (0: Gaussian)

    @property
    def effective_df(self) -> float:
        """The degrees of freedom of κ as a variance estimate: a mean square of df terms with excess kurtosis γ
        has relative variance 2/df + γ/df, as a χ² of 2·df/(2 + γ) degrees of freedom. Heavy-tailed rate choices
        make κ noisier than its count of triples says; tests and intervals read it with these df."""
        return self.df * 2 / (2 + self.kurtosis)

    def to_dict(self) -> dict:
        return {"run_to_seed_variance": self.ratio, "df": self.df, "kurtosis": self.kurtosis,
                "effective_df": self.effective_df}


@dataclass(frozen=True)
class FamilyRuns:
    """One family's runs for `run_level`: log model size, log data size and the seeds' log losses of each run."""

    log_size_R: np.ndarray
    log_data_R: np.ndarray
    seeds: Sequence[np.ndarray]


# What the committed `quick` reference shows of κ (results/reference/quick: 6 families × 12 runs, 60 triples),
# taken as worth PRIOR_DF triples of any suite's own: a design of a few runs a family (2 datasets × 3 families ×
# 3 data sizes leave 6 triples) cannot tell κ from 0, and a floored estimate of 0 would drop the term.
REFERENCE_RUN_LEVEL = RunLevel(1.14, 60.0, 2.39)
PRIOR_DF = 6.0


def run_level(families: Sequence[FamilyRuns]) -> RunLevel:
    """κ, the run effect's variance over the seed variance, by moments, pooled over families.

    Scaling curves are smooth, so three neighbouring runs along one axis (the other held fixed) leave a
    pseudo-residual e = a·y₁ + c·y₃ − y₂ that is 0 on any straight line in log size or log data
    (a, c the interpolation weights; Gasser, Sroka and Jennen-Steinmetz 1986). Local, it follows curves
    that bend (a double-descent peak) where one global surface would call the bend noise. With run
    means of variance s²·(1/m + κ), E[e²] = s²·(a²/m₁ + 1/m₂ + c²/m₃) + κ·s²·(a² + 1 + c²), s² the family's
    pooled seed variance; the excess of Σ e²/s² over its seed part, over Σ(a² + 1 + c²), estimates κ
    (floored at 0), with one degree of freedom a triple. Families without seed noise add nothing; with no
    triple, κ is 0 and unknown (df 0). The pseudo-residuals' excess kurtosis (each in units of its expected
    sd at the estimated κ; floored at 0, and 0 below MIN_KURTOSIS_TRIPLES) sets κ's `effective_df`."""
    excess, weight, df = 0.0, 0.0, 0
    scaled = []  # (e²/s², its seed part, a² + 1 + c²) of each triple
    for fam in families:
        multi = [np.asarray(s, float) for s in fam.seeds if np.size(s) > 1]
        seed_df = sum(s.size - 1 for s in multi)
        s2 = sum((s.size - 1) * s.var(ddof=1) for s in multi) / seed_df if seed_df else 0.0
        if s2 <= 0:
            continue
        y = np.array([np.mean(s) for s in fam.seeds])
        m = np.array([np.size(s) for s in fam.seeds], dtype=float)
        for along, held in ((fam.log_data_R, fam.log_size_R), (fam.log_size_R, fam.log_data_R)):
            for h in np.unique(held):
                line = np.flatnonzero(held == h)
                line = line[np.argsort(along[line], kind="stable")]
                for i1, i2, i3 in zip(line, line[1:], line[2:], strict=False):
                    x1, x2, x3 = along[i1], along[i2], along[i3]
                    a, c = (x3 - x2) / (x3 - x1), (x2 - x1) / (x3 - x1)
                    e = a * y[i1] + c * y[i3] - y[i2]
                    seed_part = a * a / m[i1] + 1 / m[i2] + c * c / m[i3]
                    excess += e * e / s2 - seed_part
                    weight += a * a + 1 + c * c
                    df += 1
                    scaled.append((e * e / s2, seed_part, a * a + 1 + c * c))
    if not df:
        return RunLevel(0.0, 0.0)
    kappa = max(0.0, float(excess / weight))
    return RunLevel(kappa, float(df), _kurtosis([sq / (seed + kappa * run) for sq, seed, run in scaled]))


MIN_KURTOSIS_TRIPLES = 20  # fewer triples tell nothing of the tails: the reference's kurtosis (`with_prior`)


def _kurtosis(z2: Sequence[float]) -> float:
    """Excess kurtosis of pseudo-residuals from their squares in units of their expected variance, ≥ 0."""
    z2 = np.asarray(z2, dtype=float)
    if z2.size < MIN_KURTOSIS_TRIPLES or z2.mean() <= 0:
        return 0.0
    return max(0.0, float(np.mean(z2**2) / np.mean(z2) ** 2 - 3))


def families_of(records: Sequence[RunRecord]) -> list[FamilyRuns]:
    """A suite's usable runs as `run_level` reads them: each family on each dataset one line of neighbours along
    target params and along data size."""
    families = []
    for key in sorted({(r.spec.dataset, r.spec.arch) for r in records}):
        mine = [r for r in records if (r.spec.dataset, r.spec.arch) == key]
        families.append(FamilyRuns(np.log([float(r.spec.target_params) for r in mine]),
                                   np.log([float(r.spec.data_size) for r in mine]),
                                   [run_log_losses(r) for r in mine]))
    return families


def run_level_of(records: Sequence[RunRecord]) -> RunLevel:
    """`run_level` of a suite's usable runs (`families_of`), pooled with REFERENCE_RUN_LEVEL's κ at PRIOR_DF
    triples (`with_prior`)."""
    return with_prior(run_level(families_of(records)))


def with_prior(run: RunLevel) -> RunLevel:
    """κ pooled with the reference's, weighted by triples: (κ̂·df + κ_ref·PRIOR_DF) / (df + PRIOR_DF); its
    kurtosis likewise (a design too small to show its own tails borrows the reference's)."""
    df = run.df + PRIOR_DF
    own = run.kurtosis if run.df >= MIN_KURTOSIS_TRIPLES else REFERENCE_RUN_LEVEL.kurtosis
    return RunLevel((run.ratio * run.df + REFERENCE_RUN_LEVEL.ratio * PRIOR_DF) / df, df,
                    (own * run.df + REFERENCE_RUN_LEVEL.kurtosis * PRIOR_DF) / df)


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
    cells: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # cell (run) index of each observation
    run: RunLevel = field(default_factory=lambda: RunLevel())  # noise a run's seeds share (its rate choice)

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
        cells = np.argmax(x, axis=1) if y.size else np.zeros(0, int)
        q1 = orth(x)
        q2 = orth(np.hstack([x, z]))
        ss1 = float(y @ y - np.sum((q1.T @ y) ** 2))
        ss2 = float(y @ y - np.sum((q2.T @ y) ** 2))
        df1, df2 = y.size - q1.shape[1], y.size - q2.shape[1]
        trace = float(z.sum() - np.sum((q1.T @ z) ** 2))
        plot_df = df1 - df2
        if plot_df == 0 or df2 == 0 or trace <= 1e-9:  # the two parts are not separable here
            return cls(NAN, 0, max(ss1, 0.0) / df1 if df1 > 0 else NAN, df1, 0.0, plots, cells=cells)
        plot_ms, within_ms = max(ss1 - ss2, 0.0) / plot_df, max(ss2, 0.0) / df2
        pooled = pool_below is not None and (
            within_ms == 0 and plot_ms == 0 or within_ms > 0 and plot_ms / within_ms < f_quantile(pool_below, plot_df, df2))
        return cls(plot_ms, plot_df, within_ms, df2, trace, plots, pooled, cells)

    def with_runs(self, run: RunLevel) -> SplitPlotNoise:
        """The same seed noise with the run-level term `run` (κ and its degrees of freedom)."""
        return replace(self, run=run)

    def _run_part(self, k1: np.ndarray, k2: np.ndarray) -> float:
        """κ·s²·Σ_c K1_c·K2_c: the run effects' share of a (co)variance."""
        if self.run.ratio == 0 or not self.cells.size:
            return 0.0
        size = int(self.cells.max()) + 1
        return self.run.ratio * self.seed_var * float(np.bincount(self.cells, k1, size) @ np.bincount(self.cells, k2, size))

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
        """(variance, degrees of freedom) of Σ k_i·y_i, the run effects included; NaN where seed noise is
        unknown (one seed per run)."""
        k = np.asarray(k_n, dtype=float)
        v, df = self._seed_variance(k)
        run = self._run_part(k, k)
        if not np.isfinite(v) or run == 0:
            return v, df
        terms = (v * v / df if df > 0 and np.isfinite(df) else 0.0) + run * run / self._run_df
        return v + run, (v + run) ** 2 / terms if terms > 0 else math.inf

    @property
    def _run_df(self) -> float:
        """Degrees of freedom of κ·s²: a product of two estimates, whose squared relative errors add
        (2/df each), so 1/df = 1/df_κ + 1/df_s."""
        seed_df = self.plot_df + self.within_df if self.shared else self.within_df
        return 1 / (1 / self.run.effective_df + 1 / max(seed_df, 1))

    def _seed_variance(self, k: np.ndarray) -> tuple[float, float]:
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
        run = self._run_part(k1, k2)
        if not self.shared:
            if not self.within_df:
                return NAN
            return self.within_ms * float(k1 @ k2) + run
        return self.sigma2 * float(k1 @ k2) + self.tau2 * float(p1 @ p2) + run


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
