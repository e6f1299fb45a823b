"""The statistics kit: one `Estimate`, one confidence `LEVEL`, seed intervals and the seed bootstrap.

Every number archbench shows is an `Estimate`: a value with its `LEVEL` (95%)
interval. A mean over seeds gets a Student-t interval (`Estimate.over_seeds`);
with one seed the spread is unknown, so the interval is NaN and callers must
treat it as "could be anything" (it neither beats nor loses). The verdict's
statistics get bootstrap intervals (`Estimate.recentred`) from replicates that
resample the seeds of every run (`resample_seeds`), runs that share a seed's
initialisation together, plus a run effect per run (`DatasetRuns`, `seed_noise.RunLevel`).
Fitted curves get parametric-bootstrap intervals
(`Estimate.bootstrap`) from `SeedNoise`: seed noise pooled over many runs plus
the noise a run's seeds share, so a run of two or three seeds does not collapse
its interval (docs/statistics.md).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats
from scipy.special import ndtr

from benchmarks.running.store import newest
from benchmarks.spec import RunRecord

LEVEL = 0.95  # the confidence level of every interval archbench shows
NAN = float("nan")


def percentiles(samples: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The two ends of the central LEVEL share of bootstrap samples (along `axis`)."""
    return np.percentile(samples, [50 * (1 - LEVEL), 50 * (1 + LEVEL)], axis=axis)


def percentile_mc_error(samples: np.ndarray) -> float:
    """How far the ends of `percentiles` could move by Monte Carlo chance alone: half the span between the
    order statistics one binomial standard error either side of each end (the larger of the two ends). A
    word decided by an end within this of its threshold is undecided (`benchmarks.analysis.wording`)."""
    x = np.sort(np.asarray(samples, dtype=float)[np.isfinite(samples)])
    if x.size < 2:
        return 0.0
    out = 0.0
    for p in (0.5 * (1 - LEVEL), 0.5 * (1 + LEVEL)):
        se = np.sqrt(p * (1 - p) / x.size)
        lo, hi = np.quantile(x, [max(p - se, 0.0), min(p + se, 1.0)])
        out = max(out, float(hi - lo) / 2)
    return out


@dataclass(frozen=True)
class Estimate:
    """A value with its LEVEL interval [lo, hi] (NaN where there is none).

    A mean over seeds keeps its per-seed `values`, so comparisons can test differences. A bootstrap
    interval keeps `mc`, the Monte Carlo error of its ends (0 for an exact interval)."""

    value: float
    lo: float
    hi: float
    values: tuple[float, ...] = ()
    mc: float = 0.0

    @classmethod
    def over_seeds(cls, values: Iterable[float | None]) -> Estimate:
        """The mean of the finite values with its Student-t interval (NaN bounds with fewer than 2)."""
        finite = tuple(float(v) for v in values if v is not None and math.isfinite(v))
        return cls(*mean_ci(finite), values=finite)

    @classmethod
    def bootstrap(cls, value: float, samples: np.ndarray) -> Estimate:
        """`value` with the percentile interval of its bootstrap replicates."""
        lo, hi = percentiles(samples)
        return cls(float(value), float(lo), float(hi), mc=percentile_mc_error(samples))

    @classmethod
    def recentred(cls, value: float, samples: np.ndarray) -> Estimate:
        """The replicates' spread re-centred on `value`: a replicate adds its own seed noise on top of
        the data's, which the re-centring takes out again. No finite replicate: no interval."""
        samples = samples[np.isfinite(samples)]
        if samples.size == 0:  # nothing to resample (one seed per run)
            return cls(float(value), NAN, NAN)
        lo, hi = percentiles(samples) - (samples.mean() - value)
        return cls(float(value), float(lo), float(hi), mc=percentile_mc_error(samples))

    @property
    def half_width(self) -> float:
        return self.hi - self.value

    def to_dict(self) -> dict:
        return {"value": self.value, "lo": self.lo, "hi": self.hi} | ({"mc": self.mc} if self.mc else {})


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, lo, hi): the Student-t confidence interval of the mean over seeds; NaN bounds with < 2 values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return NAN, NAN, NAN
    mean = float(x.mean())
    if x.size < 2:
        return mean, NAN, NAN
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two (lo, hi) intervals overlap; an undefined (NaN) interval overlaps everything."""
    if any(math.isnan(v) for v in (*a, *b)):
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test for a difference in means; NaN when either side has < 2 values.

    Two samples without any spread differ with certainty when their means differ
    (p = 0) and not at all when they are equal (p = 1): scipy gives NaN there.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        return NAN
    if x.var(ddof=1) == 0 and y.var(ddof=1) == 0:
        return 1.0 if x.mean() == y.mean() else 0.0
    return float(stats.ttest_ind(x, y, equal_var=False).pvalue)


@functools.lru_cache
def expected_range(k: int) -> float:
    """Expected range (max − min) of k independent standard normal draws."""
    if k < 2:
        return 0.0
    integrand = lambda x: 1 - ndtr(x) ** k - ndtr(-x) ** k
    return float(integrate.quad(integrand, -np.inf, np.inf)[0])


# ---------------------------------------------------------------------------- runs as seed samples


def run_log_losses(record: RunRecord) -> np.ndarray:
    """Per-seed log held-out (test) loss of a run; non-finite seeds dropped."""
    losses = np.array([s.test_loss for s in record.seeds], dtype=float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    return np.log(losses)


def usable(records: Sequence[RunRecord]) -> tuple[list[RunRecord], list[RunRecord]]:
    """Split the newest record of each cell (`store.newest`) into those a statistic can use (status ok,
    a finite loss) and those excluded, each in a canonical order (by run id), so nothing computed or drawn
    from them depends on the order of the lines in runs.jsonl."""
    ok, excluded = [], []
    for r in sorted(newest(records), key=lambda r: (r.run_id, r.spec.dataset)):
        (ok if r.status == "ok" and run_log_losses(r).size > 0 else excluded).append(r)
    return ok, excluded


def seed_group(record: RunRecord) -> tuple:
    """Runs with the same group share their seeds' initialisations (one architecture and size, across data
    sizes and datasets), so the bootstrap resamples their seeds together."""
    ids = tuple(s.seed for s in record.seeds if s.test_loss is not None and np.isfinite(s.test_loss)
                and s.test_loss > 0)
    return record.spec.arch, record.spec.target_params, ids


def resample_seeds(values: Sequence[np.ndarray], n_boot: int, rng: np.random.Generator | int,
                   groups: Sequence[Hashable] | None = None, draws: dict | None = None) -> list[np.ndarray]:
    """Bootstrap the seeds of each run: a (B, m) array per run of m seeds.

    Runs of one group get the same draw of seed indices (a paired bootstrap: a lucky
    seed stays lucky in every run that shares it); `draws` keeps the draws across
    calls, so runs in separate calls pair up too. With groups and an integer `rng`,
    each group's draw comes from a generator keyed by the group and `rng` alone, so
    no draw depends on the order of the runs or on any name. Deviations from the
    run's mean are scaled by sqrt(m/(m−1)) first, so the resampled spread is not
    shrunk by the few seeds (the usual small-sample correction); a one-seed run stays fixed.
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
            gen = keyed_rng("seed draw", rng, key, n_boot) if isinstance(rng, int) and groups is not None else rng
            draws[key] = gen.integers(0, m, size=(n_boot, m))
        adjusted = v.mean() + (v - v.mean()) * np.sqrt(m / (m - 1))
        out.append(adjusted[draws[key]])
    return out


