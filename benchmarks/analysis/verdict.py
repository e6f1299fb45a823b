"""The verdict: how much of the held-out loss the architecture explains, and how that changes with data.

Per dataset, an ANOVA on the log test loss of every seed, with architecture,
model size and data size as factors (Type II sums of squares, so missing runs
are handled). Each term's share is reported *beyond what seed noise alone
would give it*: (SS_term − df_term·MS_seed) / SS_total, i.e. eta² minus its
expectation when the term has no effect, so a factor with no effect has a
share near zero and an interval that covers zero. Intervals come from a
bootstrap over the seeds of each run, re-centred on the estimate (a bootstrap
replicate adds its own seed noise on top of the data's, which the re-centring
takes out again). Runs that share a seed's initialisation (one architecture and
size, across data sizes and datasets) are resampled together, so a lucky seed
counts once, not once per run.

The gap between the best and the worst architecture is measured at each
training-set size, its trend is the slope of the log gap against log data size,
and where the gap is shrinking with confidence, the data size at which the fitted
trend would reach the seed-noise floor (the gap seed noise alone produces) is
extrapolated. When the suite holds a dataset and its `-shuffled` twin, each
architecture's loss change between the two measures how much it relies on the
input order (its inductive bias).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate
from scipy.special import ndtr

from benchmarks.analysis.fits import LEVEL, Estimate, resample_seeds, run_log_losses, seed_group, usable
from benchmarks.spec import RunRecord

N_BOOT = 1000
SHUFFLED_SUFFIX = "-shuffled"
FACTORS = ("architecture", "model size", "data size")


def _term_name(term: tuple[int, ...]) -> str:
    return " × ".join(FACTORS[i] for i in term)


def _interval(point: float, reps: np.ndarray, level: float = LEVEL) -> Estimate:
    """Bootstrap interval of the replicates' spread, re-centred on the point estimate."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:  # nothing to resample (one seed per run): no interval
        return Estimate(float(point), float("nan"), float("nan"))
    lo, hi = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)]) - (reps.mean() - point)
    return Estimate(float(point), float(lo), float(hi))


@functools.lru_cache
def expected_range(k: int) -> float:
    """Expected range (max − min) of k independent standard normal draws."""
    if k < 2:
        return 0.0
    integrand = lambda x: 1 - ndtr(x) ** k - ndtr(-x) ** k
    return float(integrate.quad(integrand, -np.inf, np.inf)[0])


# ---------------------------------------------------------------------------- data layout


@dataclass(frozen=True)
class _Runs:
    """The usable runs of one dataset, as seed-level arrays; n observations (seeds) in all."""

    records: list[RunRecord]
    levels: list[list]  # per factor: the sorted levels (arch names, target params, data sizes)
    codes_nx3: np.ndarray  # factor level index of each observation
    run_n: np.ndarray  # run index of each observation
    y_n: np.ndarray  # log test loss of each observation
    seeds: list[np.ndarray]  # per run: its seeds' log losses

    @classmethod
    def of(cls, records: Sequence[RunRecord]) -> _Runs:
        keys = [lambda r: r.spec.arch, lambda r: r.spec.target_params, lambda r: r.spec.data_size]
        levels = [sorted({key(r) for r in records}) for key in keys]
        seeds = [run_log_losses(r) for r in records]
        codes = np.array([[lv.index(key(r)) for lv, key in zip(levels, keys, strict=True)]
                          for r, s in zip(records, seeds, strict=True) for _ in s], dtype=int).reshape(-1, 3)
        run_n = np.repeat(np.arange(len(records)), [s.size for s in seeds])
        return cls(list(records), levels, codes, run_n, np.concatenate(seeds), seeds)

    def replicates(self, n_boot: int, rng: np.random.Generator, draws: dict) -> np.ndarray:
        """(B, n) bootstrap replicates of y: the seeds of each run resampled, shared seeds together."""
        groups = [seed_group(r) for r in self.records]
        return np.concatenate(resample_seeds(self.seeds, n_boot, rng, groups, draws), axis=1)

    def run_means(self, y_Bxn: np.ndarray) -> np.ndarray:
        """(B, runs) mean log loss of each run."""
        average_nxR = np.eye(len(self.records))[self.run_n]
        return (y_Bxn @ average_nxR) / average_nxR.sum(axis=0)

    def cell(self, r: RunRecord) -> tuple:
        return r.spec.arch, r.spec.target_params, r.spec.data_size


