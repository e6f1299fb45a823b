"""Coverage of the verdict's intervals, and compare's false alarms, by simulation at the shipped suites' designs.

Each simulation plants a known law (`synthetic_results`: per-family effects, an init's effect
shared across data sizes, families unequally noisy), draws every seed, analyses the runs as
the verdict does, and checks each interval against the planted truth. The truth of a share
is the variance its term carries among the noise-free means, over the total with seed noise
(`benchmarks.analysis.anova`); of a contrast, the mean over the cells both families ran of
the difference of their noise-free log losses.

`tests/test_verdict_coverage.py` and `tests/test_compare.py` run a few dozen simulations;
`scripts/verdict_coverage.py` runs the full count and writes the figures in `docs/verdict-coverage.md`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from reference_world import World, reference_world, sub_world
from synthetic_results import Law, planted_records

from benchmarks.analysis.anova import Anova
from benchmarks.analysis.claims import pct
from benchmarks.analysis.compare import compare
from benchmarks.analysis.leaderboard import build_leaderboard
from benchmarks.analysis.seed_noise import one_blas_thread, run_level_of
from benchmarks.analysis.stats import usable
from benchmarks.analysis.verdict_statistics import DatasetRuns
from benchmarks.analysis.verdict_statistics.contrasts import pairwise_contrasts
from benchmarks.analysis.verdict_statistics.dataset_contrasts import ContrastEffect, contrast_effect
from benchmarks.analysis.verdict_statistics.gap_trend import gap_trend, pair_trend
from benchmarks.analysis.verdict_statistics.gaps import gaps_by_data_size
from benchmarks.analysis.verdict_statistics.ranking import arch_ranking
from benchmarks.analysis.verdict_statistics.shares import shares_of, term_name
from benchmarks.analysis.wording import relation, reversal
from benchmarks.spec import DatasetContrast, RunRecord


@dataclass(frozen=True)
class Design:
    name: str
    sizes: tuple[int, ...]
    data_sizes: tuple[int, ...]
    seeds: tuple[int, ...]


DESIGNS = {
    "quick": Design("quick", (2_500, 5_000, 10_000), (400, 1_000, 2_000, 4_000), (0, 1, 2)),
    "reference": Design("first reference (2 seeds)", (5_000, 10_000, 20_000), (1_000, 2_000, 4_000), (0, 1)),
    "inductive": Design("inductive", (30_000,), (1_000, 4_000, 16_000), (0, 1, 2)),
    "standard": Design("standard", (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000),
                       (1_250, 2_500, 5_000, 10_000, 20_000), (0, 1, 2)),
}

# Six families as the committed reference has them: effects of its size (mixer and mlp far behind, the
# others within a few percent), shrinking with data; init noise (sd 0.044) larger than each seed's own
# (0.023); families up to 2.8× noisier than others.
REALISTIC = Law(E=0.5, A=30.0, alpha=0.4, B=3.0, beta=0.3,
                effect={"convnet": 0.0, "gru": 0.03, "mingru": -0.02, "mixer": 0.3, "mlp": 0.15, "transformer": 0.08},
                gamma=0.2, sigma=0.023, tau=0.044,
                noise_scale={"convnet": 1.3, "mingru": 1.4, "mixer": 0.7, "mlp": 0.5})
NULL = dataclasses.replace(REALISTIC, effect=dict.fromkeys(REALISTIC.effect, 0.0))
# The same families with the seed noise of the regenerated reference (3 seeds, protocol v3): each seed's own noise
# (sd 0.082) now larger than the init's (0.048).
REALISTIC_V3 = dataclasses.replace(REALISTIC, sigma=0.082, tau=0.048)


def records_of(law: Law, design: Design, rng: int) -> list[RunRecord]:
    return planted_records(law, sizes=design.sizes, data_sizes=design.data_sizes, seeds=design.seeds, rng=rng)


def true_means(law: Law, runs: DatasetRuns) -> np.ndarray:
    """The noise-free log loss of every observation."""
    d_min = min(runs.levels[2])
    per_run = np.array([law.log_loss(r.spec.arch, r.params, r.spec.data_size, d_min) for r in runs.records])
    return per_run[runs.run_n]


def true_shares(law: Law, runs: DatasetRuns) -> dict[str, float]:
    """Per term, and for seed noise: its share of the total variance, as the statistic defines it."""
    mu = true_means(law, runs)
    anova = Anova.of(runs.codes_nx3)
    ss, model, _ = anova.sums_of_squares(mu[None])
    scale = np.array([law.noise_scale.get(r.spec.arch, 1.0) for r in runs.records])[runs.run_n]
    noise = float(np.mean(scale**2 * (law.tau**2 + law.sigma**2)))
    total = float(model[0]) / mu.size + noise
    out = {term_name(t): float(ss[0, j]) / mu.size / total for j, t in enumerate(anova.terms)}
    return out | {"seed noise": noise / total}


def covered(truth: float, lo: float, hi: float) -> bool:
    return bool(lo - 1e-12 <= truth <= hi + 1e-12)


@one_blas_thread
def share_coverage(law: Law, design: Design, n_sims: int, n_boot: int = 200, rng: int = 0) -> dict[str, float]:
    """Share of simulations whose 95% interval covers the planted truth, per term and for seed noise."""
    hits: dict[str, int] = {}
    for i in range(n_sims):
        runs = DatasetRuns.of(records_of(law, design, rng + i), 0, np.random.default_rng(0), {})
        truth = true_shares(law, runs)
        v = shares_of(runs, ("coverage", rng + i), n_sim=n_boot)
        got = {s.term: s.share for s in v.shares} | {"seed noise": v.seed_share}
        for term, e in got.items():
            hits[term] = hits.get(term, 0) + covered(truth[term], e.lo, e.hi)
    return {term: h / n_sims for term, h in hits.items()}


@one_blas_thread
def contrast_coverage(law: Law, design: Design, n_sims: int, rng: int = 0) -> dict[str, float]:
    """Per pair, the share of simulations whose plain 95% interval covers the planted difference ("a−b"), and
    "all (Holm-step intervals)": the share in which every pair's adjusted interval covers at once."""
    hits: dict[str, int] = {}
    joint = 0
    for i in range(n_sims):
        runs = DatasetRuns.of(records_of(law, design, rng + i), 0, np.random.default_rng(0), {})
        mu = true_means(law, runs)
        mean_of = {a: mu[runs.codes_nx3[:, 0] == j].mean() for j, a in enumerate(runs.archs)}  # full grid
        all_in = True
        for c in pairwise_contrasts(runs).contrasts:
            truth = mean_of[c.higher] - mean_of[c.lower]
            key = "−".join(sorted((c.higher, c.lower)))
            hits[key] = hits.get(key, 0) + covered(truth, c.difference.lo, c.difference.hi)
            all_in &= covered(truth, c.adjusted.lo, c.adjusted.hi)
        joint += all_in
    return {k: h / n_sims for k, h in sorted(hits.items())} | {"all (Holm-step intervals)": joint / n_sims}


