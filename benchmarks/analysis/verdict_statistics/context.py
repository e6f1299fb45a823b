"""From where each family's loss falls no further beyond noise along the context (next-token datasets; Kaplan et al.
2020, Fig. 7 right).

The rule. Per family, its run at its largest model size and there its largest training-set size
(`language.position_curves`, the runs the position figure draws). The context is cut into octaves of tokens
read (1, 2, 3–4, 5–8, ..., the last one ending at the context's length: `language.octaves`), and each seed's
test loss is averaged over each octave. For an octave j, the change to the end of the context is, per seed,
log(loss over the last octave) − log(loss over octave j), shown as a percentage change in loss. Its 95% interval
holds two noises: the seeds' (their mean's standard error) and the test windows' (every seed is scored on the same
windows, so the loss at one position carries a sampling error the seeds share; per position it is the scatter of
the log loss, mean over seeds, about a line in log position across the last octave, and an octave's mean has that
over the root of its positions, for octave j and for the last). The half-width is Student's t times the root of the
two variances summed, its degrees of freedom Welch–Satterthwaite's (the seeds' S − 1 and the scatter's positions
− 2). The family's loss **falls no further beyond noise from** the first octave (before the last) whose change to
the end is not below zero beyond noise: within noise, above (the loss rises later in the context) or undecided.
Where every octave's change is below zero beyond noise, the loss **still falls at the end of the context**, and
the claim is the change from the octave before the last. One seed per run, or a last octave of fewer than 3
positions, gives no interval and no claim.

What it does not say: that the loss *stops* improving there. A loss that keeps falling slowly (a power law in
position, as the fitted curves of the language reference do) is within noise of the end from some octave on too;
in reruns of that reference's world the octave the rule finds was at or after the truth's (the rule on the
noise-free curve: still falling) in under 5%, while the interval of the stated change covered its true change
and every earlier octave said to fall did fall (docs/coverage.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.language import PositionCurve, octave_losses, octaves, position_curves
from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.wording import number, relation, short_count


def tokens(a: int, b: int) -> str:
    """'token 1', 'tokens 3–4': an octave of the context in words."""
    return f"token {a}" if a == b else f"tokens {a}–{b}"


@dataclass(frozen=True)
class Plateau:
    """One family's octave from which its loss falls no further beyond noise (or the octave before the last, where it
    still falls)."""

    arch: str
    target_params: int
    data_size: int
    octave: tuple[int, int]  # tokens read, first and last
    last: tuple[int, int]  # the last octave of the context
    change: Estimate  # log loss over the last octave minus over this one: mean over seeds, its interval
    still_falling: bool  # every octave before the last is below the last beyond noise

    def to_dict(self) -> dict:
        return {"arch": self.arch, "target_params": self.target_params, "data_size": self.data_size,
                "octave": list(self.octave), "last_octave": list(self.last), "still_falling": self.still_falling,
                "log_loss_change_to_end": self.change.to_dict()}


@dataclass(frozen=True)
class ContextPlateaus:
    plateaus: tuple[Plateau, ...]
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:  # nothing for a dataset without position losses: classification's fits.json unchanged
        return {"context_plateaus": [p.to_dict() for p in self.plateaus]} if self.plateaus else {}

    def tokens_read(self) -> dict[str, int]:
        """From where each family's loss falls no further beyond noise, in tokens read (the first of its octave); none
        where it still falls at the end."""
        return {p.arch: p.octave[0] for p in self.plateaus if not p.still_falling}


def _claim(curve: PositionCurve, dataset: str, j: int, change: Estimate, blocks: Sequence[tuple[int, int]]) -> Claim:
    return from_estimate(change, shown=pct, null=0.0, statistic="context", quantity="context plateau",
                         subject=curve.arch, unit="percent",
                         scope=f"{dataset}, {short_count(curve.target_params)} parameters, {curve.data_size:,} "
                               "examples, test loss by octave of the context",
                         at={"octave": tokens(*blocks[j]), "last": tokens(*blocks[-1]), "first_token": blocks[j][0]})


def position_noise(curve: PositionCurve) -> tuple[float, int]:
    """The test windows' sampling error of the log loss at one position, and its degrees of freedom: the standard
    deviation of the log loss (mean over seeds) about its least-squares line in log position, over the last octave
    (NaN under 3 positions)."""
    a, b = octaves(curve.losses_SxL.shape[1])[-1]
    y = np.log(np.nanmean(curve.losses_SxL[:, a - 1:b], axis=0))
    x = np.log(np.arange(a, b + 1))
    keep = np.isfinite(y)
    df = int(keep.sum()) - 2
    if df < 1:
        return float("nan"), 0
    slope, intercept = np.polyfit(x[keep], y[keep], 1)
    return float(np.sqrt(np.sum((y[keep] - intercept - slope * x[keep]) ** 2) / df)), df


def change_to_end(curve: PositionCurve, j: int) -> Estimate:
    """Octave j's change to the last octave (log loss), mean over seeds, with the interval of the module's rule."""
    blocks = octaves(curve.losses_SxL.shape[1])
    log_SxK = np.log(octave_losses(curve))
    d = log_SxK[:, -1] - log_SxK[:, j]
    d = d[np.isfinite(d)]
    if d.size < 2:
        return Estimate(float(d.mean()) if d.size else float("nan"), float("nan"), float("nan"), tuple(d))
    width = lambda k: np.isfinite(curve.losses_SxL[:, blocks[k][0] - 1:blocks[k][1]]).any(axis=0).sum()
    noise, noise_df = position_noise(curve)
    seed_var, test_var = d.var(ddof=1) / d.size, noise ** 2 * (1 / width(j) + 1 / width(-1))
    df = (seed_var + test_var) ** 2 / (seed_var ** 2 / (d.size - 1) + test_var ** 2 / noise_df)  # Welch-Satterthwaite
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * np.sqrt(seed_var + test_var)
    return Estimate(float(d.mean()), float(d.mean() - half), float(d.mean() + half), tuple(float(v) for v in d))


def plateau(curve: PositionCurve, dataset: str) -> tuple[Plateau, Claim] | None:
    """The module's rule on one family's curve; None with fewer than two octaves or two seeds."""
    blocks = octaves(curve.losses_SxL.shape[1])
    if len(blocks) < 2 or curve.losses_SxL.shape[0] < 2:
        return None
    found = None
    for j in range(len(blocks) - 1):
        change = change_to_end(curve, j)
        claim = _claim(curve, dataset, j, change, blocks)
        found = (j, change, claim)
        if relation(claim) != "below":
            break
    j, change, claim = found
    falling = relation(claim) == "below"
    return Plateau(curve.arch, curve.target_params, curve.data_size, blocks[j], blocks[-1], change, falling), claim


def plateau_table(claims: Sequence[Claim]) -> list[Table]:
    rows = tuple((c.subject, "still falls at the end" if relation(c) == "below" else c.at["octave"], c.at["last"],
                  number(c)) for c in claims if c.quantity == "context plateau")
    if not rows:
        return []
    return [Table("From where the loss falls no further beyond noise along the context",
                  ("family", "no further fall beyond noise from", "last octave", "change to the last octave"), rows,
                  "Per family at its largest size and data size: the first octave of tokens read whose loss the last "
                  "octave's is not below beyond noise (change: log loss over the last octave minus over that one, "
                  "as a % change, mean over seeds; 95% interval from the seeds' noise and the test windows' "
                  "sampling noise per position); 'still falls': every octave before the last is above the last "
                  "beyond noise, the change shown from the octave before the last. Not where the loss stops: a loss "
                  "that keeps falling slowly is within noise of the end from some octave on too.")]


@register_statistic("context", order=80, group="families", table=plateau_table)
def context_plateaus(runs: DatasetRuns, earlier: Mapping) -> ContextPlateaus:
    found = [p for c in position_curves(runs.records) if (p := plateau(c, runs.dataset)) is not None]
    return ContextPlateaus(plateaus=tuple(p for p, _ in found),
                           claims=tuple(c for _, c in found if c.has_interval))
