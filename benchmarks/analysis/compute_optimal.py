"""Compute frontiers per family: the lowest held-out loss a family reaches at each training compute, the
model size that reaches it, and how the families' frontiers compare (Smith et al. 2023's question: do
ConvNets match Vision Transformers at scale?).

A family's frontier is read off its law L(N, D) = E + A·N^−α + B·D^−β (`joint_fit`), fitted to every
run of the family, of every size and every training length (Hoffmann et al. 2022, approach 3). With D the
examples a run sees and training compute C = 3·f(N)·D, where f(N) = κ·N^φ is the family's measured
forward FLOPs per example (fitted on log-log axes over its sizes), minimising L over N at fixed C gives

    N*(C) = K·C^a,  a = β / (α + φβ)            the compute-optimal size
    L*(C) = E + G·C^−γ,  γ = α·a                the frontier

(with K and G closed-form in A, B, α, β, κ, φ). Every number is computed on the fit and on each of its
parametric-bootstrap replicates, so each has an interval. The law is a fit to the whole grid, so the
frontier reads between and beyond measured points without picking the luckiest run at each compute
(which the envelope of the points themselves does: `frontier.compute_frontier` keeps that envelope, with
each point's seed interval, beside the law). Only where D is the examples seen (the online regime, or one
epoch) is the law's D the compute's; elsewhere, and where the law is not identified, there is no law
frontier and the report says why.

Between families (over the union of their measured compute, levels `LEVELS` log-spaced):
- `holders`: which family's frontier is lowest at each level, and in what share of the replicates;
- `multipliers`: for each pair, at the top of the compute both measured, the factor of compute the weaker
  needs to reach the stronger's frontier loss there (∞ where its E lies above it);
- `leader`: the family whose frontier is lowest at the top of the measured compute; a local line (no law)
  competes only where its runs reach within `MIN_OVERLAP_DECADES` of it (a line through an envelope is not
  read further past its runs to lead; an identified law is, and says so);
- `tied`: the other families that compete there whose frontier at the top is within noise of the leader's
  (the 95% interval of their gap over the replicates holds 0): the leader is not separated from them;
- `convergence`: each family's frontier gap to the leader's (log loss above it) at the two ends of the
  compute both measured, and its trend per decade of compute: converging when the trend's interval lies
  below 0, diverging above, else not shown. Where the ranges do not overlap by `MIN_OVERLAP_DECADES`,
  the gap is read over the union of the ranges and labelled an extrapolation.

Shapes: R rows (the fit, then its B replicates), K compute levels.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis.frontier import FrontierPoint, compute_frontier, training_flops
from benchmarks.analysis.joint_fit import JointFit
from benchmarks.analysis.seed_noise import SplitPlotNoise
from benchmarks.analysis.stats import Estimate, SeedNoise, keyed_rng, percentile_mc_error, percentiles, run_log_losses
from benchmarks.spec import TRAIN_FLOPS_PER_FORWARD, RunRecord

LEVELS = 9  # compute levels at which holders and frontiers are tabulated
MIN_BRACKETED = 3  # compute levels with N* between measured sizes, for the local line's trend of N*
MIN_OVERLAP_DECADES = 0.5  # two families' measured compute must overlap this much to be compared inside it
LOG_CAP = 50.0  # a factor that is never reached (∞) enters the percentiles as e^50
LN10 = float(np.log(10))


@dataclass(frozen=True)
class FlopsModel:
    """Forward FLOPs per example as κ·N^φ, fitted on log-log axes to a family's measured sizes."""

    log_kappa: float
    phi: float

    @classmethod
    def fit(cls, params: Sequence[float], flops_per_example: Sequence[float]) -> FlopsModel:
        u, v = np.log(np.asarray(params, float)), np.log(np.asarray(flops_per_example, float))
        if np.ptp(u) < 1e-9:  # one size: proportional
            return cls(float(np.mean(v - u)), 1.0)
        phi, log_kappa = np.polyfit(u, v, 1)
        return cls(float(log_kappa), float(phi))

    def to_dict(self) -> dict:
        return {"kappa": float(np.exp(self.log_kappa)), "phi": self.phi}