def jittered(records: list[RunRecord], sd: float, gen: np.random.Generator,
             worse: Mapping[str, float] | None = None) -> list[RunRecord]:
    """A rerun as the issue's check builds it: every seed's loss × exp(sd·z), one family's × a factor on top."""
    worse = worse or {}
    return [dataclasses.replace(r, seeds=[
        dataclasses.replace(s, test_loss=s.test_loss * float(np.exp(sd * gen.standard_normal()))
                            * worse.get(r.spec.arch, 1.0)) for s in r.seeds]) for r in records]


def pooled_seed_sd(records: list[RunRecord]) -> float:
    """The seed noise of log loss, pooled over every run (the within-run standard deviation)."""
    logs = [np.log([s.test_loss for s in r.seeds]) for r in records if len(r.seeds) > 1]
    return float(np.sqrt(sum(((x - x.mean()) ** 2).sum() for x in logs) / sum(x.size - 1 for x in logs)))


def compare_rates(law: Law, design: Design, n_sims: int, worse: str = "gru", rng: int = 0) -> dict[str, float]:
    """Share of simulated reruns (every seed jittered by the pooled seed noise) that `compare` calls a regression:
    unchanged ("false alarms"), and with `worse`'s losses × 1.1 ("caught")."""
    alarms = caught = 0
    for i in range(n_sims):
        records = records_of(law, design, rng + i)
        before = build_leaderboard(records)
        sd = pooled_seed_sd(records)
        gen = np.random.default_rng(10_000 + rng + i)
        alarms += compare([before], [build_leaderboard(jittered(records, sd, gen))]).regressed
        after = compare([before], [build_leaderboard(jittered(records, sd, gen, {worse: 1.1}))])
        caught += any(f.arch == worse and f.verdict == "regression" for f in after.families) or any(
            c.arch == worse and c.verdict == "regression" for c in after.changes)
    return {"false alarms": alarms / n_sims, "caught": caught / n_sims}


