"""How much of the variance in log loss each factor explains beyond seed noise, within [0, 100]%.

An ANOVA on the log test loss of every seed (`benchmarks.analysis.anova`: Type II sums of squares,
each corrected by what seed noise puts in it, seed noise as a split plot per family). A share is the
variance a term carries among the noise-free means of these runs, out of the total variance of a
seed's log loss: it describes *these* families, sizes and data sizes, and changes with them (the
architecture's share is given again without the weakest family to show by how much).

Intervals: a parametric bootstrap. Each replicate draws every seed again around the runs' means, with
the init and seed noise estimated for its family (`ShareModel.simulate`), and is analysed like the data.
The means are first shrunk term by term halfway towards the estimated shares (`ShareModel.world`: a
run's mean carries seed noise, which would put more into every term than the data show). A term's
interval is the replicates' central 95%, re-centred on the estimate; the seed noise's share gets the
pivotal interval of a variance (for the seed variance itself: estimate² over the replicates' upper
and lower ends), divided by the estimated total. Neither collapses with two or three seeds as
resampling the seeds does. `tests/test_verdict_coverage.py` checks, at the shipped suites' designs, that the intervals cover the
planted shares at their nominal rate. A share estimated below zero (the term explains less than seed
noise alone would put in it) is shown as 0 with its interval cut at 0; the truth is never below 0, so
the cut loses no coverage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.anova import ShareModel
from benchmarks.analysis.stats import Estimate, keyed_rng, percentiles
from benchmarks.analysis.verdict_statistics import FACTORS, DatasetRuns, register_statistic
from benchmarks.analysis.verdict_text import LEVEL_WORDS, fmt_share, join_words

N_SIM = 400  # parametric bootstrap replicates


def clipped(value: float, lo: float, hi: float) -> tuple[Estimate, float]:
    """(the estimate and its interval, each cut to [0, 1], the raw estimate)."""
    cut = lambda v: float(np.clip(v, 0.0, 1.0)) if np.isfinite(v) else float(v)
    return Estimate(cut(value), cut(lo), cut(hi)), float(value)


def central(samples: np.ndarray, value: float) -> tuple[float, float]:
    """The central LEVEL share of the finite samples, re-centred on `value` (NaN without any)."""
    e = Estimate.recentred(value, samples)
    return e.lo, e.hi


@dataclass(frozen=True)
class Share:
    """One term's share of the variance in log loss beyond seed noise, with its interval, within [0, 1]."""

    term: str
    share: Estimate
    raw: float  # the estimate before the cut at 0 (below 0: less than seed noise alone would give)
    df: int

    def to_dict(self) -> dict:
        return {"term": self.term, "share": self.share.to_dict(), "raw": self.raw, "df": self.df}


@dataclass(frozen=True)
class VarianceShares:
    shares: tuple[Share, ...]  # per estimable ANOVA term
    interactions: Estimate | None  # all interaction terms together
    seed_share: Estimate | None  # seed noise (inits and seeds) as a share of the total
    confounded: Estimate | None  # explained by several factors together, by none alone (designs not a full grid)
    aliased: tuple[str, ...] = ()  # terms the design cannot separate from the others: no share given
    without_weakest: tuple[str, Estimate] | None = None  # the architecture's share without the weakest family
    seed_parts: tuple[float, float] | None = None  # (init, seed-own) variance, pooled over families
    notes: tuple[str, ...] = ()

    def share(self, term: str) -> Estimate | None:
        return next((s.share for s in self.shares if s.term == term), None)

    def to_dict(self) -> dict:
        d = lambda e: e.to_dict() if e is not None else None
        out = {"shares": [s.to_dict() for s in self.shares], "interactions": d(self.interactions),
               "seed_share": d(self.seed_share), "confounded_share": d(self.confounded),
               "not_separable": list(self.aliased)}
        if self.without_weakest is not None:
            out["architecture_share_without"] = {"family": self.without_weakest[0],
                                                 "share": self.without_weakest[1].to_dict()}
        return out


def term_name(term: tuple[int, ...]) -> str:
    return " × ".join(FACTORS[i] for i in term)