@dataclass(frozen=True)
class FamilyFrontier:
    """One family's compute frontier: the law's (kind "law"), else the local line through the envelope of
    its runs (kind "slope"), each with its rows (the fit, then its bootstrap replicates)."""

    arch: str
    status: str  # "ok" (the law) | "slope" (the envelope's local line) | "no frontier"
    reason: str
    points: list[FrontierPoint]  # the envelope of the family's runs (seed intervals)
    log_c_range: tuple[float, float]  # measured training compute (natural log)
    log_n_range: tuple[float, float]  # measured parameters (natural log)
    flops: FlopsModel | None = None
    law_Rx5: np.ndarray | None = field(default=None, repr=False)  # E, A, α, B, β (natural units); row 0: the fit
    line_Rx2: np.ndarray | None = field(default=None, repr=False)  # slope: log L* = c + s·log C
    size_slope_R: np.ndarray | None = field(default=None, repr=False)  # slope: d log N* / d log C
    envelope_rows: tuple[dict, ...] = ()  # slope: L* and N* of the envelope at the family's own levels

    @property
    def ok(self) -> bool:
        """A frontier to compare: the law's or the local line's."""
        return self.status in ("ok", "slope")

    @property
    def n_rows(self) -> int:
        return len(self.law_Rx5 if self.status == "ok" else self.line_Rx2)

    def _derived(self) -> tuple[np.ndarray, ...]:
        """The law's (R,) E, log G, γ, log K, a."""
        e, a_coef, alpha, b_coef, beta = self.law_Rx5.T
        phi = self.flops.phi
        log_c3 = np.log(TRAIN_FLOPS_PER_FORWARD) + self.flops.log_kappa
        with np.errstate(divide="ignore", invalid="ignore"):
            a = beta / (alpha + phi * beta)
            log_k = (np.log(alpha * a_coef) - np.log(phi * beta * b_coef) - beta * log_c3) / (alpha + phi * beta)
            log_g = np.log(a_coef) + np.log1p(alpha / (phi * beta)) - alpha * log_k
        return e, log_g, alpha * a, log_k, a

    def log_loss_RxK(self, log_c_K: np.ndarray) -> np.ndarray:
        """log L*(C) per row at each level."""
        log_c_K = np.asarray(log_c_K, float)
        if self.status == "slope":
            return self.line_Rx2[:, :1] + self.line_Rx2[:, 1:] * log_c_K[None]
        e, log_g, gamma, _, _ = self._derived()
        return np.log(e[:, None] + np.exp(log_g[:, None] - gamma[:, None] * log_c_K[None]))

    def log_c_for_RxK(self, log_loss_RxK: np.ndarray) -> np.ndarray:
        """log C at which row r of the frontier reaches each loss; +inf where it never does."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.status == "slope":
                c, s = self.line_Rx2[:, :1], self.line_Rx2[:, 1:]
                return np.where(s < 0, (log_loss_RxK - c) / s, np.inf)
            e, log_g, gamma, _, _ = self._derived()
            excess = np.exp(log_loss_RxK) - e[:, None]
            out = (log_g[:, None] - np.log(np.where(excess > 0, excess, 1.0))) / gamma[:, None]
        return np.where(excess > 0, out, np.inf)

    @property
    def estimates(self) -> dict[str, Estimate]:
        """Law: E, G, γ (the frontier's exponent) and a (the compute-optimal size's); slope: the local γ
        (−d log L*/d log C) of the envelope, and a (d log N*/d log C) only where its sizes bracket N*."""
        if self.status == "slope":
            a = {} if self.size_slope_R is None else {"a": _est(self.size_slope_R)}
            return {"gamma": _est(-self.line_Rx2[:, 1]), **a}
        if self.status != "ok":
            return {}
        e, log_g, gamma, _, a = self._derived()
        return {"E": _est(e), "G": _est(np.exp(log_g)), "gamma": _est(gamma), "a": _est(a)}

    def table(self, log_c_K: np.ndarray) -> list[dict]:
        """L* and N* at each compute level, with intervals; `measured`: the level lies in the family's
        measured compute and its N* among its measured sizes (else an extrapolation). For a local line,
        the envelope's own levels, `measured` where the runs bracket N* (not at the smallest or largest size)."""
        if self.status == "slope":
            return list(self.envelope_rows)
        if self.status != "ok":
            return []
        e, log_g, gamma, log_k, a = self._derived()
        loss = np.exp(self.log_loss_RxK(log_c_K))
        n_opt = log_k[:, None] + a[:, None] * np.asarray(log_c_K)[None]
        rows = []
        for k, lc in enumerate(log_c_K):
            inside = self.log_c_range[0] - 1e-9 <= lc <= self.log_c_range[1] + 1e-9
            n_inside = self.log_n_range[0] - 1e-9 <= n_opt[0, k] <= self.log_n_range[1] + 1e-9
            rows.append({"compute": float(np.exp(lc)), "loss": _est(loss[:, k]).to_dict(),
                         "optimal_params": _est(np.exp(n_opt[:, k])).to_dict(), "measured": bool(inside and n_inside)})
        return rows

    def to_dict(self, log_c_K: np.ndarray) -> dict:
        d = {"status": self.status, "kind": {"ok": "law", "slope": "slope"}.get(self.status),
             "reason": self.reason, "envelope": [p.to_dict() for p in self.points],
             "measured_compute": [float(np.exp(x)) for x in self.log_c_range],
             "measured_params": [float(np.exp(x)) for x in self.log_n_range]}
        if self.flops is not None:
            d["flops_per_example"] = self.flops.to_dict()
        if self.ok:
            d |= {name: e.to_dict() for name, e in self.estimates.items()}
            d |= {"n_boot": self.n_rows - 1, "frontier": self.table(log_c_K)}
        return d


