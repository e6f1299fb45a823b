"""Architecture is worth k× data: for each pair of families, how many times more training data (or
parameters, or compute) the weaker one needs to reach the stronger one's held-out loss, read off their
fitted curves, with a parametric-bootstrap interval.

At each slice (a model size for the data axis, a data size for the parameter axis) both families'
curves (`fits.PowerLawFit`: the law where the points identify it, else the local log-log line) are read
at x0, the smallest x both measured. The weaker one's curve is followed until it reaches the stronger
one's loss there: k = x_match / x0. Inside the measured range that is a reading of the curves; past it
(k above the largest measured x over x0) it is not measured: status `beyond range`, with a bound
("more than 4.2×") and the extrapolation beside it, labelled as one. The bound is the interval's end on
its side (the lower end for "more than"), capped at the measured range's end: the estimate past the range
says the order of the two, and only the replicates say how far it is known to reach; where the interval
reaches 1 there is no bound (the order itself is not known). Every bootstrap replicate does the
same, in its own direction (a replicate where the order of the two reverses gives k < 1), so the
interval is continuous through 1. Compute is its own axis only where it varies apart from the
parameter count; with a fixed step budget it is the parameter axis relabelled (`not measured`).

Claims: per pair and axis at the headline slice, a factor with its interval where it was read inside
the measured ranges; past them only the bound, on its side (`bounded`); no claim at all where the two
families' measured ranges leave nothing to read (the weaker one's range ends at or before x0).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis import fits
from benchmarks.analysis.claims import Claim, exp, from_estimate
from benchmarks.analysis.stats import Estimate, percentile_mc_error, percentiles
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.wording import number

LOG_K_CAP = 50.0  # replicates that never match (k = ∞) enter the percentiles as e^50
NO_BOUND = "past the range, interval through 1: no bound"  # a factor past the range whose order is within noise
LOG_MIN_BOUND = float(np.log(1.005))  # a bound nearer 1 than half a percent reads "more than 1×": it bounds nothing
UNIT = {"data_size": "factor of data", "params": "factor of params", "compute": "factor of compute"}


@dataclass(frozen=True)
class Multiplier:
    """The factor of x that `weaker` needs to match `stronger`'s loss at x0 (below 1: the order reverses)."""

    axis: str  # "data_size" | "params" | "compute"
    status: str  # "ok" | "beyond range" | "not measured" | "no fit"
    reason: str = ""
    at: int | None = None  # the slice: target params (data axis), data size (params axis); None for compute
    x0: float = float("nan")  # where the stronger one's loss is read
    log_k: Estimate | None = None  # log of the factor, with its interval (replicates past the range included)
    log_window: tuple[float, float] = (0.0, 0.0)  # log of the factors the measured ranges can show
    kind: str = ""  # "law" where both curves are laws, else "slope"

    def _shown(self, v: float) -> float | None:
        """A factor inside the measured window, else None (a number there would be an extrapolation)."""
        lo, hi = self.log_window
        return float(np.exp(v)) if np.isfinite(v) and lo - 1e-9 <= v <= hi + 1e-9 else None

    @property
    def value(self) -> float | None:
        return self._shown(self.log_k.value) if self.log_k is not None and self.status == "ok" else None

    @property
    def lo(self) -> float | None:
        return self._shown(self.log_k.lo) if self.log_k is not None else None

    @property
    def hi(self) -> float | None:
        return self._shown(self.log_k.hi) if self.log_k is not None else None

    @property
    def log_bound(self) -> float | None:
        """Past the range, the log of the bound (see the module): the interval's end on the estimate's side, capped
        at the range's end; None inside the range, or where that end lies on the other side of 1 or within half a
        percent of it (`LOG_MIN_BOUND`: it would print as 1×)."""
        if self.status != "beyond range" or self.log_k is None:
            return None
        above = self.log_k.value > 0
        lo_w, hi_w = self.log_window
        edge = float(np.fmin(self.log_k.lo, hi_w) if above else np.fmax(self.log_k.hi, lo_w))  # NaN end: the range's
        return edge if (edge >= LOG_MIN_BOUND if above else edge <= -LOG_MIN_BOUND) else None

    @property
    def through_one(self) -> bool:
        """Past the range, on a side the range reaches, with an interval that reaches 1: the order is not known."""
        if self.status != "beyond range" or self.log_k is None:
            return False
        above = self.log_k.value > 0
        return self.log_bound is None and (self.log_window[1] > 1e-9 if above else self.log_window[0] < -1e-9)

    @property
    def more_than(self) -> float:
        """The largest factor the weaker family's measured range can show."""
        return float(np.exp(self.log_window[1]))

    def to_dict(self) -> dict:
        d = {"value": self.value, "lo": self.lo, "hi": self.hi, "status": self.status, "reason": self.reason}
        if self.log_k is None:
            return d
        d |= {"at": self.at, "from_x": self.x0, "curves": self.kind,
              "measured_range": [float(np.exp(self.log_window[0])), self.more_than]}
        if self.log_bound is not None:
            d["more_than" if self.log_k.value > 0 else "less_than"] = float(np.exp(self.log_bound))
        if self.status == "beyond range" or self.lo is None or self.hi is None:
            ext = lambda v: float(np.exp(v)) if abs(v) < LOG_K_CAP else (None if np.isnan(v) else float(np.sign(v) * np.inf))
            d["extrapolation"] = {"value": ext(self.log_k.value), "lo": ext(self.log_k.lo), "hi": ext(self.log_k.hi),
                                  "note": "past the measured range: the fitted curves extrapolated, not a measurement "
                                          "(null: never, the curve does not fall that far)"}
        return d