def dataset_identity(records: Iterable[RunRecord]) -> str:
    """What a dataset's runs trained on, by content (their data versions: a hash of the files, never their
    path), for keying random draws; the recorded name where a record has no data version."""
    return "+".join(sorted({r.data_version or r.spec.dataset for r in records}))


def keyed_rng(*key: object) -> np.random.Generator:
    """A generator of its own per key (a curve, a statistic), so its intervals do not depend on what
    else is computed."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---------------------------------------------------------------------------- seed noise for fitted curves


@dataclass(frozen=True)
class SeedNoise:
    """The noise of a run's mean log loss, for a parametric bootstrap of fitted curves.

    `sd` is the within-run standard deviation of one seed's log loss pooled over many runs
    (`df` degrees of freedom), so a run of two or three seeds borrows the noise level of all
    the others instead of trusting its own two or three values. `run_sd` is noise a run's seeds
    share (the learning rate chosen for the run, the data subset its seeds train on), which
    their spread cannot show: √κ·sd, κ the suite's run-level ratio (`seed_noise.run_level`).
    A run mean of m seeds has variance sd²/m + run_sd². A replicate draws its own
    noise level from the estimate's sampling distribution (scaled inverse χ² with `df`, the
    Student-t construction), so the uncertainty of the estimate is carried into every interval.
    """

    sd: float
    df: float
    run_sd: float = 0.0

    @property
    def known(self) -> bool:
        return bool(np.isfinite(self.sd) and self.df > 0)

    def mean_sd(self, n_seeds: np.ndarray | float) -> np.ndarray:
        """Standard deviation of the mean log loss of runs of `n_seeds` seeds."""
        return np.sqrt(self.sd**2 / np.asarray(n_seeds, dtype=float) + self.run_sd**2)

    def draw(self, n_seeds_P: np.ndarray, n_boot: int, rng: np.random.Generator, groups_P: Sequence | None = None,
             shared: float = 0.0) -> np.ndarray:
        """(B, P) noise of P run means: Gaussian with a noise level drawn per replicate. `shared`: the share of a
        seed's variance that the runs of one group (`groups_P`: runs that train the same inits) have in common,
        drawn once per group and replicate; each run's variance stays sd²/m + run_sd²."""
        scale_B = np.sqrt(self.df / rng.chisquare(self.df, size=n_boot)) if np.isfinite(self.df) else np.ones(n_boot)
        if groups_P is None or shared <= 0:
            return scale_B[:, None] * self.mean_sd(n_seeds_P)[None, :] * rng.standard_normal((n_boot, len(n_seeds_P)))
        m = np.asarray(n_seeds_P, dtype=float)
        group = np.unique(np.asarray(groups_P), return_inverse=True)[1]
        own = np.sqrt((1 - shared) * self.sd**2 / m + self.run_sd**2)[None, :] * rng.standard_normal((n_boot, m.size))
        common = np.sqrt(shared * self.sd**2 / m)[None, :] * rng.standard_normal((n_boot, int(group.max()) + 1))[:, group]
        return scale_B[:, None] * (own + common)

    def to_dict(self) -> dict:
        return {"seed_sd": self.sd, "run_sd": self.run_sd, "df": self.df}


def pooled_seed_noise(seeds: Iterable[np.ndarray]) -> SeedNoise:
    """Within-run sd of log loss pooled over runs (each weighted by its degrees of freedom); NaN with none."""
    multi = [np.asarray(s, dtype=float) for s in seeds if np.size(s) > 1]
    df = sum(s.size - 1 for s in multi)
    if df == 0:
        return SeedNoise(NAN, 0.0)
    return SeedNoise(float(np.sqrt(sum((s.size - 1) * s.var(ddof=1) for s in multi) / df)), float(df))