# ---------------------------------------------------------------------------- worlds fitted to the references

# The user-data contrast design: 2 datasets × 3 families × 3 data sizes × 3 seeds (one model size), out of quick's
# reference world. The variant permutes the input positions once: an MLP is invariant to it (no change), a
# ConvNet loses its locality and lands `flip` above the MLP (so the two swap places), the Transformer keeps its
# loss (attention without positions to lean on at this size: planted as no change).
CONTRAST_FAMILIES = ("convnet", "mlp", "transformer")
PERMUTED = DatasetContrast("base", "permuted", "input positions permuted")


def contrast_worlds(flip: float) -> tuple[World, World]:
    """(base, variant) at the contrast design, from the quick reference's world."""
    base = sub_world(reference_world("quick"), lambda r: r.spec.arch in CONTRAST_FAMILIES
                     and r.spec.target_params == 10_000 and r.spec.data_size >= 1_000)
    truth = {(r.spec.arch, r.spec.data_size): base.truth[r.run_id] for r in base.runs}
    to_mlp = lambda r: truth["mlp", r.spec.data_size] + flip - truth["convnet", r.spec.data_size]
    return base, base.with_truth(lambda r: to_mlp(r) if r.spec.arch == "convnet" else 0.0)


def contrast_rerun(base: World, variant: World, gen: np.random.Generator) -> ContrastEffect:
    """One rerun of both datasets (each its own seeds and rate choices), their contrast as the verdict has it."""
    a, b = base.draw(gen, dataset=PERMUTED.base), variant.draw(gen, dataset=PERMUTED.variant)
    run = run_level_of(a + b)
    effect = contrast_effect(PERMUTED, DatasetRuns.of(a, 0, 0, {}, dataset=PERMUTED.base, run=run),
                             DatasetRuns.of(b, 0, 0, {}, dataset=PERMUTED.variant, run=run))
    assert effect is not None
    return effect


def reversals(effect: ContrastEffect) -> list[str]:
    """The swaps of places the contrast section states."""
    pairs = zip(effect.gap_claims("base"), effect.gap_claims("variant"), strict=True)
    return [s for x, y in pairs if (s := reversal(x, y, effect.base, effect.variant))]