def _est(rows: np.ndarray) -> Estimate:
    """The fit (row 0) with the percentile interval of its replicates (none without replicates)."""
    rows = np.asarray(rows, float)
    if rows.size < 2:
        return Estimate(float(rows[0]), float("nan"), float("nan"))
    return Estimate.bootstrap(rows[0], rows[1:])


def init_share(runs: Sequence[RunRecord]) -> float:
    """The share of a seed's variance its init carries, τ²/(τ² + σ²) (`seed_noise.SplitPlotNoise`, plots: size ×
    seed): a size's initial weights depend on its seed alone, so one init trains at every length of that size."""
    y, cells, plots = [], [], []
    for r in runs:
        ok = [s.seed for s in r.seeds if s.test_loss is not None and np.isfinite(s.test_loss) and s.test_loss > 0]
        y += list(run_log_losses(r))
        cells += [r.run_id] * len(ok)
        plots += [(r.spec.target_params, seed) for seed in ok]
    sp = SplitPlotNoise.of(np.array(y), cells, plots)
    return float(sp.tau2 / sp.seed_var) if sp.seed_var > 0 else 0.0


def envelope(runs: Sequence[RunRecord], noise: SeedNoise, n_boot: int, rng: np.random.Generator,
             log_levels: np.ndarray, shared: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, K) log L*, log N* and whether N* is bracketed, of the envelope at each level: each size's runs joined
    by straight lines on log-log axes, the lowest of them at each compute or less (N*: `isoflop_vertex`); rows:
    the observed run means, then the same with the noise of a run's mean drawn afresh (`SeedNoise.draw`, as the
    fits' bootstrap does), the `shared` part of its seed variance (the inits: `init_share`) drawn once for all the
    runs of a size."""
    seeds = [run_log_losses(r) for r in runs]
    means = np.array([s.mean() for s in seeds])
    eps = (noise.draw(np.array([s.size for s in seeds], float), n_boot, rng,
                      groups_P=[r.spec.target_params for r in runs], shared=shared)
           if noise.known else np.zeros((0, len(runs))))
    y_RxP = np.concatenate([means[None], means[None] + eps])
    log_c = np.log([training_flops(r) for r in runs])
    curves, log_n = [], []
    for n in sorted({r.spec.target_params for r in runs}):
        idx = np.array([i for i, r in enumerate(runs) if r.spec.target_params == n])
        idx = idx[np.argsort(log_c[idx])]
        x = log_c[idx]
        j = np.clip(np.searchsorted(x, log_levels) - 1, 0, max(len(x) - 2, 0))
        j1 = np.minimum(j + 1, len(x) - 1)
        w = np.where(x[j1] > x[j], (log_levels - x[j]) / np.where(x[j1] > x[j], x[j1] - x[j], 1.0), 0.0)
        y = y_RxP[:, idx[j]] * (1 - w) + y_RxP[:, idx[j1]] * w
        inside = (log_levels >= x[0] - 1e-9) & (log_levels <= x[-1] + 1e-9)
        curves.append(np.where(inside[None], y, np.inf))
        log_n.append(float(np.log(np.mean([r.params or n for r in runs if r.spec.target_params == n]))))
    loss_SxRxK = np.stack(curves)
    # a run that reached a loss with less compute reaches it with more (stop it there): the frontier never rises
    frontier_RxK = np.minimum.accumulate(np.min(loss_SxRxK, axis=0), axis=1)
    return frontier_RxK, *isoflop_vertex(np.array(log_n), loss_SxRxK)


def isoflop_vertex(log_n_S: np.ndarray, loss_SxRxK: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, K) log N* and whether it is bracketed: at each compute, the vertex of the parabola in log N through
    the best size and its two neighbours (Hoffmann et al.'s IsoFLOP profiles), so N* moves smoothly between
    the measured sizes. Where the best size is the smallest or largest covering that compute, N* is that size
    and not bracketed: the optimum may lie beyond it, so it bounds N* rather than measures it."""
    best = np.argmin(loss_SxRxK, axis=0)
    s = len(log_n_S)
    lo, hi = np.clip(best - 1, 0, s - 1), np.clip(best + 1, 0, s - 1)
    pick = lambda i: np.take_along_axis(loss_SxRxK, i[None], axis=0)[0]
    y0, y1, y2 = pick(lo), pick(best), pick(hi)
    x0, x1, x2 = log_n_S[lo], log_n_S[best], log_n_S[hi]
    interior = (lo < best) & (best < hi) & np.isfinite(y0) & np.isfinite(y2)
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1))
        linear = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2))
        vertex = np.clip(-linear / (2 * curvature), x0, x2)
    return np.where(interior & (curvature != 0), vertex, x1), interior