def matching_factor(stronger: fits.PowerLawFit, weaker: fits.PowerLawFit, axis: str, at: int | None) -> Multiplier:
    """How many times its x0 the weaker curve needs to reach the stronger one's loss at x0 (see the module)."""
    if stronger.kind is None or weaker.kind is None:
        why = "; ".join(f"{f.status}: {f.reason}" for f in (stronger, weaker) if f.kind is None)
        return Multiplier(axis, "no fit", why, at)
    x0 = float(max(stronger.x.min(), weaker.x.min()))
    la, lb = (f.log_predict_rows(np.array([x0]))[:, 0] for f in (stronger, weaker))
    rows = min(la.size, lb.size)  # one row without replicates (one seed everywhere)
    la, lb = la[:rows], lb[:rows]
    lx0 = np.log(x0)
    with np.errstate(invalid="ignore"):
        log_k = np.where(la <= lb, weaker.log_x_at_rows(la) - lx0, lx0 - stronger.log_x_at_rows(lb))
    log_k = np.clip(log_k, -LOG_K_CAP, LOG_K_CAP)
    if rows > 1:
        lo, hi = percentiles(log_k[1:])
        est = Estimate(float(log_k[0]), float(lo), float(hi), mc=percentile_mc_error(log_k[1:]))
    else:
        est = Estimate(float(log_k[0]), float("nan"), float("nan"))
    window = (lx0 - np.log(stronger.x.max()), np.log(weaker.x.max()) - lx0)
    inside = window[0] - 1e-9 <= est.value <= window[1] + 1e-9
    kind = "law" if stronger.kind == weaker.kind == "law" else "slope"
    status, reason = "ok", ""
    if not inside:
        status = "beyond range"
        reason = ("the weaker family's curve does not fall to the stronger one's loss at any size"
                  if abs(est.value) >= LOG_K_CAP else
                  "matching needs more than the measured range: the number beside it is an extrapolation")
    return Multiplier(axis, status, reason, at, x0, est, window, kind)


@dataclass(frozen=True)
class PairMultipliers:
    """One pair of families: the stronger (lower mean log loss over the cells both ran) first."""

    stronger: str
    weaker: str
    data: dict[int, Multiplier]  # per target params
    params: dict[int, Multiplier]  # per data size
    compute: Multiplier

    @staticmethod
    def headline(by: dict[int, Multiplier], axis: str) -> Multiplier:
        """The multiplier at the largest slice (model size for data, data size for parameters)."""
        return by[max(by)] if by else Multiplier(axis, "no fit", "no slice both families ran")

    def to_dict(self) -> dict:
        per = lambda by: {str(k): m.to_dict() for k, m in by.items()}
        return {"stronger": self.stronger, "weaker": self.weaker,
                "data_multiplier": self.headline(self.data, "data_size").to_dict() | {"by_size": per(self.data)},
                "params_multiplier": self.headline(self.params, "params").to_dict() | {"by_size": per(self.params)},
                "compute_multiplier": self.compute.to_dict()}


@dataclass(frozen=True)
class Multipliers:
    pairs: tuple[PairMultipliers, ...]
    order: tuple[str, ...]  # families by mean log loss over the cells they all ran (best first)
    compute_measured: bool = True  # False: compute is the parameter count relabelled (a fixed step budget)
    unread: tuple[tuple[str, str, str], ...] = ()  # (weaker, stronger, axis): ranges that leave nothing to read
    unbounded: tuple[tuple[str, str, str], ...] = ()  # past the range with an interval through 1: no bound
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"pairs": [p.to_dict() for p in self.pairs]}


def _pair_gap(runs: DatasetRuns, a: str, b: str) -> float:
    """Mean log loss of b minus a over the (size, data size) cells both ran."""
    by = {}
    for i, r in enumerate(runs.records):
        by.setdefault((r.spec.target_params, r.spec.data_size), {})[r.spec.arch] = runs.means_1BxR[0, i]
    diffs = [c[b] - c[a] for c in by.values() if a in c and b in c]
    return float(np.mean(diffs)) if diffs else 0.0