def shares_of(runs: DatasetRuns, key: object, n_sim: int = N_SIM) -> VarianceShares:
    """The shares of one set of runs; `key` seeds the replicates (so they do not depend on anything else)."""
    model = ShareModel.of(runs.codes_nx3, runs.run_n, runs.codes_nx3[:, 0], runs.plot_n)
    if not model.anova.terms:  # one factor level each, or every factor aliased with another
        return VarianceShares(shares=(), interactions=None, seed_share=None, confounded=None,
                              aliased=tuple(term_name(t) for t in model.anova.aliased if len(t) == 1))
    obs = model.shares(runs.y_n[None])
    if runs.has_intervals:
        world = model.world(runs.means_1BxR[0][runs.run_n], runs.y_n)
        rep = model.shares(model.simulate(world, runs.plot_n, n_sim, keyed_rng("shares", key), runs.y_n))
    else:  # one seed per run: no noise estimate, no interval
        rep = {k: np.full((0, *v.shape[1:]), np.nan) for k, v in obs.items()}
    terms = model.anova.terms
    shares = []
    for j, t in enumerate(terms):
        value = obs["terms"][0, j]
        est, raw = clipped(value, *central(rep["terms"][:, j], value))
        shares.append(Share(term=term_name(t), share=est, raw=raw, df=model.anova.df[j]))
    inter = [j for j, t in enumerate(terms) if len(t) > 1]
    interactions = None
    if inter:
        value = obs["terms"][0, inter].sum()
        interactions = clipped(value, *central(rep["terms"][:, inter].sum(axis=1), value))[0]
    # seed noise: a variance, whose pivot is estimate / replicate (exact for a χ²), over the estimated total
    noise, noise_var = float(obs["noise"][0]), float(obs["noise_var"][0])
    samples = rep["noise_var"][np.isfinite(rep["noise_var"])]
    lo, hi = percentiles(samples) if samples.size else (np.nan, np.nan)
    per_total = noise / noise_var if noise_var > 0 else np.nan
    seed = clipped(noise, noise_var * noise_var / hi * per_total, noise_var * noise_var / lo * per_total)[0]
    confounded = None
    if model.anova.aliased:
        value = obs["confounded"][0]
        confounded = clipped(value, *central(rep["confounded"], value))[0]
    sizes = np.array([f.index.size for f in model.families])
    parts = (float(np.clip(obs["tau2"][0], 0, None) @ sizes / sizes.sum()),
             float(obs["sigma2"][0] @ sizes / sizes.sum()))
    return VarianceShares(shares=tuple(shares), interactions=interactions, seed_share=seed, confounded=confounded,
                          aliased=tuple(term_name(t) for t in model.anova.aliased), seed_parts=parts)


def weakest(runs: DatasetRuns) -> str:
    """The family with the highest mean log loss over the cells every family ran (else over its own runs)."""
    common = runs.arch_means()
    if common is not None:
        archs, means, _ = common
        return archs[int(np.argmax(means[0]))]
    own = [runs.y_n[runs.codes_nx3[:, 0] == i].mean() for i in range(len(runs.archs))]
    return runs.archs[int(np.argmax(own))]


def describe(v: VarianceShares, dataset) -> list[str]:
    if not v.shares:
        if not v.aliased:
            return []
        return [f"No share for {join_words(v.aliased)}: in this design each family ran at its own model sizes, so the "
                "variance cannot be split between them (the pairwise contrasts below compare the families at their "
                "own sizes)."]
    main = [f"{s.term} {fmt_share(s.share)}" for s in v.shares if " × " not in s.term]
    inter = f", their interactions {fmt_share(v.interactions)} together" if v.interactions else ""
    conf = (f", several factors together but none alone {fmt_share(v.confounded)}" if v.confounded is not None
            else "")
    if dataset.has_intervals:
        out = [f"Share of the variance in log test loss among these runs, beyond what seed noise alone would give "
               f"({LEVEL_WORDS} parametric-bootstrap intervals, within 0–100%): {', '.join(main)}{inter}{conf}; "
               f"seed noise itself {fmt_share(v.seed_share)}."]
    else:
        out = [f"Share of the variance in log test loss: {', '.join(main)}{inter}{conf}."]
    zero = [s.term for s in v.shares if s.raw < 0]
    if zero and dataset.has_intervals:
        out.append(f"{join_words(zero).capitalize()} {'is' if len(zero) == 1 else 'are'} estimated below zero (less "
                   "than seed noise alone would give) and shown as 0 with the interval's upper end.")
    if v.aliased:
        out.append(f"No share for {join_words(v.aliased)}: in this design {'it is' if len(v.aliased) == 1 else 'they are'}"
                   " not separable from the other factors (not every family ran at every model size and training-set "
                   "size), and the variance they explain together with them is counted as 'several factors together'.")
    if v.without_weakest is not None and dataset.has_intervals:
        family, share = v.without_weakest
        arch = v.share("architecture")
        out.append(f"A share describes these families only: without {family}, the weakest, the architecture's share is "
                   f"{fmt_share(share)}" + (f" (against {fmt_share(arch)} with it)." if arch is not None else "."))
    return out


@register_statistic("shares", order=10, describe=describe)
def variance_shares(runs: DatasetRuns, earlier: Mapping) -> VarianceShares:
    key = tuple(r.run_id for r in runs.records)
    v = shares_of(runs, key)
    notes = []
    if v.seed_parts is not None and runs.has_intervals and v.seed_parts[0] > v.seed_parts[1]:
        notes.append(f"most of the seed noise is the initialisation's (sd {np.sqrt(v.seed_parts[0]):.3f} in log loss, "
                     f"shared by every training-set size a family and size ran at, against {np.sqrt(v.seed_parts[1]):.3f} "
                     "of each seed's own): more seeds narrow the intervals, more training-set sizes do not")
    if len(runs.archs) > 2 and v.share("architecture") is not None:
        drop = weakest(runs)
        rest = runs.subset(lambda r: r.spec.arch != drop)
        if rest is not None:
            sub = shares_of(rest, (key, drop))
            arch = sub.share("architecture")
            if arch is not None:
                v = VarianceShares(**{**v.__dict__, "without_weakest": (drop, arch)})
    return VarianceShares(**{**v.__dict__, "notes": tuple(notes)})