def _base(runs: Sequence[RunRecord]) -> dict:
    """What every frontier of a family states: its envelope, measured ranges and FLOPs model."""
    log_c = np.log([training_flops(r) for r in runs])
    log_n = np.log([r.params or r.spec.target_params for r in runs])
    return dict(points=compute_frontier(runs), log_c_range=(float(log_c.min()), float(log_c.max())),
                log_n_range=(float(log_n.min()), float(log_n.max())),
                flops=FlopsModel.fit(np.exp(log_n), [r.flops_per_example for r in runs]))


def envelope_frontier(arch: str, runs: Sequence[RunRecord], noise: SeedNoise, *, n_boot: int,
                      rng: np.random.Generator, why: str = "") -> FamilyFrontier:
    """The local line through the envelope of the family's runs (with FLOPs measured), and the slope of its
    compute-optimal size."""
    base = _base(runs)
    why = why + "; the local log-log slope of the envelope of its runs instead" if why else ""
    log_levels = np.linspace(*base["log_c_range"], LEVELS)
    loss_RxK, log_n_RxK, bracketed_RxK = envelope(runs, noise, n_boot, rng, log_levels, init_share(runs))
    ok = np.isfinite(loss_RxK[0])
    if ok.sum() < 3:
        return FamilyFrontier(arch, "no frontier", why + "; too few compute levels for a line", **base)
    u = log_levels[ok]
    design = np.stack([np.ones_like(u), u], axis=1)
    line = np.linalg.lstsq(design, loss_RxK[:, ok].T, rcond=None)[0].T
    # N*'s slope only through the levels where the runs bracket it: at the smallest or largest size it is a bound
    inner = ok & bracketed_RxK[0]
    size_slope = None
    if inner.sum() >= MIN_BRACKETED:
        v = log_levels[inner]
        size_slope = np.linalg.lstsq(np.stack([np.ones_like(v), v], axis=1), log_n_RxK[:, inner].T, rcond=None)[0][1]
    else:
        why += (f"; N* lies between measured sizes at {int(inner.sum())} of {int(ok.sum())} compute levels (elsewhere "
                f"at the smallest or largest size), fewer than {MIN_BRACKETED}: its trend a is not measured")
    rows = tuple({"compute": float(np.exp(lc)), "loss": _est(np.exp(loss_RxK[:, k])).to_dict(),
                  "optimal_params": _est(np.exp(log_n_RxK[:, k])).to_dict(), "measured": bool(inner[k])}
                 for k, lc in enumerate(log_levels) if ok[k])
    return FamilyFrontier(arch, "slope", why.lstrip("; "), line_Rx2=line, size_slope_R=size_slope, envelope_rows=rows,
                          **base)