@one_blas_thread
def contrast_design_rates(flip: float, n_sims: int, rng: int = 0) -> dict[str, float]:
    """Over reruns of the contrast design: how often each family's change is said within noise, how often the
    change and gap-change intervals cover the planted truth, and how often the MLP–ConvNet swap is stated."""
    base, variant = contrast_worlds(flip)
    true_change = {a: np.mean([variant.truth[r.run_id] - base.truth[r.run_id] for r in base.runs if r.spec.arch == a])
                   for a in CONTRAST_FAMILIES}
    counts: dict[str, float] = {}
    add = lambda k, v: counts.__setitem__(k, counts.get(k, 0) + float(v))
    for i in range(n_sims):
        e = contrast_rerun(base, variant, np.random.default_rng(rng + i))
        for c in e.claims:
            if c.quantity == "change":
                add(f"{c.subject}: no change said", relation(c) == "within noise")
                add(f"{c.subject}: change covered", covered(pct(true_change[c.subject]), c.lo, c.hi))
            else:  # claims are shown as percent changes in loss
                truth = true_change[c.subject] - true_change[e.leader]
                add(f"{c.subject}: gap change covered", covered(pct(truth), c.lo, c.hi))
        add("mlp and convnet swap stated", any(s.startswith("mlp and convnet swap") for s in reversals(e)))
    return {k: v / n_sims for k, v in sorted(counts.items())}


@one_blas_thread
def world_contrast_coverage(world: World, n_sims: int, rng: int = 0) -> dict[str, float]:
    """Per pair, the share of reruns of `world` whose plain 95% interval covers the true mean difference over
    the cells both ran; "all (Holm-step intervals)" as in `contrast_coverage`."""
    hits: dict[str, int] = {}
    joint = 0
    for i in range(n_sims):
        records = world.draw(np.random.default_rng(rng + i))
        runs = DatasetRuns.of(usable(records)[0], 0, 0, {}, run=run_level_of(records))
        truth = {r.spec.arch: [] for r in world.runs}
        for r in world.runs:
            truth[r.spec.arch].append(world.truth[r.run_id])
        all_in = True
        for c in pairwise_contrasts(runs).contrasts:
            t = np.mean(truth[c.higher]) - np.mean(truth[c.lower])
            key = "−".join(sorted((c.higher, c.lower)))
            hits[key] = hits.get(key, 0) + covered(t, c.difference.lo, c.difference.hi)
            all_in &= covered(t, c.adjusted.lo, c.adjusted.hi)
        joint += all_in
    return {k: h / n_sims for k, h in sorted(hits.items())} | {"all (Holm-step intervals)": joint / n_sims}