def pair_multipliers(fitted: fits.DatasetFits, stronger: str, weaker: str) -> PairMultipliers:
    fa, fb = fitted.archs[stronger], fitted.archs[weaker]
    data = {n: matching_factor(fa.vs_data[n], fb.vs_data[n], "data_size", n)
            for n in sorted(set(fa.vs_data) & set(fb.vs_data))}
    params = {d: matching_factor(fa.vs_params[d], fb.vs_params[d], "params", d)
              for d in sorted(set(fa.vs_params) & set(fb.vs_params))}
    if not fitted.compute_varies:
        compute = Multiplier("compute", "not measured", "every run of a model size trains on the same number of "
                             "examples, so compute is the parameter count relabelled: see params_multiplier")
    else:
        compute = matching_factor(fa.vs_compute, fb.vs_compute, "compute", None)
    return PairMultipliers(stronger, weaker, data, params, compute)


def factor_claim(m: Multiplier, weaker: str, stronger: str, scope: str, statistic: str = "multipliers") -> Claim | None:
    """The claim of one factor: measured, or a bound on its side, or None where nothing can be read."""
    if m.log_k is None:
        return None
    lo_w, hi_w = m.log_window
    fields = dict(statistic=statistic, quantity="factor", subject=weaker, reference=stronger, unit=UNIT[m.axis],
                  scope=scope, measured_range=(exp(lo_w), exp(hi_w)), at={"slice": m.at, "from_x": m.x0})
    if m.status == "beyond range":
        if m.log_bound is None:
            return None  # a bound on the wrong side of 1 bounds nothing
        return Claim(estimate=float("nan"), lo=float("nan"), hi=float("nan"), null=1.0, kind="bounded",
                     side="above" if m.log_k.value > 0 else "below", bound=exp(m.log_bound), **fields)
    if hi_w <= 1e-9 and lo_w >= -1e-9:
        return None
    return from_estimate(m.log_k, shown=exp, null=0.0, **fields)


def factor_cell(m: Multiplier) -> str:
    """A factor as a table shows it: the number of its claim, or why there is none."""
    if m.log_k is None:
        return m.status
    c = factor_claim(m, "", "", "")
    if c is None:
        return NO_BOUND if m.through_one else "not read: the ranges do not overlap"
    return number(c)


def _claims(pairs: list[PairMultipliers], dataset: str) -> tuple[tuple[Claim, ...], list, list]:
    """The claims at each pair's headline slices; the (weaker, stronger, axis) left without one: ranges that do not
    overlap, and factors past the range whose interval reaches 1 (no bound)."""
    claims, unread, unbounded = [], [], []
    for p in pairs:
        for axis, m in (("data_size", p.headline(p.data, "data_size")), ("params", p.headline(p.params, "params")),
                        ("compute", p.compute)):
            where = {"data_size": f"{dataset}, at {m.at} parameters", "params": f"{dataset}, at {m.at} examples",
                     "compute": f"{dataset}, each family's compute frontier"}[axis]
            c = factor_claim(m, p.weaker, p.stronger, where)
            if c is not None:
                claims.append(c)
            elif m.log_k is not None:
                (unbounded if m.through_one else unread).append((p.weaker, p.stronger, axis))
    return tuple(claims), unread, unbounded


def multipliers_table(claims: Sequence[Claim]) -> list[Table]:
    """Per pair, the factor of data, parameters and compute the weaker family needs (its claims' numbers: a bound
    past the measured range; — where none was read)."""
    factors = [c for c in claims if c.quantity == "factor"]
    if not factors:
        return []
    cell = {(c.reference, c.subject, c.unit): number(c) for c in factors}
    pairs = dict.fromkeys((c.reference, c.subject) for c in factors)
    rows = tuple((s, w, *(cell.get((s, w, u), "—") for u in UNIT.values())) for s, w in pairs)
    where = "; ".join(dict.fromkeys(c.scope for c in factors if c.unit != "factor of compute"))
    return [Table("Architecture worth k× data, parameters, compute", ("stronger", "weaker", "× training examples",
                                                                     "× parameters", "× compute"), rows,
                  "How many times the training examples (parameters, compute) the weaker family needs to reach the "
                  f"stronger one's held-out loss, read off their fitted curves ({where}). Past the measured range "
                  "the factor is a bound; 95% intervals from the curves' parametric bootstrap.")]


@register_statistic("multipliers", order=50, table=multipliers_table)
def multipliers(runs: DatasetRuns, earlier: Mapping) -> Multipliers:
    archs = runs.archs
    if len(archs) < 2:
        return Multipliers(pairs=(), order=tuple(archs))
    fitted = runs.fitted if runs.fitted is not None else fits.fit_dataset(runs.records)
    gap = {(a, b): _pair_gap(runs, a, b) for a in archs for b in archs if a != b}
    # best first: the most pairs won (lower mean log loss over the cells both ran), then the smallest total gap
    order = tuple(sorted(archs, key=lambda a: (-sum(gap[a, b] > 0 for b in archs if b != a),
                                               -sum(gap[a, b] for b in archs if b != a))))
    pairs = [pair_multipliers(fitted, *((a, b) if gap[a, b] >= 0 else (b, a)))
             for a, b in itertools.combinations(order, 2)]
    claims, unread, unbounded = _claims(pairs, runs.dataset)
    return Multipliers(pairs=tuple(pairs), order=order, compute_measured=fitted.compute_varies, unread=tuple(unread),
                       unbounded=tuple(unbounded), claims=claims)