def family_frontier(arch: str, runs: Sequence[RunRecord], joint: JointFit, noise: SeedNoise, *,
                    n_boot: int, rng: np.random.Generator) -> FamilyFrontier:
    """One family's frontier from its runs: from its law L(N, D) where that is identified and D is the
    examples its runs see, else the local line through the envelope of its runs."""
    measured = [r for r in runs if r.flops_per_example > 0]
    if not measured:
        return FamilyFrontier(arch, "no frontier", "FLOPs per example not measured", [], (np.nan, np.nan),
                              (np.nan, np.nan))
    base = _base(measured)
    if any(r.spec.data_size != r.spec.steps * r.spec.batch_size for r in measured):
        why = "its runs see their examples more than once (the finite regime): the law's data axis is not the compute's"
    elif not joint.ok or joint.boot is None:
        why = f"its law L(N, D) is not identified ({joint.status}: {joint.reason})"
    elif base["flops"].phi <= 0:
        why = "its FLOPs per example do not grow with its size"
    else:
        law = np.stack(joint._params(np.concatenate([joint.theta[None], joint.boot])), axis=1)
        return FamilyFrontier(arch, "ok", "", law_Rx5=law, **base)
    return envelope_frontier(arch, measured, noise, n_boot=n_boot, rng=rng, why=why)


# ---------------------------------------------------------------------------- between families


@dataclass(frozen=True)
class ComputeMultiplier:
    """The factor of training compute `weaker` needs to reach `stronger`'s frontier loss at `compute`."""

    weaker: str
    stronger: str
    compute: float
    log_factor: Estimate  # natural log; replicates that never get there enter at LOG_CAP
    measured: bool  # the weaker's compute at the match lies inside its measured range
    unreachable_share: float  # replicates in which the weaker never gets there (E above the target)

    @property
    def factor(self) -> Estimate:
        return Estimate(*(float(np.exp(v)) if v < LOG_CAP - 1e-9 else float("inf") for v in
                          (self.log_factor.value, self.log_factor.lo, self.log_factor.hi)))

    def to_dict(self) -> dict:
        return {"weaker": self.weaker, "stronger": self.stronger, "compute": self.compute,
                "factor": self.factor.to_dict(), "measured": self.measured, "unreachable_share": self.unreachable_share}