# ---------------------------------------------------------------------------- ANOVA


def _orth(columns: list[np.ndarray]) -> np.ndarray:
    m = np.hstack(columns)
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    return u[:, : int((s > s[0] * 1e-10).sum())]


def _indicators(codes_nxF: np.ndarray, term: tuple[int, ...]) -> np.ndarray:
    """One column per cell of the term's factors (their span holds every lower-order term too)."""
    _, cell = np.unique(codes_nxF[:, list(term)], axis=0, return_inverse=True)
    return np.eye(cell.max() + 1)[cell.ravel()]


@dataclass(frozen=True)
class _Anova:
    """Type II sums of squares of every term, as projections that apply to many replicates at once."""

    terms: list[tuple[int, ...]]
    bases: list[tuple[np.ndarray, np.ndarray]]  # per term: (model without it, model with it)
    full: np.ndarray
    df: list[int]
    df_resid: int

    @classmethod
    def of(cls, codes_nxF: np.ndarray) -> _Anova:
        n = len(codes_nxF)
        present = [f for f in range(codes_nxF.shape[1]) if np.unique(codes_nxF[:, f]).size > 1]
        terms = [t for size in range(1, len(present) + 1) for t in itertools.combinations(present, size)]
        one = np.ones((n, 1))
        bases, df = [], []
        for t in terms:
            others = [one] + [_indicators(codes_nxF, s) for s in terms if not set(t) <= set(s)]
            small, big = _orth(others), _orth(others + [_indicators(codes_nxF, t)])
            bases.append((small, big))
            df.append(big.shape[1] - small.shape[1])
        full = _orth([one] + [_indicators(codes_nxF, t) for t in terms])
        return cls(terms, bases, full, df, n - full.shape[1])

    def sums_of_squares(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, terms) SS per term, (B,) residual SS, (B,) total SS."""
        sq = lambda q: ((y_Bxn @ q) ** 2).sum(axis=1)
        ss = np.stack([sq(big) - sq(small) for small, big in self.bases], axis=1)
        resid = (y_Bxn**2).sum(axis=1) - sq(self.full)
        total = ((y_Bxn - y_Bxn.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return ss, resid, total

    def excess_shares(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, terms) share beyond seed noise, (B, terms) raw eta², (B,) seed-noise share."""
        ss, resid, total = self.sums_of_squares(y_Bxn)
        ms_resid = resid / self.df_resid if self.df_resid > 0 else np.zeros_like(resid)
        return (ss - np.array(self.df) * ms_resid[:, None]) / total[:, None], ss / total[:, None], resid / total


# ---------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Share:
    """One term's share of the variance in log loss beyond seed noise, with its interval."""

    term: str
    share: Estimate
    eta2: float  # the raw share, noise included
    df: int

    def to_dict(self) -> dict:
        return {"term": self.term, "share": self.share.to_dict(), "eta2": self.eta2, "df": self.df}


@dataclass(frozen=True)
class Gap:
    """Best vs worst architecture at one training-set size, in log loss (mean over model sizes)."""

    data_size: int
    gap: Estimate
    best: str
    worst: str
    noise_floor: float  # the gap seed noise alone would produce here

    def to_dict(self) -> dict:
        return {"data_size": self.data_size, "gap": self.gap.to_dict(), "best": self.best, "worst": self.worst,
                "noise_floor": self.noise_floor}


