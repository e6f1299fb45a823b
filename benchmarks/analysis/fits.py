"""Scaling-curve fits per architecture: L = E + A·X^(−α) or a local log-log slope, the joint L(N, D), the
compute frontier.

Every fit is a pure function of RunRecords; the fitting itself (the model, the
solver, the threshold that says when the law is identifiable, the bootstrap) is
`benchmarks.analysis.curve_fit`. Intervals come from a parametric bootstrap: the
fitted curve plus the noise of each run's mean implied by the seed noise pooled
over all the runs of the architecture (`stats.SeedNoise`), and by the noise a
run's seeds share, where the runs scatter about smooth curves more than seed
noise explains (`seed_noise.run_level`: the one run-level term every statistic uses, a ratio to each
family's seed variance pooled over the dataset). The compute axis is a
frontier (each compute level's best run, of whichever size): an envelope of
curves whose points are picked by their own noise, so it gets the local line
only, never the law. docs/statistics.md says what each number assumes and which
test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from benchmarks.analysis.compute_optimal import ComputeFrontiers, compute_frontiers
from benchmarks.analysis.curve_fit import (
    N_BOOT,
    CurveFit,
    bootstrap_curve,
    fit_curve_point,
    log_line,
    log_model,
    point_and_replicates,
    seed_arrays,
)
from benchmarks.analysis.frontier import FrontierPoint, compute_frontier, frontier_holders, one_dataset, training_flops
from benchmarks.analysis.joint_fit import JointFit, fit_joint
from benchmarks.analysis.seed_noise import RunLevel, run_level_of
from benchmarks.analysis.stats import (
    LEVEL,
    Estimate,
    SeedNoise,
    dataset_identity,
    keyed_rng,
    percentiles,
    pooled_seed_noise,
    run_log_losses,
    usable,
)
from benchmarks.spec import RunRecord

AXES = {
    "params": "parameters",
    "data_size": "training examples",
    "compute": "training FLOPs",
}


# ---------------------------------------------------------------------------- records


# ---------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class PowerLawFit:
    """One curve of loss against x: the law L = E + A·x^(−α) where the points identify it (status ok),
    else the local line log L = c + s·log x (status slope, or degenerate where the law was tried and
    its replicates piled up on a bound), with parametric-bootstrap replicates of either."""

    axis: str  # "params" | "data_size" | "compute"
    status: str  # "ok" | "slope" | "degenerate" | "not enough points"
    reason: str
    x: np.ndarray  # (P,) the points' x
    loss: np.ndarray  # (P,) the points' mean loss (geometric mean over seeds)
    n_seeds: int
    log_x_ref: float = 0.0
    theta: np.ndarray | None = None  # (E, log A at x_ref, α)
    boot: np.ndarray | None = field(default=None, repr=False)  # (B, 3) replicates of theta
    line: np.ndarray | None = None  # (c, s): log L = c + s·(log x − log x_ref)
    line_boot: np.ndarray | None = field(default=None, repr=False)  # (B, 2)
    noise: SeedNoise | None = None  # the noise the replicates were drawn with

    @property
    def ok(self) -> bool:
        """The law is identified (its numbers are usable)."""
        return self.status == "ok"

    @property
    def kind(self) -> str | None:
        """What stands for the curve: "law" (status ok), "slope" (the local line), or None (nothing)."""
        return "law" if self.ok else ("slope" if self.line is not None else None)

    def _params(self, th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """E, A (in the x's own units) and α from parameter rows."""
        return th[..., 0], np.exp(th[..., 1] + th[..., 2] * self.log_x_ref), th[..., 2]

    @property
    def estimates(self) -> dict[str, Estimate]:
        """E, A and α of an identified law (empty otherwise)."""
        if not self.ok or self.boot is None:
            return {}
        point, boot = self._params(self.theta), self._params(self.boot)
        return {name: Estimate.bootstrap(p, b) for name, p, b in zip(("E", "A", "alpha"), point, boot, strict=True)}

    @property
    def local_exponent(self) -> Estimate | None:
        """−d log L / d log x of the local line: the exponent a pure power law through the points would have."""
        if self.line is None:
            return None
        if self.line_boot is None:
            return Estimate(float(-self.line[1]), float("nan"), float("nan"))
        return Estimate.bootstrap(-self.line[1], -self.line_boot[:, 1])

    @property
    def exponent(self) -> tuple[str, Estimate] | None:
        """("alpha", α) of an identified law, else ("local exponent", −slope), else None."""
        if self.ok and self.boot is not None:
            return "alpha", self.estimates["alpha"]
        e = self.local_exponent
        return ("local exponent", e) if e is not None else None

    @property
    def n_boot(self) -> int:
        reps = self.boot if self.ok else self.line_boot
        return 0 if reps is None else len(reps)

    def log_predict_rows(self, x: np.ndarray) -> np.ndarray:
        """(1 + B, len(x)) log loss at x: the fit, then each replicate (one row without replicates)."""
        u = np.log(np.asarray(x, dtype=float)) - self.log_x_ref
        if self.ok:
            th = point_and_replicates(self.theta, self.boot)
            return log_model(th, np.broadcast_to(u[None, :, None], (len(th), u.size, 1)))[0]
        if self.line is None:
            raise ValueError(f"no curve to predict from ({self.status}: {self.reason})")
        return log_line(point_and_replicates(self.line, self.line_boot), u)

    def log_x_at_rows(self, log_loss_R: np.ndarray) -> np.ndarray:
        """(R,) log x at which row r of the curve (the fit, then each replicate) reaches log_loss_R[r]; +inf
        where growing x never gets there (the target at or below E, or a line that does not fall)."""
        log_loss_R = np.asarray(log_loss_R, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.ok:
                e, log_a, alpha = point_and_replicates(self.theta, self.boot)[: log_loss_R.size].T
                excess = np.exp(log_loss_R) - e
                u = np.where(excess > 0, (log_a - np.log(np.where(excess > 0, excess, 1.0))) / alpha, np.inf)
            else:
                c, s = point_and_replicates(self.line, self.line_boot)[: log_loss_R.size].T
                u = np.where(s < 0, (log_loss_R - c) / s, np.inf)
        return u + self.log_x_ref

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_predict_rows(x)[0])

    def band(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap interval of the fitted curve at x."""
        rows = self.log_predict_rows(x)
        if len(rows) == 1:
            return np.exp(rows[0]), np.exp(rows[0])
        lo, hi = percentiles(rows[1:], axis=0)
        return np.exp(lo), np.exp(hi)

    def to_dict(self) -> dict:
        d = {"axis": self.axis, "status": self.status, "reason": self.reason, "kind": self.kind,
             "n_points": int(self.x.size), "n_seeds": self.n_seeds,
             "points": {"x": self.x.tolist(), "loss": self.loss.tolist()}}
        d |= {name: e.to_dict() for name, e in self.estimates.items()}
        if self.local_exponent is not None:
            d["local_exponent"] = self.local_exponent.to_dict()
        if self.kind is not None:
            d["x_ref"] = float(np.exp(self.log_x_ref))
            d["n_boot"] = self.n_boot
        if self.noise is not None:
            d["noise"] = self.noise.to_dict()
        return d


def _power_law_fit(axis: str, x: np.ndarray, seeds: Sequence[np.ndarray], fitted: CurveFit) -> PowerLawFit:
    return PowerLawFit(axis, fitted.status, fitted.reason, x, np.exp([s.mean() for s in seeds]),
                       int(sum(s.size for s in seeds)), float(fitted.log_ref_K[0]), fitted.law, fitted.law_boot,
                       fitted.line, fitted.line_boot, fitted.noise)


def _sorted_points(x: Sequence[float], y: Sequence[Sequence[float] | float]) -> tuple[np.ndarray, list[np.ndarray]]:
    x = np.asarray(x, dtype=float)
    seeds = seed_arrays(y)
    if x.shape != (len(seeds),) or np.any(~np.isfinite(x) | (x <= 0)):
        raise ValueError("x must be one positive finite value per point")
    order = np.argsort(x, kind="stable")
    return x[order], [seeds[i] for i in order]


def fit_power_law(x: Sequence[float], y: Sequence[Sequence[float] | float], *, axis: str = "x",
                  n_boot: int = N_BOOT, rng: np.random.Generator | int | None = 0,
                  noise: SeedNoise | None = None, no_law: str = "") -> PowerLawFit:
    """Fit L = E + A·x^(−α) (or, where the points cannot identify it, the local log-log line) to points x
    with per-seed losses y[i] (a list of seed losses, or one loss).

    `noise` is the seed noise of a run's mean log loss (pooled over many runs); by default it is
    pooled over this curve's own seeds. Intervals: a parametric bootstrap with that noise. `no_law`: why only
    the local line is fitted here, whatever the points."""
    rng = np.random.default_rng(rng)
    x, seeds = _sorted_points(x, y)
    noise = noise if noise is not None else pooled_seed_noise(seeds)
    names = [AXES.get(axis, axis)]
    point = fit_curve_point(np.log(x)[:, None], seeds, names=names, no_law=no_law)
    return _power_law_fit(axis, x, seeds, bootstrap_curve(point, noise, n_boot=n_boot, rng=rng, names=names))


# ---------------------------------------------------------------------------- records -> fits


@dataclass(frozen=True)
class ArchFits:
    """Every curve of one architecture on one dataset."""

    arch: str
    vs_params: dict[int, PowerLawFit]  # one curve per data size
    vs_data: dict[int, PowerLawFit]  # one curve per target parameter count
    vs_compute: PowerLawFit  # on this architecture's own compute frontier
    joint: JointFit
    noise: SeedNoise  # the noise of a run's mean its curves were bootstrapped with (seed and run noise)

    def to_dict(self) -> dict:
        return {
            "noise": self.noise.to_dict(),
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
    compute_varies: bool = False  # whether training compute varies apart from the parameter count
    frontiers: ComputeFrontiers | None = None  # each family's compute frontier (online suites: several lengths a size)

    def to_dict(self) -> dict:
        frontiers = {"compute_frontiers": self.frontiers.to_dict()} if self.frontiers is not None else {}
        return frontiers | {
            "n_runs": len(self.runs),
            "excluded": [{"arch": r.spec.arch, "target_params": r.spec.target_params, "data_size": r.spec.data_size,
                          "status": r.status, "reason": r.reason} for r in self.excluded],
            "compute_varies_apart_from_params": self.compute_varies,
            "archs": {a: f.to_dict() for a, f in self.archs.items()},
            "frontier": [p.to_dict() for p in self.frontier],
            "frontier_holders": [{"arch": a, "from_flops": lo, "to_flops": hi}
                                 for a, lo, hi in frontier_holders(self.frontier)],
        }


def measured_params(r: RunRecord) -> int:
    return r.params or r.spec.target_params


def compute_varies(runs: Sequence[RunRecord]) -> bool:
    """Whether training compute varies apart from model size: some architecture trains one size for
    different numbers of examples (steps × batch). With a fixed step budget it does not, and the
    compute axis is the parameter axis relabelled (compute = constant × FLOPs per example)."""
    seen: dict[tuple, set] = {}
    for r in runs:
        seen.setdefault((r.spec.arch, r.spec.target_params), set()).add(r.spec.steps * r.spec.batch_size)
    return any(len(v) > 1 for v in seen.values())


NO_LAW = {"compute": "a frontier (each compute's best run, of any size, picked by its own noise) is an envelope "
                      "of curves, not one law: the local log-log slope only"}
X_OF = {"params": measured_params, "data_size": lambda r: r.spec.data_size, "compute": training_flops}


def fit_runs(runs: Sequence[RunRecord], axis: str, noise: SeedNoise, *, n_boot: int = N_BOOT,
             rng: np.random.Generator | int | None = 0) -> PowerLawFit:
    """The curve of loss against `axis` through these runs, bootstrapped with `noise`."""
    if not runs:
        return PowerLawFit(axis, "not enough points", "no runs", np.zeros(0), np.zeros(0), 0)
    return fit_power_law([X_OF[axis](r) for r in runs], [np.exp(run_log_losses(r)) for r in runs], axis=axis,
                         n_boot=n_boot, rng=rng, noise=noise, no_law=NO_LAW.get(axis, ""))


@dataclass(frozen=True)
class _Curve:
    """One curve to fit: whose, along which axis, at which slice, through which runs."""

    arch: str
    axis: str
    slice: int | None  # the data size (params axis) or target params (data axis); None for compute
    runs: list[RunRecord]


def _curves(arch: str, mine: Sequence[RunRecord]) -> list[_Curve]:
    out = []
    for d in sorted({r.spec.data_size for r in mine}):
        at = [r for r in mine if r.spec.data_size == d]
        out.append(_Curve(arch, "params", d, at))
    for n in sorted({r.spec.target_params for r in mine}):
        at = [r for r in mine if r.spec.target_params == n]
        out.append(_Curve(arch, "data_size", n, at))
    if all(r.flops_per_example > 0 for r in mine):
        on_frontier = {(p.target_params, p.data_size) for p in compute_frontier(mine)}
        at = [r for r in mine if (r.spec.target_params, r.spec.data_size) in on_frontier]
        out.append(_Curve(arch, "compute", None, at))
    return out


def family_noise(runs: Sequence[RunRecord]) -> dict[str, SeedNoise]:
    """Each architecture's seed noise pooled over all its runs; an architecture with one seed per run borrows
    the noise pooled over every run of the dataset."""
    everyone = pooled_seed_noise(run_log_losses(r) for r in runs)
    out = {}
    for arch in sorted({r.spec.arch for r in runs}):
        own = pooled_seed_noise(run_log_losses(r) for r in runs if r.spec.arch == arch)
        out[arch] = own if own.known else everyone
    return out


def frontier_line_boot(runs: Sequence[RunRecord], fit: PowerLawFit, noise: SeedNoise, n_boot: int,
                       rng: np.random.Generator) -> np.ndarray | None:
    """(B, 2) replicates of a compute frontier's line, the frontier chosen again in each.

    A frontier's points are picked by their own noise: a run enters where its mean happens to fall below
    every run of less compute. Replicates that keep the picked points fixed leave that choice out, and their
    interval of the slope covered the truth in 85% of reruns of the quick reference's world (65% for one
    family). So each replicate draws every run's mean with its noise (`noise.draw`: seed and run effects),
    picks that replicate's own frontier (`frontier.compute_frontier`'s rule: below every run of less compute,
    the lowest of equal compute) and fits the same weighted line to it, in the point fit's units. A replicate
    whose frontier has one compute level keeps the fixed-point replicate."""
    if fit.line_boot is None:
        return None
    log_c_R = np.log([training_flops(r) for r in runs]) - fit.log_x_ref
    y_R = np.array([run_log_losses(r).mean() for r in runs])
    m_R = np.array([run_log_losses(r).size for r in runs], dtype=float)
    y_BxR = y_R + noise.draw(m_R, n_boot, rng)
    earlier_RxR = log_c_R[:, None] < log_c_R[None, :]  # [k, j]: run k used less compute than run j
    tied_RxR = (log_c_R[:, None] == log_c_R[None, :]) & ~np.eye(log_c_R.size, dtype=bool)
    lowest = lambda mask: np.where(mask[None], y_BxR[:, :, None], np.inf).min(axis=1)  # (B, R) min over k
    on_BxR = (y_BxR < lowest(earlier_RxR)) & (y_BxR <= lowest(tied_RxR))
    w_BxR = on_BxR * m_R
    u_bar = (w_BxR @ log_c_R) / w_BxR.sum(axis=1)
    du_BxR = log_c_R[None] - u_bar[:, None]
    sxx = (w_BxR * du_BxR**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (w_BxR * du_BxR * y_BxR).sum(axis=1) / sxx
    line = np.stack([(w_BxR * y_BxR).sum(axis=1) / w_BxR.sum(axis=1) - slope * u_bar, slope], axis=1)
    one_level = ~(sxx > 1e-12)
    line[one_level] = fit.line_boot[one_level]
    return line


def _fit_archs(identity: str, runs: Sequence[RunRecord], n_boot: int, run: RunLevel) -> dict[str, ArchFits]:
    """Every curve of every family; each curve's replicates keyed by the data's content and the curve."""
    noise = family_noise(runs)
    curves = [c for arch in sorted(noise) for c in _curves(arch, [r for r in runs if r.spec.arch == arch])]
    # with noise shared by a run's seeds, a run mean's variance is estimated from the scatter: its df
    noise = {arch: n if run.ratio == 0 else SeedNoise(n.sd, min(n.df, run.effective_df), n.sd * np.sqrt(run.ratio))
             for arch, n in noise.items()}
    fitted = {(c.arch, c.axis, c.slice): fit_runs(c.runs, c.axis, noise[c.arch], n_boot=n_boot,
                                                  rng=keyed_rng(identity, c.arch, c.axis, c.slice))
              for c in curves}
    for c in curves:
        if c.axis == "compute" and (f := fitted[c.arch, "compute", None]).kind == "slope":
            every = [r for r in runs if r.spec.arch == c.arch]
            fitted[c.arch, "compute", None] = replace(f, line_boot=frontier_line_boot(
                every, f, noise[c.arch], n_boot, keyed_rng(identity, c.arch, "compute", "frontier")))
    archs = {}
    for arch in noise:
        mine = [r for r in runs if r.spec.arch == arch]
        vs_compute = fitted.get((arch, "compute", None)) or PowerLawFit(
            "compute", "not enough points", "FLOPs per example not measured", np.zeros(0), np.zeros(0), 0)
        joint = fit_joint([measured_params(r) for r in mine], [r.spec.data_size for r in mine],
                          [np.exp(run_log_losses(r)) for r in mine], n_boot=n_boot, rng=keyed_rng(identity, arch, "joint"),
                          noise=noise[arch])
        archs[arch] = ArchFits(
            arch,
            {c.slice: fitted[arch, "params", c.slice] for c in curves if c.arch == arch and c.axis == "params"},
            {c.slice: fitted[arch, "data_size", c.slice] for c in curves if c.arch == arch and c.axis == "data_size"},
            vs_compute, joint, noise[arch])
    return archs


def fit_dataset(records: Sequence[RunRecord], *, n_boot: int = N_BOOT, run: RunLevel | None = None) -> DatasetFits:
    """Every curve of every architecture on one dataset, and the compute frontier; `run`: the suite's run-level
    noise (`seed_noise.run_level_of` of all its usable runs; by default, of this dataset's)."""
    dataset = one_dataset(records)
    runs, excluded = usable(records)
    identity = dataset_identity(runs)
    archs = _fit_archs(identity, runs, n_boot, run if run is not None else run_level_of(runs))
    varies = compute_varies(runs)
    online = varies and any(r.spec.regime == "online" for r in runs)  # several lengths per size on fresh data
    frontiers = compute_frontiers(runs, {a: f.joint for a, f in archs.items()}, {a: f.noise for a, f in archs.items()},
                                  n_boot=n_boot, dataset=identity) if online else None
    return DatasetFits(dataset, archs, compute_frontier(runs), runs, excluded, varies, frontiers)


def fit_datasets(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> dict[str, DatasetFits]:
    """`fit_dataset` for each dataset in the records."""
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.spec.dataset, []).append(r)
    run = run_level_of(usable(records)[0])
    return {ds: fit_dataset(rs, n_boot=n_boot, run=run) for ds, rs in sorted(by_dataset.items())}


def fits_to_dict(fitted: dict[str, DatasetFits]) -> dict:
    """Fitted datasets as plain JSON-ready data."""
    return {
        "level": LEVEL,
        "model": ("L = E + A*x^-alpha where the points identify it (status ok), else the local line "
                  "log L = c + s*log x (status slope; local_exponent = -s); joint: E + A/N^alpha + B/D^beta; "
                  "Huber loss on log residuals; intervals: parametric bootstrap with pooled seed noise"),
        "datasets": {ds: f.to_dict() for ds, f in fitted.items()},
    }


def fit_suite(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> dict:
    """All fits of a suite's records, JSON-ready (what `fits.json` holds besides the verdict)."""
    return fits_to_dict(fit_datasets(records, n_boot=n_boot))
