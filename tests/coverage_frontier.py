"""Coverage of the compute frontiers' statements at the `frontier` suite's real design, in its reference's world.

The world is results/reference/frontier's (tests/reference_world.py): its 150 runs (6 families × 5 sizes × 5
training lengths × 3 seeds, online, each run's FLOPs and budget as it ran), a smooth truth through their mean log
losses, and each family's split-plot seed noise, t tails and learning-rate run effect fitted to the same runs.
Each rerun is fitted as `archbench report` fits it (`fits.fit_dataset`: every family's frontier the local line
through the envelope of its runs, the envelope redrawn per replicate by `compute_optimal.envelope`), and the
statements the verdict prints (`frontiers.frontier_claims`, and the leader `verdict_words._frontier_lead` names)
are checked against the truth: the same statistic on the noise-free runs (every seed at its run's truth), read
for the pair of families and at the compute the rerun's claim names.

Counted per claim: whether the interval of a frontier gap (at the low and the high end of the compute both
families measured), of its trend per decade and of a compute factor holds the truth (measured and extrapolated
apart, as the claims label them); whether a stated crossing crosses in the truth (and how often one is stated
where the true gaps do not cross); whether a trend said beyond noise has the truth's sign; and whether the
leader named is the truth's (alone, not stated so, and among those it is said not to be separated from). The
intervals also per place: per family (its statements against whichever leader the rerun names), and per pair of
the family and the rerun's leader (coverage given that leader).

scripts/coverage.py (part `frontier`) runs this and writes the rows of docs/coverage.md; tests/test_coverage.py
runs a few reruns.
"""

from __future__ import annotations

import numpy as np
from coverage_sim import covered
from reference_world import World

from benchmarks.analysis import fits
from benchmarks.analysis.claims import pct
from benchmarks.analysis.compute_optimal import LN10, LOG_CAP, ComputeFrontiers
from benchmarks.analysis.seed_noise import one_blas_thread
from benchmarks.analysis.verdict_statistics.frontiers import frontier_claims
from benchmarks.analysis.wording import relation
from benchmarks.spec import RunRecord


def true_gap(true: ComputeFrontiers, other: str, leader: str, compute: float) -> float:
    """`other`'s true frontier above `leader`'s at `compute`, in log loss."""
    at = np.log([compute])
    return float(true.families[other].log_loss_RxK(at)[0, 0] - true.families[leader].log_loss_RxK(at)[0, 0])


def true_log_factor(true: ComputeFrontiers, weaker: str, stronger: str, compute: float) -> float:
    """The log of the compute `weaker`'s true frontier needs to reach `stronger`'s at `compute` (LOG_CAP: never)."""
    target = true.families[stronger].log_loss_RxK(np.log([compute]))[:1]
    return float(min(true.families[weaker].log_c_for_RxK(target)[0, 0] - np.log(compute), LOG_CAP))


def frontier_tally(est: ComputeFrontiers, true: ComputeFrontiers, tally: dict, dataset: str = "mnist1d") -> None:
    """Add to `tally` what the frontier claims of `est` (one rerun) say right of `true` (the noise-free runs')."""
    add = lambda k, v: tally.setdefault(k, []).append(bool(v))

    def places(what: str, other: str, leader: str, hit: bool) -> None:  # a place per family, and per pair
        add((what, "family", other), hit)
        add((what, "pair with the rerun's leader", f"{other} against {leader}"), hit)

    add("frontier leader named the truth's (not stated alone)", est.leader == true.leader)
    add("frontier leader: the truth's among those not separated from it", true.leader in (est.leader, *est.tied))
    same_kind = lambda *archs: all(est.families[a].status == true.families[a].status for a in archs)
    for a in est.families:
        add("frontier of a family read as the truth's kind (local line or law; not stated)", same_kind(a))
    claims = frontier_claims(est, dataset)
    for g in est.convergence:
        if not same_kind(g.other, g.leader):
            continue
        mine = [c for c in claims if c.subject == g.other and c.reference == g.leader]
        ends = [true_gap(true, g.other, g.leader, c) for c in g.compute]
        for c, end, t in zip((c for c in mine if c.quantity == "frontier gap"), ("low", "high"), ends, strict=True):
            hit = covered(pct(t), c.lo, c.hi)
            add(f"frontier gap at the {end} end of the compute / {c.kind}", hit)
            places(f"frontier gap at the {end} end at", g.other, g.leader, hit)
        trend = next(c for c in mine if c.quantity == "frontier gap trend")
        t = (ends[1] - ends[0]) / (np.log(g.compute[1] / g.compute[0]) / LN10)
        hit = covered(pct(t), trend.lo, trend.hi)
        add(f"frontier gap trend per decade / {trend.kind}", hit)
        places("frontier gap trend at", g.other, g.leader, hit)
        crosses = ends[0] * ends[1] < 0
        add(f"frontier crossing stated where the true gaps {'cross (power)' if crosses else 'do not cross'}",
            trend.sign_change)
        if trend.sign_change:
            add("frontier crossing stated: the true gaps cross", crosses)
        if relation(trend) in ("above", "below", "crosses"):  # converging, diverging or crossing
            add("frontier gap trend stated beyond noise on the wrong side of 0", (t > 0) != (trend.lo > 0))
    for m in (m for m in est.multipliers if m.stronger == est.leader and same_kind(m.weaker, m.stronger)):
        c = next(c for c in claims if c.quantity == "factor" and c.subject == m.weaker)
        t = true_log_factor(true, m.weaker, m.stronger, m.compute)
        add(f"frontier compute factor / {c.kind}", covered(float(np.exp(t)), c.lo, c.hi))
        places("frontier compute factor at", m.weaker, m.stronger, covered(float(np.exp(t)), c.lo, c.hi))
    for c in (c for c in claims if c.quantity == "optimal size exponent"):
        t = true.families[c.subject].estimates.get("a") if same_kind(c.subject) else None
        if t is not None:
            add("frontier optimal size exponent a", covered(t.value, c.lo, c.hi))


@one_blas_thread
def frontier_rates(world: World, noise_free: list[RunRecord], n_sims: int, n_boot: int = fits.N_BOOT,
                   rng: int = 0) -> dict[str, list]:
    """`frontier_tally` over `n_sims` reruns of `world`, each fitted with `n_boot` replicates per curve, against the
    frontiers of `noise_free` (the world's runs with every seed at its truth)."""
    true = fits.fit_dataset(noise_free, n_boot=8).frontiers
    tally: dict = {}
    for i in range(n_sims):
        est = fits.fit_dataset(world.draw(np.random.default_rng(rng + i)), n_boot=n_boot).frontiers
        frontier_tally(est, true, tally)
    return tally