@dataclass(frozen=True)
class DatasetVerdict:
    dataset: str
    n_runs: int
    n_excluded: int
    archs: list[str]
    sizes: list[int]
    data_sizes: list[int]
    seeds_per_run: float
    has_intervals: bool  # False with one seed per run: no noise estimate, so no intervals and no claims
    shares: list[Share]  # per ANOVA term
    interactions: Estimate | None  # all interaction terms together
    seed_share: float  # SS of seed noise / SS total
    ranking: list[tuple[str, Estimate]]  # arch, log-loss excess over the best (best first)
    gaps: list[Gap]
    trend: Estimate | None  # slope of log gap per decade of data
    crossover: Estimate | None  # data size where the trend meets the noise floor
    notes: list[str] = field(default_factory=list)
    paragraph: str = ""

    def share(self, term: str) -> Estimate | None:
        return next((s.share for s in self.shares if s.term == term), None)

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "n_runs": self.n_runs, "n_excluded": self.n_excluded, "archs": self.archs,
            "sizes": self.sizes, "data_sizes": self.data_sizes, "seeds_per_run": self.seeds_per_run,
            "has_intervals": self.has_intervals,
            "shares": [s.to_dict() for s in self.shares],
            "interactions": self.interactions.to_dict() if self.interactions else None,
            "seed_share": self.seed_share,
            "ranking": [{"arch": a, "log_loss_above_best": e.to_dict()} for a, e in self.ranking],
            "gaps": [g.to_dict() for g in self.gaps],
            "gap_trend_per_decade": self.trend.to_dict() if self.trend else None,
            "crossover_data_size": self.crossover.to_dict() if self.crossover else None,
            "notes": self.notes, "paragraph": self.paragraph,
        }


@dataclass(frozen=True)
class BiasComparison:
    """A dataset against its `-shuffled` twin: how much each architecture loses when the input order goes."""

    base: str
    shuffled: str
    change: dict[str, Estimate]  # arch -> log loss(shuffled) − log loss(base), over common runs
    leader: str  # the best architecture on the base dataset ("" with one architecture)
    advantage: dict[str, tuple[str, Estimate]]  # dataset -> (best other arch, its log loss − the leader's)
    paragraph: str = ""

    def to_dict(self) -> dict:
        return {"base": self.base, "shuffled": self.shuffled,
                "change": {a: e.to_dict() for a, e in self.change.items()}, "leader": self.leader,
                "advantage": {ds: {"other": o, "log_loss_gap": e.to_dict()} for ds, (o, e) in self.advantage.items()},
                "paragraph": self.paragraph}


@dataclass(frozen=True)
class Verdict:
    datasets: list[DatasetVerdict]
    inductive_bias: list[BiasComparison]
    unusable: dict[str, int] = field(default_factory=dict)  # dataset -> runs, where every run failed or diverged
    level: float = LEVEL

    @property
    def paragraph(self) -> str:
        lost = [f"{ds}: all {_count(n, 'run')} failed or diverged, so there is no verdict." for ds, n in
                self.unusable.items()]
        return "\n\n".join([d.paragraph for d in self.datasets] + lost + [b.paragraph for b in self.inductive_bias])

    def to_dict(self) -> dict:
        return {"level": self.level, "datasets": [d.to_dict() for d in self.datasets],
                "inductive_bias": [b.to_dict() for b in self.inductive_bias], "unusable": self.unusable,
                "paragraph": self.paragraph}


def _arch_means(runs: _Runs, means_BxR: np.ndarray, data_size: int | None = None
                ) -> tuple[list[str], np.ndarray, int] | None:
    """Mean log loss of each arch (B, archs) over the (size, data size) cells every arch has run, and how
    many such cells there are."""
    archs = runs.levels[0]
    cells: dict[tuple, dict[str, int]] = {}
    for i, r in enumerate(runs.records):
        if data_size is None or r.spec.data_size == data_size:
            cells.setdefault((r.spec.target_params, r.spec.data_size), {})[r.spec.arch] = i
    common = [c for c in cells.values() if len(c) == len(archs)]
    if not common:
        return None
    return archs, np.stack([means_BxR[:, [c[a] for c in common]].mean(axis=1) for a in archs], axis=1), len(common)


