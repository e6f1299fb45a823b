"""A claim: what every statistic of the verdict returns, as data (DESIGN.md, "Claim").

A claim says what is compared (`quantity`: the kind of comparison; `subject` against `reference`), the
estimate and its interval in the unit it is shown in, the null value a difference is judged against
(1 for ratios and factors, 0 for differences; None for a quantity that compares nothing with anything,
such as a share of the variance), its scope (where it was measured), and whether it is `measured`,
`bounded` (the estimate lies past what the measurements can show: only the bound is stated, on its
`side`) or `extrapolated` (read off a curve past the measurements). `fits.json` stores claims as they
are; `benchmarks.analysis.wording` turns them into words with one rule, and nothing else decides what a
claim says.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from benchmarks.analysis.stats import Estimate

UNITS = ("percent", "share", "ratio", "exponent", "factor of data", "factor of params", "factor of compute",
         "examples", "p", "count", "points", "locality", "correlation")  # points: of accuracy; locality: a
# difference of indices; correlation: a (rank) correlation, in [-1, 1]
KINDS = ("measured", "bounded", "extrapolated", "test")
NAN = float("nan")


@dataclass(frozen=True)
class Claim:
    """One statement of the verdict as numbers (see the module)."""

    statistic: str  # the statistic that made it ("contrasts")
    quantity: str  # what kind of comparison: a key of wording.TEMPLATES ("pair", "share", "data factor", ...)
    subject: str  # what is measured: a family, a factor, a pair's higher side
    estimate: float
    lo: float  # the interval, in the unit shown; NaN where there is none
    hi: float
    unit: str  # one of UNITS
    null: float | None  # the value of no difference; None where the quantity compares nothing
    scope: str  # where it holds: "mnist1d, 10k parameters, from 400 examples"
    reference: str = ""  # what the subject is compared against ("convnet"); "" for none
    kind: str = "measured"  # one of KINDS
    side: str = ""  # for a bound: "above" (the value is more than `bound`) or "below" (less than it)
    bound: float = NAN  # for a bound: the end of what the measurements can show
    measured_range: tuple[float, float] | None = None  # the values the measurements can show (factors)
    undecided: bool = False  # an interval end within its Monte Carlo error of the null: no threshold word
    sign_change: bool = False  # the difference changes sign across the measured range (it crosses)
    level: str = ""  # how the interval was made, where it is not a plain 95% one ("Holm over 15 pairs")
    at: dict = field(default_factory=dict)  # the slice it was read at, and what its table and count need beside the
    # estimate ({"data_size": 4000}; a count's parts: {"families": 6, "sizes": 3, "data_sizes": 4})

    def __post_init__(self) -> None:
        if self.unit not in UNITS or self.kind not in KINDS:
            raise ValueError(f"a claim's unit is one of {UNITS} and its kind one of {KINDS}: {self.unit}, {self.kind}")

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.lo) and np.isfinite(self.hi))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["measured_range"] = list(self.measured_range) if self.measured_range is not None else None
        plain = lambda v: v.item() if isinstance(v, np.generic) else v  # numpy scalars as JSON numbers
        return {k: plain(v) for k, v in out.items()} | {"at": {k: plain(v) for k, v in self.at.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Claim:
        d = dict(d)
        nan = lambda v: NAN if v is None else float(v)  # fits.json writes NaN as null
        for k in ("estimate", "lo", "hi", "bound"):
            d[k] = nan(d.get(k))
        if d.get("measured_range") is not None:
            d["measured_range"] = tuple(nan(v) for v in d["measured_range"])
        return cls(**d)


def undecided(e: Estimate, null: float | None) -> bool:
    """Whether an end of a bootstrap interval lies within its Monte Carlo error of the null (the word
    'above' or 'within noise' would flip with another draw of replicates)."""
    if null is None or not e.mc or not (np.isfinite(e.lo) and np.isfinite(e.hi)):
        return False
    return bool(min(abs(e.lo - null), abs(e.hi - null)) <= e.mc)


def from_estimate(e: Estimate, *, shown: Callable[[float], float], null: float | None, **fields) -> Claim:
    """A claim from an Estimate on its own scale (log loss, log factor), shown through `shown` (monotone
    increasing: pct, exp); `null` is on the Estimate's scale and shown the same way."""
    show = lambda v: float(shown(v)) if np.isfinite(v) else float(v)
    return Claim(estimate=show(e.value), lo=show(e.lo), hi=show(e.hi), null=None if null is None else show(null),
                 undecided=undecided(e, null), **fields)


def pct(log_diff: float) -> float:
    """A difference in log loss as a percentage change in loss."""
    return 100 * math.expm1(log_diff) if np.isfinite(log_diff) else float(log_diff)


def exp(v: float) -> float:
    return math.exp(min(v, 700.0))
