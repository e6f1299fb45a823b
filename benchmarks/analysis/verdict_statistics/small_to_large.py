"""Does small scale predict large? Each family's curve is fitted without the largest training set (and,
separately, without the largest model), and its prediction there is set against what was measured.

Per axis: every (family, slice) curve with at least two smaller x is refitted on them alone (the same
curve machinery and noise as every fit, `fits.fit_runs`) and read at the held-out largest x. The error
(measured mean log loss minus predicted) is set against seed noise: z = error / √(var(prediction) +
var(measured mean)), so Σ z² is χ² with one degree of freedom a prediction where the curves extrapolate
as well as noise allows (the p-value tests that), and the rms error is shown beside the rms noise of a
run's mean. The test is what is stated; a prediction's own interval is not: it is an interval for where the
curve's form extrapolates, and where the truth bends away from that form (a local line through the smaller
sizes of a curve with a floor) it covered the measured largest size in 80–83% of reruns of the reference
worlds (docs/coverage.md). So fits.json holds each prediction's value and noise sd, not an interval; the
test's size is measured where its null holds (the same worlds with straight curves).
Decision accuracy: of the family pairs measured at both, the share whose order at the
largest x fitted held at the held-out largest (and the share the extrapolated curves ordered right).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from benchmarks.analysis import fits
from benchmarks.analysis.claims import Claim, pct
from benchmarks.analysis.stats import LEVEL, Estimate, dataset_identity, keyed_rng, run_log_losses
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.wording import number

AXES = ("data_size", "params")
SLICE_OF = {"data_size": lambda r: r.spec.target_params, "params": lambda r: r.spec.data_size}
LEVEL_OF = {"data_size": lambda r: r.spec.data_size, "params": lambda r: r.spec.target_params}


@dataclass(frozen=True)
class Prediction:
    arch: str
    slice: int  # target params (data axis) or data size (params axis)
    observed: float  # mean log loss measured at the held-out largest x
    predicted: Estimate  # log loss the curve fitted without it predicts there
    sd: float  # standard deviation of observed − predicted from noise alone (prediction and measurement)

    @property
    def z(self) -> float:
        return (self.observed - self.predicted.value) / self.sd

    def to_dict(self) -> dict:
        return {"arch": self.arch, "slice": self.slice, "observed_log_loss": self.observed,
                "predicted_log_loss": self.predicted.value, "sd": self.sd, "z": self.z}


@dataclass(frozen=True)
class AxisPrediction:
    axis: str
    held_out: int  # the largest level (data size or target params), predicted
    last_fitted: int  # the largest level the curves were fitted on
    predictions: tuple[Prediction, ...]
    rms_error: float  # of the log-loss errors
    rms_noise: float  # rms standard deviation of the predictions' errors from noise alone (prediction + measurement)
    chi2: float
    p_value: float  # of Σ z² under "the curves extrapolate as well as noise allows"
    pairs: int  # family pairs measured at both levels (over slices)
    order_held: int  # ... whose order at the last fitted level held at the held-out one
    predicted_order_held: int  # ... whose order the extrapolated curves predicted right

    def to_dict(self) -> dict:
        share = lambda k: k / self.pairs if self.pairs else None
        return {"held_out": self.held_out, "last_fitted": self.last_fitted, "rms_error_log_loss": self.rms_error,
                "rms_noise_log_loss": self.rms_noise, "chi2": self.chi2, "df": len(self.predictions),
                "p_value": self.p_value, "pairs": self.pairs,
                "decision_accuracy": share(self.order_held), "predicted_decision_accuracy": share(self.predicted_order_held),
                "predictions": [p.to_dict() for p in self.predictions]}


@dataclass(frozen=True)
class SmallToLarge:
    axes: tuple[AxisPrediction, ...]
    claims: tuple[Claim, ...] = ()

    def axis(self, name: str) -> AxisPrediction | None:
        return next((a for a in self.axes if a.axis == name), None)

    def to_dict(self) -> dict:
        return {"small_to_large": {a.axis: a.to_dict() for a in self.axes}}


def predict_largest(fitted: fits.DatasetFits, axis: str) -> AxisPrediction | None:
    levels = sorted({LEVEL_OF[axis](r) for r in fitted.runs})
    if len(levels) < 3:
        return None
    top, last = levels[-1], levels[-2]
    preds, observed = [], {}  # observed: (slice, arch) -> (mean log loss at last, at top)
    for arch, af in fitted.archs.items():
        mine = [r for r in fitted.runs if r.spec.arch == arch]
        for s in sorted({SLICE_OF[axis](r) for r in mine}):
            curve = [r for r in mine if SLICE_OF[axis](r) == s]
            held = [r for r in curve if LEVEL_OF[axis](r) == top]
            smaller = [r for r in curve if LEVEL_OF[axis](r) < top]
            at_last = [r for r in curve if LEVEL_OF[axis](r) == last]
            if held and at_last:
                observed[s, arch] = (run_log_losses(at_last[0]).mean(), run_log_losses(held[0]).mean())
            if not held or len({LEVEL_OF[axis](r) for r in smaller}) < 2:
                continue
            f = fits.fit_runs(smaller, axis, af.noise, rng=keyed_rng(dataset_identity(fitted.runs), arch, axis, s, "small"))
            if f.kind is None or f.n_boot == 0:
                continue
            rows = f.log_predict_rows(np.array([fits.X_OF[axis](held[0])], dtype=float))[:, 0]
            y = run_log_losses(held[0])
            sd = np.sqrt(rows[1:].var(ddof=1) + af.noise.mean_sd(y.size) ** 2)
            preds.append(Prediction(arch, s, float(y.mean()), Estimate.bootstrap(rows[0], rows[1:]), float(sd)))
    if not preds:
        return None
    err = np.array([p.observed - p.predicted.value for p in preds])
    z = np.array([p.z for p in preds])
    predicted = {(p.slice, p.arch): p.predicted.value for p in preds}
    pairs = held = held_pred = 0
    for s in sorted({s for s, _ in observed}):
        archs = sorted(a for t, a in observed if t == s)
        for a, b in itertools.combinations(archs, 2):
            (la_last, la_top), (lb_last, lb_top) = observed[s, a], observed[s, b]
            pairs += 1
            held += (la_last < lb_last) == (la_top < lb_top)
            if (s, a) in predicted and (s, b) in predicted:
                held_pred += (predicted[s, a] < predicted[s, b]) == (la_top < lb_top)
    chi2 = float(z @ z)
    return AxisPrediction(axis, top, last, tuple(preds), rms_error=float(np.sqrt(np.mean(err**2))),
                          rms_noise=float(np.sqrt(np.mean([p.sd**2 for p in preds]))), chi2=chi2,
                          p_value=float(stats.chi2.sf(chi2, z.size)), pairs=pairs, order_held=held,
                          predicted_order_held=held_pred)


def prediction_claims(axes: tuple[AxisPrediction, ...], dataset: str, has_intervals: bool) -> tuple[Claim, ...]:
    out = []
    for a in axes:
        axis = "training set" if a.axis == "data_size" else "model"
        scope = f"{dataset}, {a.held_out:,} {'examples' if a.axis == 'data_size' else 'parameters'} held out"
        if has_intervals:
            out.append(Claim(statistic="small_to_large", quantity="prediction", subject="the curves",
                             estimate=a.p_value, lo=float("nan"), hi=float("nan"), unit="p", null=1 - LEVEL,
                             scope=scope, kind="test", at={"axis": axis, "rms": f"{pct(a.rms_error):.2g}",
                                                           "noise": f"{pct(a.rms_noise):.2g}"}))
        if a.pairs:
            out.append(Claim(statistic="small_to_large", quantity="decision accuracy", subject="the curves",
                             estimate=a.order_held / a.pairs, lo=float("nan"), hi=float("nan"), unit="share", null=None,
                             scope=scope, at={"axis": axis, "held": a.order_held, "pairs": a.pairs,
                                           "predicted_held": a.predicted_order_held}))
    return tuple(out)


def prediction_table(claims: Sequence[Claim]) -> list[Table]:
    """Per axis, the curves fitted without the largest size against it: error, noise, test, decision accuracy."""
    rows = []
    for axis in dict.fromkeys(c.at["axis"] for c in claims):
        test = next((c for c in claims if c.at["axis"] == axis and c.quantity == "prediction"), None)
        order = next((c for c in claims if c.at["axis"] == axis and c.quantity == "decision accuracy"), None)
        held = lambda key, order=order: f"{order.at[key]}/{order.at['pairs']}" if order is not None else "—"
        rows.append(((test or order).scope.split(", ", 1)[1], f"{test.at['rms']}%" if test else "—",
                     f"{test.at['noise']}%" if test else "—", number(test) if test else "—", held("held"),
                     held("predicted_held")))
    if not rows:
        return []
    return [Table("Does small scale predict large?", ("held out", "rms error", "rms noise", "test", "order held",
                                                     "predicted order held"), tuple(rows),
                  "Each curve fitted without the largest size, its prediction there against the measurement: rms "
                  "error in loss, against what noise alone gives; the test of 'as good as noise allows'; family pairs "
                  "whose order at the next size held at the largest, and whose order the extrapolated curves got right.")]


@register_statistic("small_to_large", order=70, table=prediction_table)
def small_to_large(runs: DatasetRuns, earlier: Mapping) -> SmallToLarge:
    fitted = runs.fitted if runs.fitted is not None else fits.fit_dataset(runs.records)
    axes = tuple(a for axis in AXES if (a := predict_largest(fitted, axis)) is not None)
    return SmallToLarge(axes=axes, claims=prediction_claims(axes, runs.dataset, runs.has_intervals))