def _dataset_verdict(dataset: str, records: Sequence[RunRecord], n_boot: int, rng: np.random.Generator,
                     draws: dict) -> tuple[DatasetVerdict, _Runs, np.ndarray]:
    ok, excluded = usable(records)
    runs = _Runs.of(ok)
    archs, sizes, data_sizes = runs.levels
    seeds_per_run = float(np.mean([s.size for s in runs.seeds]))
    has_intervals = any(s.size > 1 for s in runs.seeds)
    y_B = runs.replicates(n_boot if has_intervals else 0, rng, draws)
    y_obs = runs.y_n[None]
    notes = []

    # shares
    anova = _Anova.of(runs.codes_nx3)
    shares, interactions, seed_share = [], None, float("nan")
    if anova.terms:
        ex, eta2, seed = anova.excess_shares(y_obs)
        ex_b = anova.excess_shares(y_B)[0]
        seed_share = max(0.0, float(seed[0]))
        shares = [Share(_term_name(t), _interval(ex[0, j], ex_b[:, j]), float(eta2[0, j]), anova.df[j])
                  for j, t in enumerate(anova.terms)]
        inter = [j for j, t in enumerate(anova.terms) if len(t) > 1]
        if inter:
            interactions = _interval(ex[0, inter].sum(), ex_b[:, inter].sum(axis=1))

    # ranking and gaps
    means_obs, means_B = runs.run_means(y_obs), runs.run_means(y_B)
    ranking: list[tuple[str, Estimate]] = []
    gaps: list[Gap] = []
    trend = crossover = None
    # seed noise: the pooled within-run standard deviation (runs weighted by their degrees of freedom)
    multi = [s for s in runs.seeds if s.size > 1]
    sigma = float(np.sqrt(sum((s.size - 1) * s.var(ddof=1) for s in multi) / sum(s.size - 1 for s in multi))) \
        if multi else float("nan")
    all_means = np.concatenate([means_obs, means_B])  # (1 + B, runs): observed, then replicates
    gap_Bx: list[np.ndarray] = []  # each gap's (1 + B) values, for the trend
    overall = _arch_means(runs, all_means)
    if len(archs) > 1 and overall is not None:
        _, m, _ = overall
        order = np.argsort(m[0])
        ranking = [(archs[j], _interval(m[0, j] - m[0, order[0]], m[1:, j] - m[1:, order[0]])) for j in order]
        for d in data_sizes:
            at = _arch_means(runs, all_means, d)
            if at is None:
                continue
            _, m, n_cells = at
            g = m.max(axis=1) - m.min(axis=1)
            gap_Bx.append(g)
            # the gap seed noise alone would give: the expected range of the archs' means over n_cells runs each
            floor = expected_range(len(archs)) * sigma / np.sqrt(seeds_per_run * n_cells)
            gaps.append(Gap(d, _interval(g[0], g[1:]), archs[int(m[0].argmin())], archs[int(m[0].argmax())],
                            float(floor)))
        if len(gaps) >= 2:
            trend, crossover = _gap_trend(np.stack(gap_Bx, axis=1), gaps, notes)
    v = DatasetVerdict(dataset, len(ok), len(excluded), list(archs), list(sizes), list(data_sizes), seeds_per_run,
                       has_intervals, shares, interactions, seed_share, ranking, gaps, trend, crossover, notes)
    return v, runs, all_means