@dataclass(frozen=True)
class GapTrend:
    """`other`'s frontier above the leader's (log loss) at the two ends of a compute range, and its change
    per decade of compute (negative: the frontiers converge)."""

    other: str
    leader: str
    compute: tuple[float, float]
    gap: tuple[Estimate, Estimate]
    per_decade: Estimate
    measured: bool  # the range is compute both families measured

    @property
    def verdict(self) -> str:
        if not np.isfinite(self.per_decade.lo):
            return "not shown"
        if self.per_decade.hi < 0:
            return "converging"
        if self.per_decade.lo > 0:
            return "diverging"
        return "not shown"

    def to_dict(self) -> dict:
        return {"other": self.other, "leader": self.leader, "compute": list(self.compute),
                "gap": [g.to_dict() for g in self.gap], "per_decade": self.per_decade.to_dict(),
                "trend": self.verdict, "measured": self.measured}


@dataclass(frozen=True)
class ComputeFrontiers:
    """Every family's frontier on one dataset, and how they compare."""

    families: dict[str, FamilyFrontier]
    log_levels: np.ndarray  # (K,) log compute over the union of the families' measured compute
    holders: list[dict]  # per level: the family whose frontier is lowest, and its share of the replicates
    multipliers: list[ComputeMultiplier]
    convergence: list[GapTrend]
    leader: str  # the lowest frontier at the top of the measured compute (local lines only if they reach near it)
    tied: tuple[str, ...] = ()  # competitors whose frontier at the top is within noise of the leader's

    @property
    def fitted(self) -> dict[str, FamilyFrontier]:
        return {a: f for a, f in self.families.items() if f.ok}

    def to_dict(self) -> dict:
        return {
            "model": "from each family's L(N, D) = E + A*N^-alpha + B*D^-beta with C = 3*kappa*N^phi*D: "
                     "L*(C) = E + G*C^-gamma, N*(C) proportional to C^a; intervals: its bootstrap replicates",
            "families": {a: f.to_dict(self.log_levels) for a, f in self.families.items()},
            "levels": [float(np.exp(x)) for x in self.log_levels],
            "holders": self.holders, "leader": self.leader, "tied": list(self.tied),
            "multipliers": [m.to_dict() for m in self.multipliers],
            "convergence": [g.to_dict() for g in self.convergence],
        }


def _rows(frontiers: Sequence[FamilyFrontier]) -> int:
    return min(f.n_rows for f in frontiers)  # replicates pair up by index (the fits are independent)


def _holders(fitted: Mapping[str, FamilyFrontier], log_levels: np.ndarray) -> list[dict]:
    names = list(fitted)
    r = _rows(fitted.values())
    loss_FxRxK = np.stack([f.log_loss_RxK(log_levels)[:r] for f in fitted.values()])
    best_RxK = np.argmin(loss_FxRxK, axis=0)
    out = []
    for k, lc in enumerate(log_levels):
        holder = int(best_RxK[0, k])
        share = float(np.mean(best_RxK[1:, k] == holder)) if r > 1 else float("nan")
        measured = fitted[names[holder]].log_c_range[0] - 1e-9 <= lc <= fitted[names[holder]].log_c_range[1] + 1e-9
        out.append({"compute": float(np.exp(lc)), "arch": names[holder], "share": share, "measured": bool(measured)})
    return out


def _common(a: FamilyFrontier, b: FamilyFrontier) -> tuple[float, float, bool]:
    """The compute both measured (log), or the union of their ranges where they overlap too little."""
    lo, hi = max(a.log_c_range[0], b.log_c_range[0]), min(a.log_c_range[1], b.log_c_range[1])
    if hi - lo >= MIN_OVERLAP_DECADES * LN10:
        return lo, hi, True
    return min(a.log_c_range[0], b.log_c_range[0]), max(a.log_c_range[1], b.log_c_range[1]), False


def multiplier(weaker: FamilyFrontier, stronger: FamilyFrontier, log_c: float) -> ComputeMultiplier:
    r = _rows([weaker, stronger])
    target = stronger.log_loss_RxK(np.array([log_c]))[:r]
    log_need = weaker.log_c_for_RxK(target)[:, 0]
    log_k = np.minimum(log_need - log_c, LOG_CAP)
    est = (Estimate(float(log_k[0]), *map(float, percentiles(log_k[1:])), mc=percentile_mc_error(log_k[1:])) if r > 1
           else Estimate(float(log_k[0]), np.nan, np.nan))
    return ComputeMultiplier(weaker.arch, stronger.arch, float(np.exp(log_c)), est,
                             bool(np.isfinite(log_need[0]) and log_need[0] <= weaker.log_c_range[1] + 1e-9),
                             float(np.mean(~np.isfinite(log_need[1:]))) if r > 1 else 0.0)