@one_blas_thread
def world_compare_rates(world: World, n_sims: int, worse: float = 0.0, rng: int = 0,
                        archs: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """Reruns of `world` compared with another rerun, one family at a time made `worse` (× exp(worse) in loss):
    per family (of `archs`, by default all), how often compare calls it a regression, how often it calls any
    regression (false alarms where worse = 0: then one comparison serves every family), and its stated
    detectable change (the median over reruns, in log loss)."""
    archs = archs or tuple(sorted({r.spec.arch for r in world.runs}))
    counts = {a: {"regression": 0.0, "any regression": 0.0} for a in archs}
    sizes: dict[str, list[float]] = {a: [] for a in archs}
    for i in range(n_sims):
        for arch in archs if worse else (None,):
            moved = world.with_truth(lambda r, arch=arch: worse if r.spec.arch == arch else 0.0) if worse else world
            gen = np.random.default_rng(rng + i)
            before = build_leaderboard(world.draw(gen))
            after = compare([before], [build_leaderboard(moved.draw(gen))])
            for a in archs if arch is None else (arch,):
                fam = next(f for f in after.families if f.arch == a)
                counts[a]["regression"] += fam.verdict == "regression"
                counts[a]["any regression"] += after.regressed
                sizes[a].append(fam.detectable)
    return {a: {k: v / n_sims for k, v in c.items()} | {"detectable": float(np.median(sizes[a]))}
            for a, c in counts.items()}


def _verdict_trends(runs: DatasetRuns):
    """The verdict's gap trends of `runs`, its statistics run in their order (contrasts, ranking, gaps)."""
    earlier: dict = {"contrasts": pairwise_contrasts(runs)}
    earlier["ranking"] = arch_ranking(runs, earlier)
    earlier["gaps"] = gaps_by_data_size(runs, earlier)
    return gap_trend(runs, earlier)


def _dataset_runs(records: list[RunRecord]) -> DatasetRuns:
    return DatasetRuns.of(usable(records)[0], 0, 0, {}, run=run_level_of(records))


def bound_covered(c, true_log_k: float) -> bool:
    """A bound ("more than X×", "less than Y×") covers when the truth lies beyond it, on its side."""
    return bool(true_log_k >= np.log(c.bound) - 1e-12 if c.side == "above" else true_log_k <= np.log(c.bound) + 1e-12)


def crossing_world(world: World, family: str, leader: str, per_decade: float, zero_at: float | None = None) -> World:
    """`world` with `family`'s truth planted at `leader`'s plus a gap linear in log10 data, `per_decade` per tenfold
    data, that reaches zero at `zero_at` examples (by default the geometric middle of the data sizes: the two
    curves cross inside the measured range; past the largest data size: they would meet past it)."""
    sizes = [r.spec.data_size for r in world.runs]
    zero = zero_at if zero_at is not None else float(np.sqrt(min(sizes) * max(sizes)))
    lead = {(r.spec.dataset, r.spec.target_params, r.spec.data_size): world.truth[r.run_id]
            for r in world.runs if r.spec.arch == leader}
    gap = lambda r: per_decade * float(np.log10(r.spec.data_size / zero))
    planted = lambda r: lead[r.spec.dataset, r.spec.target_params, r.spec.data_size] + gap(r) - world.truth[r.run_id]
    return world.with_truth(lambda r: planted(r) if r.spec.arch == family else 0.0)


def _covers_open(x: float, lo: float, hi: float) -> bool:
    """Whether [lo, hi] holds x, an end that is NaN (Fieller's "no bound") holding everything on its side."""
    return covered(x, lo if np.isfinite(lo) else -np.inf, hi if not np.isnan(hi) else np.inf)


@one_blas_thread
def world_trend_coverage(world: World, noise_free: list[RunRecord], n_sims: int, rng: int = 0) -> dict[str, list]:
    """Over reruns of `world`, per gap-trend claim the verdict states: whether its interval (the Holm-step one
    the claim shows, a ratio per tenfold data) covers the truth's slope against the rerun's leader (the same
    statistic, `pair_trend`, on the noise-free runs), and per rerun whether every claim's does at once; per
    crossover claim, whether its interval holds the truth's crossover (where the true line reaches zero); per
    claim, whether a crossing is stated (`sign_change`) where the true gaps at the two ends lie on opposite sides
    of zero (power) and where they do not (a false statement), and per stated crossing whether the true gaps
    cross."""
    true_runs = _dataset_runs(noise_free)
    tally: dict[str, list] = {}
    add = lambda k, v: tally.setdefault(k, []).append(bool(v))
    for i in range(n_sims):
        t = _verdict_trends(_dataset_runs(world.draw(np.random.default_rng(rng + i))))
        every = []
        for c in t.claims:
            fit = pair_trend(true_runs, c.subject, c.reference)
            if fit is None:
                continue
            pd, k_slope, k_mean, xbar, x = fit
            slope, m = float(k_slope @ pd.diff_m), float(k_mean @ pd.diff_m)
            if c.quantity == "gap trend":
                every.append(covered(np.exp(slope), c.lo, c.hi))
                add("gap trend: every claim (Holm-step interval)", every[-1])
                add(f"gap trend at {c.subject} against {c.reference}", every[-1])
                ends = [float(pd.mean_weights(d) @ pd.diff_m) for d in (min(pd.data_sizes), max(pd.data_sizes))]
                crosses = ends[0] * ends[1] < 0
                add(f"gap crossing stated where the true gaps {'cross (power)' if crosses else 'do not cross'}",
                    c.sign_change)
                if c.sign_change:
                    add("gap crossing stated: the true gaps cross", crosses)
            elif c.quantity == "crossover":
                x_star = 10 ** (xbar - m / slope) if slope != 0 else np.inf
                add("crossover (extrapolated): its interval holds the true line's zero", _covers_open(x_star, c.lo, c.hi))
        if every:
            add("gap trend: all (Holm-step intervals)", all(every))
    return tally