def _gap_trend(g_Bx: np.ndarray, gaps: list[Gap], notes: list[str]) -> tuple[Estimate, Estimate | None]:
    """Slope of log gap against log10 data size, and where the fitted line meets the noise floor.

    g_Bx: the gaps' observed values (row 0) and bootstrap replicates (rows 1..B), one column a gap."""
    x = np.log10([g.data_size for g in gaps])
    log_g = np.log(np.maximum(g_Bx, 1e-12))
    xc = x - x.mean()
    slope = (log_g - log_g.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    intercept = log_g.mean(axis=1) - slope * x.mean()
    trend = _interval(slope[0], slope[1:])
    floor = gaps[-1].noise_floor
    if not (trend.hi < 0):
        return trend, None
    if gaps[-1].gap.lo <= floor:
        notes.append(f"the gap is already within seed noise at {gaps[-1].data_size:,} examples")
        return trend, None
    # shift each replicate's line so the replicates are centred on the estimate, as for every interval
    s_b = slope[1:] - (slope[1:].mean() - slope[0])
    c_b = intercept[1:] - (intercept[1:].mean() - intercept[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d_b = np.where(s_b < 0, (np.log(floor) - c_b) / s_b, np.inf)
    log_d = (np.log(floor) - intercept[0]) / slope[0]
    lo, hi = np.percentile(log_d_b, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return trend, Estimate(float(10**log_d), float(10**lo), float(10**hi) if np.isfinite(hi) else float("inf"))


def _bias_comparison(base: str, shuffled: str, verdicts: dict[str, tuple[DatasetVerdict, _Runs, np.ndarray]]
                     ) -> BiasComparison | None:
    runs = {ds: verdicts[ds][1] for ds in (base, shuffled)}
    means = {ds: verdicts[ds][2] for ds in runs}  # (1 + B, runs): the observed run means, then the replicates
    index = {ds: {runs[ds].cell(r): i for i, r in enumerate(runs[ds].records)} for ds in runs}
    change = {}
    for arch in sorted(set(verdicts[base][0].archs) & set(verdicts[shuffled][0].archs)):
        common = sorted(c for c in index[base] if c[0] == arch and c in index[shuffled])
        if common:
            d = (means[shuffled][:, [index[shuffled][c] for c in common]]
                 - means[base][:, [index[base][c] for c in common]]).mean(axis=1)
            change[arch] = _interval(d[0], d[1:])
    if not change:
        return None
    ranking = verdicts[base][0].ranking
    leader = ranking[0][0] if ranking else ""
    advantage = {}
    for ds in (base, shuffled) if leader else ():
        got = _arch_means(runs[ds], means[ds])
        if got is None or leader not in got[0] or len(got[0]) < 2:
            continue
        archs, m, _ = got
        j = archs.index(leader)
        others = [i for i in range(len(archs)) if i != j]
        other = others[int(np.argmin(m[0, others]))]
        diff = m[:, other] - m[:, j]
        advantage[ds] = (archs[other], _interval(diff[0], diff[1:]))
    return BiasComparison(base, shuffled, change, leader, advantage)


def verdict(records: Sequence[RunRecord], *, n_boot: int = N_BOOT, rng: int = 0) -> Verdict:
    """The verdict of a suite's records: per dataset, and per dataset/-shuffled pair."""
    gen = np.random.default_rng(rng)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.spec.dataset, []).append(r)
    per: dict[str, tuple[DatasetVerdict, _Runs, np.ndarray]] = {}
    draws: dict = {}  # one draw of seeds per group for every dataset, so a dataset and its twin pair up
    for ds, rs in sorted(by_dataset.items()):
        if usable(rs)[0]:
            v, runs, all_means = _dataset_verdict(ds, rs, n_boot, gen, draws)
            per[ds] = (dataclasses.replace(v, paragraph=dataset_paragraph(v)), runs, all_means)
    pairs = [(ds, ds + SHUFFLED_SUFFIX) for ds in per if ds + SHUFFLED_SUFFIX in per]
    bias = []
    for base, shuffled in pairs:
        b = _bias_comparison(base, shuffled, per)
        if b is not None:
            bias.append(dataclasses.replace(b, paragraph=bias_paragraph(b)))
    unusable = {ds: len(rs) for ds, rs in sorted(by_dataset.items()) if ds not in per}
    return Verdict([v for v, _, _ in per.values()], bias, unusable)


# ---------------------------------------------------------------------------- words


def pct(log_diff: float) -> float:
    """A difference in log loss as a percentage change in loss."""
    return 100 * float(np.expm1(log_diff))


def _decimals(*values: float) -> int:
    """Enough decimals to tell an interval's ends apart (0 to 2)."""
    spread = max(values) - min(values)
    scale = spread if spread > 0 else max(abs(v) for v in values)
    return int(np.clip(1 - np.floor(np.log10(scale)) if scale > 0 else 0, 0, 2))


def _fmt(value: float, lo: float, hi: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{value:.2g}% [no interval]"
    n = _decimals(value, lo, hi)
    num = lambda v: f"{v + 0.0:.{n}f}".replace("-", "−") if round(v, n) != 0 else f"{0:.{n}f}"
    return f"{num(value)}% [{num(lo)}, {num(hi)}]"


def fmt_loss_change(e: Estimate) -> str:
    """'12% [8, 16]': a log-loss difference as a percentage change in loss, with its interval."""
    return _fmt(pct(e.value), pct(e.lo), pct(e.hi))


def fmt_share(e: Estimate) -> str:
    return _fmt(100 * e.value, 100 * e.lo, 100 * e.hi)


def _sig(x: float) -> str:
    """A size to two significant figures, in words a reader parses at a glance (4.8M, 120k)."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{float(f'{x / div:.2g}'):g}{unit}"
    return f"{float(f'{x:.2g}'):g}"


def _count(n: float, word: str) -> str:
    return f"{n:g} {word}{'' if n == 1 else 's'}"


def _span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"


def dataset_paragraph(v: DatasetVerdict) -> str:
    """The verdict of one dataset in words, claiming no more than the intervals allow."""
    level = f"{100 * LEVEL:g}%"
    seeds = f"{v.seeds_per_run:.3g} seed{'' if v.seeds_per_run == 1 else 's'} each"
    out = [f"{v.dataset}: {_count(v.n_runs, 'run')} ({_count(len(v.archs), 'architecture')} × "
           f"{_count(len(v.sizes), 'model size')} × {_count(len(v.data_sizes), 'training-set size')}, {seeds}"
           + (f"; {_count(v.n_excluded, 'failed or diverged run')} left out" if v.n_excluded else "") + ")."]
    if not v.has_intervals:
        out.append("With one seed per run there is no estimate of seed noise, so nothing below has an interval "
                   "and none of it supports a claim that one architecture beats another.")
    if v.shares:
        main = [f"{s.term} {fmt_share(s.share)}" for s in v.shares if " × " not in s.term]
        inter = f", their interactions {fmt_share(v.interactions)} together" if v.interactions else ""
        if v.has_intervals:
            out.append(f"Share of the variance in log test loss beyond what seed noise alone would give "
                       f"({level} bootstrap intervals): {', '.join(main)}{inter}; seed noise itself is "
                       f"{100 * v.seed_share:.2g}% of the variance.")
        else:
            out.append(f"Share of the variance in log test loss: {', '.join(main)}{inter}.")
        arch = v.share("architecture")
        if arch is None:
            out.append("With one architecture there is nothing to compare.")
        elif not v.has_intervals:
            pass
        elif arch.lo > 0:
            out.append("The architecture has an effect beyond seed noise: its interval excludes zero.")
        else:
            out.append("These runs do not show an effect of the architecture beyond seed noise: "
                       "its interval includes zero.")
    if len(v.ranking) >= 2:
        (best, _), (second, gap2) = v.ranking[0], v.ranking[1]
        last, gap_last = v.ranking[-1]
        others = (f"{fmt_loss_change(gap2)} ({second})" if len(v.ranking) == 2 else
                  f"{fmt_loss_change(gap2)} ({second}) to {fmt_loss_change(gap_last)} ({last})")
        if not v.has_intervals:
            out.append(f"Lowest mean loss over the common runs: {best}; the others' loss is higher by {others}.")
        elif gap2.lo > 0:
            out.append(f"Lowest loss over the common runs: {best}; the others' loss is higher by {others}.")
        else:
            out.append(f"No architecture is clearly best: {best} leads {second} by {fmt_loss_change(gap2)}, "
                       "an interval that includes zero.")
    if v.gaps:
        at = [f"{fmt_loss_change(g.gap)} at {g.data_size:,}" for g in v.gaps]
        noise = (f" (seed noise alone would give about {pct(v.gaps[-1].noise_floor):.2g}%)"
                 if v.has_intervals else "")
        out.append(f"The worst architecture's loss exceeds the best one's by {', '.join(at)} training "
                   f"examples{noise}.")
    if v.trend is not None and v.has_intervals:
        f = lambda s: f"×{np.exp(s):.2f}"
        per = f"{f(v.trend.value)} [{f(v.trend.lo)}, {f(v.trend.hi)}] per tenfold more data"
        if v.trend.hi < 0:
            out.append(f"The gap shrinks as the training set grows: {per}.")
        elif v.trend.lo > 0:
            out.append(f"The gap grows as the training set grows: {per}.")
        else:
            out.append(f"The data do not show whether the gap shrinks or grows with more data ({per}).")
    if v.crossover is not None:
        c = v.crossover
        hi = _sig(c.hi) if np.isfinite(c.hi) else "no finite bound"
        beyond = c.value / max(v.data_sizes)
        out.append(f"If that trend held beyond the sizes measured, the gap would fall to the seed-noise level at about "
                   f"{_sig(c.value)} training examples ({level} interval {_sig(c.lo)} to {hi}) — an extrapolation "
                   f"{_sig(beyond)}× past the largest training set measured, not a measurement.")
    out += [n[0].upper() + n[1:] + "." for n in v.notes]
    out.append(f"All of this holds for the sizes measured ({_span(v.sizes, _sig)} parameters, "
               f"{_span(v.data_sizes, lambda d: f'{d:,}')} examples) and says nothing beyond them.")
    return " ".join(out)


def bias_paragraph(b: BiasComparison) -> str:
    """What destroying the input order does to each architecture, in words."""
    if any(not np.isfinite(e.lo) for e in b.change.values()):
        changes = ", ".join(f"{a} {pct(e.value):+.2g}%" for a, e in b.change.items())
        return (f"Inductive bias ({b.base} against {b.shuffled}): loss change from shuffling the input order: "
                f"{changes}. With one seed per run these have no intervals and support no claim.")
    up = [(a, e) for a, e in b.change.items() if e.lo > 0]
    down = [(a, e) for a, e in b.change.items() if e.hi < 0]
    flat = [(a, e) for a, e in b.change.items() if e.lo <= 0 <= e.hi]
    out = [f"Inductive bias ({b.base} against {b.shuffled}, the same inputs in a fixed shuffled order; "
           "same sizes and seeds):"]
    if up:
        out.append("shuffling raises the loss of " + ", ".join(
            f"{a} by {fmt_loss_change(e)}" for a, e in sorted(up, key=lambda t: -t[1].value)) + ";")
    if down:
        out.append("it lowers the loss of " + ", ".join(
            f"{a} (change {fmt_loss_change(e)})" for a, e in sorted(down, key=lambda t: t[1].value)) + ";")
    if flat:
        out.append("for " + ", ".join(f"{a} ({fmt_loss_change(e)})" for a, e in flat)
                   + " the change is indistinguishable from zero;")
    out[-1] = out[-1].rstrip(";") + "."
    if b.base in b.advantage:
        other, adv = b.advantage[b.base]
        s = f"{b.leader}'s advantage over the best other architecture ({other}) is {fmt_loss_change(adv)} on {b.base}"
        if b.shuffled in b.advantage:
            other_s, adv_s = b.advantage[b.shuffled]
            s += f" and {fmt_loss_change(adv_s)} on {b.shuffled} (against {other_s})"
        out.append(s + ".")
    return " ".join(out)