def gap_trend(other: FamilyFrontier, leader: FamilyFrontier) -> GapTrend:
    lo, hi, measured = _common(other, leader)
    r = _rows([other, leader])
    ends = np.array([lo, hi])
    gap_Rx2 = other.log_loss_RxK(ends)[:r] - leader.log_loss_RxK(ends)[:r]
    slope_R = (gap_Rx2[:, 1] - gap_Rx2[:, 0]) / max((hi - lo) / LN10, 1e-9)
    return GapTrend(other.arch, leader.arch, (float(np.exp(lo)), float(np.exp(hi))),
                    (_est(gap_Rx2[:, 0]), _est(gap_Rx2[:, 1])), _est(slope_R), measured)


def within_noise_at(other: FamilyFrontier, leader: FamilyFrontier, log_c: float) -> bool:
    """Whether the 95% interval of `other`'s frontier gap to `leader`'s at `log_c`, over their replicates, holds 0."""
    r = _rows([other, leader])
    at = np.array([log_c])
    gap = _est(other.log_loss_RxK(at)[:r, 0] - leader.log_loss_RxK(at)[:r, 0])
    return bool(gap.lo <= 0 <= gap.hi)


def compare_frontiers(families: Mapping[str, FamilyFrontier]) -> ComputeFrontiers:
    """Holders, pairwise multipliers and the convergence of the families' frontiers."""
    fitted = {a: f for a, f in families.items() if f.ok}
    ranges = [f.log_c_range for f in families.values() if np.isfinite(f.log_c_range[0])]
    if not ranges:
        return ComputeFrontiers(dict(families), np.zeros(0), [], [], [], "")
    log_levels = np.linspace(min(r[0] for r in ranges), max(r[1] for r in ranges), LEVELS)
    if not fitted:
        return ComputeFrontiers(dict(families), log_levels, [], [], [], "")
    top = log_levels[-1:]
    near = [a for a, f in fitted.items() if f.status == "ok" or f.log_c_range[1] >= top[0] - MIN_OVERLAP_DECADES * LN10 - 1e-9]
    near = near or list(fitted)
    leader = min(near, key=lambda a: fitted[a].log_loss_RxK(top)[0, 0])
    tied = tuple(a for a in sorted(near) if a != leader and within_noise_at(fitted[a], fitted[leader], top[0]))
    mults = []
    for a, b in itertools.combinations(sorted(fitted), 2):
        lo, hi, _ = _common(fitted[a], fitted[b])
        at = np.array([hi])
        stronger, weaker = (a, b) if fitted[a].log_loss_RxK(at)[0, 0] <= fitted[b].log_loss_RxK(at)[0, 0] else (b, a)
        mults.append(multiplier(fitted[weaker], fitted[stronger], hi))
    trends = [gap_trend(fitted[a], fitted[leader]) for a in sorted(fitted) if a != leader]
    return ComputeFrontiers(dict(families), log_levels, _holders(fitted, log_levels), mults, trends, leader, tied)


def compute_frontiers(runs: Sequence[RunRecord], joints: Mapping[str, JointFit], noise: Mapping[str, SeedNoise], *,
                      n_boot: int, dataset: str = "") -> ComputeFrontiers:
    """Every family's compute frontier on one dataset's usable runs (its law and the noise its curves were
    bootstrapped with), and their comparison."""
    families = {arch: family_frontier(arch, [r for r in runs if r.spec.arch == arch], joint, noise[arch],
                                      n_boot=n_boot, rng=keyed_rng(dataset, arch, "frontier"))
                for arch, joint in sorted(joints.items())}
    return compare_frontiers(families)
