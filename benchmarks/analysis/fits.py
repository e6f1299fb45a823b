"""Scaling-curve fits per architecture: L = E + A·X^(−α), the joint L(N, D), the compute frontier.

Every fit is a pure function of RunRecords; the fitting itself (the model, the
solver, the bootstrap) is `benchmarks.analysis.curve_fit`. Confidence intervals
come from a bootstrap that resamples the seeds of every run (runs sharing a
seed's initialisation together) and, where a curve has six runs or more, the
runs themselves.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis.curve_fit import fit_curve, log_model
from benchmarks.analysis.stats import (
    LEVEL,
    Estimate,
    keyed_rng,
    mean_ci,
    percentiles,
    run_log_losses,
    seed_group,
    usable,
)
from benchmarks.spec import RunRecord

N_BOOT = 200  # bootstrap replicates per curve

AXES = {
    "params": "parameters",
    "data_size": "training examples",
    "compute": "training FLOPs",
}


# ---------------------------------------------------------------------------- records


def training_flops(record: RunRecord) -> float:
    """Training compute of one seed: forward+backward ≈ 3× the measured forward FLOPs."""
    return 3.0 * record.flops_per_example * record.spec.steps * record.spec.batch_size


# ---------------------------------------------------------------------------- curves


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
        return {name: Estimate.bootstrap(p, b) for name, p, b in zip(("E", "A", "alpha"), point, boot, strict=True)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self._log_predict(self.theta[None], x)[0])

    def band(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap interval of the fitted curve at x."""
        lo, hi = percentiles(self._log_predict(self.boot, x), axis=0)
        return np.exp(lo), np.exp(hi)

    def _log_predict(self, theta_BxQ: np.ndarray, x: np.ndarray) -> np.ndarray:
        u = (np.log(np.asarray(x, dtype=float)) - self.log_x_ref)[None, :, None]
        return log_model(theta_BxQ, u)[0]

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
    fitted = fit_curve(np.log(x)[:, None], seeds, names=[AXES.get(axis, axis)],
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
        return {name: Estimate.bootstrap(p, b) for name, p, b in zip(("E", "A", "alpha", "B", "beta"), point, boot,
                                                              strict=True)}

    def predict(self, n: np.ndarray, d: np.ndarray) -> np.ndarray:
        u = np.stack([np.log(n) - self.log_ref[0], np.log(d) - self.log_ref[1]], axis=-1)
        return np.exp(log_model(self.theta[None], u[None])[0][0])

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
    fitted = fit_curve(np.log(np.stack([n, d], axis=1)), seeds, names=["parameters", "training examples"],
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


def _curve(runs: Sequence[RunRecord], x_of, axis: str, key: tuple, n_boot: int) -> PowerLawFit:
    if not runs:
        return PowerLawFit(axis, "not enough points", "no runs", np.zeros(0), np.zeros(0), 0)
    return fit_power_law([x_of(r) for r in runs], [np.exp(run_log_losses(r)) for r in runs], axis=axis,
                         n_boot=n_boot, rng=keyed_rng(*key), groups=[seed_group(r) for r in runs])


def measured_params(r: RunRecord) -> int:
    return r.params or r.spec.target_params


def fit_dataset(records: Sequence[RunRecord], *, n_boot: int = N_BOOT) -> DatasetFits:
    """Every curve of every architecture on one dataset, and the compute frontier."""
    dataset = _one_dataset(records)
    runs, excluded = usable(records)
    archs = {}
    for arch in sorted({r.spec.arch for r in runs}):
        mine = [r for r in runs if r.spec.arch == arch]
        key = (dataset, arch)
        vs_params = {d: _curve([r for r in mine if r.spec.data_size == d], measured_params, "params",
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
        joint = fit_joint([measured_params(r) for r in mine], [r.spec.data_size for r in mine],
                          [np.exp(run_log_losses(r)) for r in mine], n_boot=n_boot, rng=keyed_rng(*key, "joint"),
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
