"""Coverage of the two statistics that issue 30 added, in worlds fitted to their committed references.

`modalities` (results/reference/modalities): each dataset is its own reference world (tests/reference_world.py:
the runs, a smooth truth through their mean log losses, each family's split-plot seed noise, t tails and a run
effect for the learning-rate choice), both drawn afresh per rerun, and the whole verdict computed on the reruns
(`verdict.verdict`). Its statements are checked against the world's truth: ρ of the true family means (the
statistic's own `spearman`), each pair's true order on each dataset (the sign of its true mean difference over
the cells both ran), and the factor whose true Type II sum of squares among the noise-free means is largest
(`anova.Anova`, as the shares define theirs). A planted world moves one family on one dataset so that a pair
swaps places between the modalities.

`context` (results/reference/language): per family the run the position figure draws (`language.position_curves`),
with a truth smooth in position and the noise its seeds and test windows show (`CurveWorld`); each rerun redraws
every seed's loss at every position and the statistic's own rule (`context.plateau`) reads them. The truth's
octave is that rule applied to the noise-free curve (every seed on the truth).

scripts/coverage.py (parts `modalities` and `context`) runs these and writes the rows of docs/coverage.md;
tests/test_coverage_lang.py runs a few reruns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from coverage_sim import covered
from reference_world import World, reference_records, reference_world, student, tail_df
from scipy.optimize import curve_fit

from benchmarks.analysis.anova import Anova
from benchmarks.analysis.claims import Claim
from benchmarks.analysis.language import PositionCurve, octave_losses, octaves, position_curves
from benchmarks.analysis.seed_noise import one_blas_thread
from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_statistics import DatasetRuns
from benchmarks.analysis.verdict_statistics.context import context_plateaus, plateau
from benchmarks.analysis.verdict_statistics.modalities import pair_order, spearman
from benchmarks.analysis.verdict_statistics.shares import term_name
from benchmarks.analysis.wording import relation
from benchmarks.spec import RunRecord

# ---------------------------------------------------------------------------- modalities

# The planted reversal: on the second dataset (text) `lower` moves to `by` in log loss below `higher` at every
# cell. The reference has the ConvNet 73% below the MLP on MNIST-1D and the two level on text (0.1%).
PLANTED = ("convnet", "mlp", 0.10)  # (higher on text after the move, lower on text after the move, log-loss gap)


def modality_worlds(suite: str = "modalities") -> dict[str, World]:
    """Each dataset of the suite's reference as its own world (its families' noise is its own: 0.27 for the
    ConvNet on MNIST-1D, 0.014 on text), by name."""
    return {ds: reference_world(suite, ds) for ds in sorted({r.spec.dataset for r in reference_records(suite)})}


def planted_reversal(worlds: Mapping[str, World], planted: tuple[str, str, float] = PLANTED) -> dict[str, World]:
    """The worlds with `lower` moved, on the last dataset, to `gap` below `higher` at each of its cells."""
    higher, lower, gap = planted
    text = sorted(worlds)[-1]
    w = worlds[text]
    cell = lambda r: (r.spec.target_params, r.spec.data_size)
    at = {cell(r): w.truth[r.run_id] for r in w.runs if r.spec.arch == higher}
    moved = w.with_truth(lambda r: at[cell(r)] - gap - w.truth[r.run_id] if r.spec.arch == lower else 0.0)
    return dict(worlds) | {text: moved}


@dataclass(frozen=True)
class ModalityTruth:
    means: dict[str, dict[str, float]]  # dataset -> family -> true mean log loss over the cells every family ran
    rho: float  # Spearman's ρ of the two sets of true means
    leads: dict[str, str]  # dataset -> the main factor with the largest true sum of squares
    main_ss: dict[str, dict[str, float]]  # dataset -> main factor -> its true Type II sum of squares

    def order(self, a: str, b: str) -> str:
        """'kept' or 'swapped': the true sign of a − b on the first dataset against the second."""
        first, second = (self.means[ds][a] - self.means[ds][b] for ds in sorted(self.means))
        return "kept" if first * second > 0 else "swapped"


def modality_truth(worlds: Mapping[str, World]) -> ModalityTruth:
    """The truth of the modalities statements in these worlds (two datasets)."""
    means, leads, main_ss = {}, {}, {}
    for ds, w in worlds.items():
        cells: dict[tuple, dict[str, float]] = {}
        for r in w.runs:
            cells.setdefault((r.spec.target_params, r.spec.data_size), {})[r.spec.arch] = w.truth[r.run_id]
        families = sorted({r.spec.arch for r in w.runs})
        shared = [c for c in cells.values() if len(c) == len(families)]
        means[ds] = {f: float(np.mean([c[f] for c in shared])) for f in families}
        runs = DatasetRuns.of(list(w.runs), 0, 0, {})
        mu = np.array([w.truth[r.run_id] for r in runs.records])[runs.run_n]
        anova = Anova.of(runs.codes_nx3)
        ss = anova.sums_of_squares(mu[None])[0][0]
        main_ss[ds] = {term_name(t): float(ss[j]) for j, t in enumerate(anova.terms) if len(t) == 1}
        leads[ds] = max(main_ss[ds], key=main_ss[ds].get)
    first, second = sorted(means)
    families = sorted(means[first])
    rho = float(spearman(np.array([[means[first][f] for f in families]]),
                         np.array([[means[second][f] for f in families]]))[0])
    return ModalityTruth(means, rho, leads, main_ss)


def draw_suite(worlds: Mapping[str, World], gen: np.random.Generator) -> list[RunRecord]:
    return [r for ds in sorted(worlds) for r in worlds[ds].draw(gen)]


def modality_statements(records: list[RunRecord], n_boot: int) -> tuple[list[Claim], dict[tuple, str]]:
    """The modalities statistic's claims on one rerun (the whole verdict computed), and each pair's stated order
    (`modalities.pair_order`: 'kept', 'swapped', 'not decided')."""
    claims = list(verdict(records, n_boot=n_boot).statistics["modalities"].claims)
    first, second = sorted({c.at["dataset"] for c in claims if c.quantity == "pair"})
    on = lambda ds: {(c.subject, c.reference): c for c in claims if c.quantity == "pair" and c.at["dataset"] == ds}
    a, b = on(first), on(second)
    return claims, {pair: pair_order(a[pair], b[pair]) for pair in a if pair in b}


@one_blas_thread
def modality_rates(worlds: Mapping[str, World], n_sims: int, n_boot: int = 1000, rng: int = 0,
                   planted: tuple[str, str] | None = None) -> dict[str, list[bool]]:
    """Over reruns of `worlds`: whether ρ's interval covers the true ρ, and whether it is said beyond noise of 0 on
    the side the true ρ is not; per stated 'kept' or 'swapped' order,
    whether the true order is another (a wrong statement); per dataset, whether the factor said to lead is the
    truth's, and whether a lead said beyond noise has the truth's order; and, for the `planted` pair, whether it
    is said to swap."""
    truth = modality_truth(worlds)
    tally: dict[str, list[bool]] = {}
    add = lambda k, v: tally.setdefault(k, []).append(bool(v))
    for i in range(n_sims):
        claims, orders = modality_statements(draw_suite(worlds, np.random.default_rng(rng + i)), n_boot)
        rho = next(c for c in claims if c.quantity == "rank correlation")
        add("rank correlation: its interval covers the true ρ", covered(truth.rho, rho.lo, rho.hi))
        beyond = relation(rho) in ("above", "below")
        add("rank correlation said beyond noise of 0", beyond)
        add("rank correlation stated beyond noise on the wrong side of 0",
            beyond and not (truth.rho > 0 if rho.lo > 0 else truth.rho < 0))
        for (x, y), said in orders.items():
            add("pair order stated (kept or swapped)", said != "not decided")
            if said != "not decided":
                add("pair order stated wrong (the true order is the other)", said != truth.order(x, y))
        for c in (c for c in claims if c.quantity == "share lead"):
            ds = c.at["dataset"]
            add(f"factor that leads named right ({c.at['modality']})", c.subject == truth.leads[ds])
            if relation(c) == "above":
                ss = truth.main_ss[ds]
                add("factor lead beyond noise: true order right", ss[c.subject] > ss[c.reference])
        if planted is not None:
            add(f"planted reversal: {' and '.join(planted)} swapped stated", orders[tuple(sorted(planted))] == "swapped")
    return tally


# ---------------------------------------------------------------------------- context


def power_curve(t: np.ndarray, a: float, b: float, e: float) -> np.ndarray:
    """Log loss against tokens read, falling as a power law to a floor (the form of Kaplan et al.'s Fig. 7)."""
    return e + a * t ** -b


@dataclass(frozen=True)
class CurveWorld:
    """Per family one run's loss at each position: a smooth truth, and the noise its reference shows.

    log loss[seed, t] = truth[t] + w[t] + o[seed] + e[seed, t]

    w: the test windows' sampling error at position t, shared by the seeds (they score the same windows), with
    the lag-1 correlation its residuals show; o: a seed's offset at every position; e: a seed's own noise at one
    position. o and e are Student t with the tails of the seeds' deviations; w is Gaussian (each position's loss is
    a mean over many windows)."""

    runs: tuple[RunRecord, ...]  # per family, the run the position figure draws
    truth: Mapping[str, np.ndarray]  # family -> true log loss at each position
    window_sd: Mapping[str, float]
    window_rho: float  # lag-1 correlation of w between neighbouring positions
    offset_sd: Mapping[str, float]
    seed_sd: Mapping[str, float]
    tail_df: float

    @classmethod
    def of(cls, records: list[RunRecord]) -> CurveWorld:
        """Fitted to the runs `position_curves` picks: the truth by least squares of the seeds' mean log loss
        (`power_curve`); w's variance the residuals' less the seeds' share of it."""
        curves = position_curves(records)
        by_id = {(r.spec.arch, r.spec.target_params, r.spec.data_size): r for r in records}
        truth, window, offset, seed, lag, z = {}, {}, {}, {}, [], []
        for c in curves:
            y_SxL = np.log(c.losses_SxL)
            t = c.tokens_read.astype(float)
            m = y_SxL.mean(axis=0)
            p, _ = curve_fit(power_curve, t, m, p0=[m[0] - m[-1], 1.0, m[-1]], maxfev=20_000)
            truth[c.arch] = power_curve(t, *p)
            dev = y_SxL - m
            s, n = y_SxL.shape
            off = dev.mean(axis=1)
            own = dev - off[:, None]
            seed[c.arch] = float(np.sqrt((own**2).sum() / ((s - 1) * (n - 1))))
            offset[c.arch] = float(np.sqrt(max(off.var(ddof=1) - seed[c.arch] ** 2 / n, 0.0)))
            res = m - truth[c.arch]
            window[c.arch] = float(np.sqrt(max(res.var(ddof=3) - (offset[c.arch] ** 2 + seed[c.arch] ** 2) / s, 0.0)))
            lag.append(float(np.corrcoef(res[:-1], res[1:])[0, 1]))
            z += list((own * np.sqrt(n / (n - 1) * s / (s - 1)) / seed[c.arch]).ravel())
        runs = tuple(by_id[c.arch, c.target_params, c.data_size] for c in curves)
        return cls(runs, truth, window, float(np.mean(lag)), offset, seed, tail_df(np.array(z)))

    def draw(self, gen: np.random.Generator) -> list[RunRecord]:
        """One rerun of each family's run: every seed's test loss at every position drawn afresh."""
        out = []
        for r in self.runs:
            a = r.spec.arch
            n = self.truth[a].size
            w = np.empty(n)
            w[0] = gen.standard_normal()
            for k in range(1, n):  # AR(1) of unit variance
                w[k] = self.window_rho * w[k - 1] + np.sqrt(1 - self.window_rho**2) * gen.standard_normal()
            mean = self.truth[a] + self.window_sd[a] * w
            seeds = []
            for s in r.seeds:
                t = lambda: student(gen, self.tail_df)
                log_L = mean + self.offset_sd[a] * t() + self.seed_sd[a] * np.array([t() for _ in range(n)])
                loss = np.exp(log_L)
                seeds.append(dataclasses.replace(s, test_position_loss=loss.tolist(), test_loss=float(loss.mean())))
            out.append(dataclasses.replace(r, seeds=seeds))
        return out

    def noise_free(self) -> list[PositionCurve]:
        """Each family's curve with every seed on the truth."""
        return [PositionCurve(r.spec.arch, r.spec.target_params, r.spec.data_size, tuple(s.seed for s in r.seeds),
                              np.tile(np.exp(self.truth[r.spec.arch]), (len(r.seeds), 1))) for r in self.runs]


def true_changes(curve: PositionCurve) -> np.ndarray:
    """Per octave, the true change of log loss to the last octave (the statistic's octave means of the truth)."""
    log_K = np.log(octave_losses(curve)[0])
    return log_K[-1] - log_K


@one_blas_thread
def context_rates(world: CurveWorld, n_sims: int, rng: int = 0, dataset: str = "pydoc?context=64") -> dict:
    """Over reruns of `world`, per family: whether the stated octave is at or after the truth's (the rule on the
    noise-free curve; "still falls" is after every octave) and is the truth's, and whether the interval of the
    stated change covers its true change (pooled, and per family: keys (what + " at", "family", family)); per
    octave said to fall to the end beyond noise, whether its true change is below 0."""
    truth_curves = {c.arch: c for c in world.noise_free()}
    true_octave = {a: plateau(c, dataset)[0] for a, c in truth_curves.items()}
    change = {a: true_changes(c) for a, c in truth_curves.items()}
    tally: dict = {}
    add = lambda k, v: tally.setdefault(k, []).append(bool(v))
    for i in range(n_sims):
        records = world.draw(np.random.default_rng(rng + i))
        for p in context_plateaus(DatasetRuns.of(records, 0, 0, {}, dataset=dataset), {}).plateaus:
            blocks = octaves(truth_curves[p.arch].losses_SxL.shape[1])
            t, j = true_octave[p.arch], blocks.index(p.octave)
            said = len(blocks) if p.still_falling else j  # where it is said to stop; past every octave: still falls
            true_j = len(blocks) if t.still_falling else blocks.index(t.octave)
            hit = covered(change[p.arch][j], p.change.lo, p.change.hi)
            add("context plateau: stated octave at or after the truth's", said >= true_j)
            add("context plateau: stated octave the truth's", said == true_j)
            add(("context plateau: stated octave at or after the truth's at", "family", p.arch), said >= true_j)
            add("context plateau: change to the end covered", hit)
            add(("context plateau: change to the end covered at", "family", p.arch), hit)
            for k in range(j + 1 if p.still_falling else j):
                add("context plateau: earlier octave below the end, truly below", change[p.arch][k] < 0)
    return tally


def context_world(suite: str = "language") -> CurveWorld:
    return CurveWorld.of(reference_records(suite))
