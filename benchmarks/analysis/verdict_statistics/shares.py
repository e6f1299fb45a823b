"""How much of the variance in log loss each factor explains beyond seed noise, within [0, 100]%.

An ANOVA on the log test loss of every seed (`benchmarks.analysis.anova`: Type II sums of squares,
each corrected by what seed noise puts in it, seed noise as a split plot per family). A share is the
variance a term carries among the noise-free means of these runs, out of the total variance of a
seed's log loss: it describes *these* families, sizes and data sizes, and changes with them (the
leading factor and the best family are computed again without each family in turn).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.anova import ShareModel
from benchmarks.analysis.claims import NAN, Claim, from_estimate
from benchmarks.analysis.stats import Estimate, keyed_rng, percentiles
from benchmarks.analysis.verdict_statistics import FACTORS, DatasetRuns, Table, register_statistic
from benchmarks.analysis.wording import number

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
    lead: tuple[str, str, Estimate] | None = None  # the two largest factors and the first's share minus the second's
    without: tuple[LeaveOneOut, ...] = ()  # the shares again without each family in turn (3+ families)
    seed_parts: tuple[float, float] | None = None  # (init, seed-own) variance, pooled over families
    claims: tuple[Claim, ...] = ()

    @property
    def leading(self) -> str:
        """The factor with the largest share ("" without shares)."""
        return self.lead[0] if self.lead is not None else ""

    def share(self, term: str) -> Estimate | None:
        return next((s.share for s in self.shares if s.term == term), None)

    def to_dict(self) -> dict:
        d = lambda e: e.to_dict() if e is not None else None
        out = {"shares": [s.to_dict() for s in self.shares], "interactions": d(self.interactions),
               "seed_share": d(self.seed_share), "confounded_share": d(self.confounded),
               "not_separable": list(self.aliased)}
        if self.lead is not None:
            out["lead"] = {"first": self.lead[0], "second": self.lead[1], "difference": self.lead[2].to_dict()}
        if self.without:
            out["without_each_family"] = [w.to_dict() for w in self.without]
        return out


@dataclass(frozen=True)
class LeaveOneOut:
    """The main factors' shares and the best family, recomputed without one family."""

    family: str
    shares: dict[str, float]  # main factor -> share (point estimates)
    leading: str  # the factor with the largest share without the family
    best: str  # the family with the lowest mean loss without it

    def to_dict(self) -> dict:
        return {"family": self.family, "shares": self.shares, "leading": self.leading, "best": self.best}


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
    main = sorted((j for j, t in enumerate(terms) if len(t) == 1), key=lambda j: -obs["terms"][0, j])
    lead = None
    if len(main) >= 2:
        j1, j2 = main[:2]
        value = float(obs["terms"][0, j1] - obs["terms"][0, j2])
        lead = (term_name(terms[j1]), term_name(terms[j2]),
                Estimate.recentred(value, rep["terms"][:, j1] - rep["terms"][:, j2]))
    return VarianceShares(shares=tuple(shares), interactions=interactions, seed_share=seed, confounded=confounded,
                          aliased=tuple(term_name(t) for t in model.anova.aliased), lead=lead, seed_parts=parts)


def best(runs: DatasetRuns) -> str:
    """The family with the lowest mean log loss over the cells every family ran (else over its own runs)."""
    common = runs.arch_means()
    if common is not None:
        archs, means, _ = common
        return archs[int(np.argmin(means[0]))]
    own = [runs.y_n[runs.codes_nx3[:, 0] == i].mean() for i in range(len(runs.archs))]
    return runs.archs[int(np.argmin(own))]


def leave_one_out(runs: DatasetRuns, key: object) -> tuple[LeaveOneOut, ...]:
    """The main shares and the best family without each family in turn (point estimates: what the headline's
    sensitivity to the family set needs)."""
    out = []
    for family in runs.archs:
        rest = runs.subset(lambda r, f=family: r.spec.arch != f)
        if rest is None or len(rest.archs) < 2:
            continue
        sub = shares_of(rest, (key, family), n_sim=20)
        main = {s.term: s.share.value for s in sub.shares if " × " not in s.term}
        if main:
            out.append(LeaveOneOut(family, main, max(main, key=main.get), best(rest)))
    return tuple(out)


def claims_of(v: VarianceShares, runs: DatasetRuns) -> tuple[Claim, ...]:
    """Each term's share (with its estimate before the cut at 0 and its df), the other parts of the variance, which
    factor leads, and each main factor's share without each family in turn (no interval: `at["without"]`)."""
    scope = f"{runs.dataset}, these {len(runs.archs)} families, sizes and data sizes"
    out = [Claim(statistic="shares", quantity="share", subject=s.term, estimate=s.share.value, lo=s.share.lo,
                 hi=s.share.hi, unit="share", null=None, scope=scope, at={"raw": s.raw, "df": s.df})
           for s in v.shares]
    for name, e in (("their interactions", v.interactions), ("several factors together", v.confounded),
                    ("seed noise", v.seed_share)):
        if e is not None:
            out.append(Claim(statistic="shares", quantity="share", subject=name, estimate=e.value, lo=e.lo, hi=e.hi,
                             unit="share", null=None, scope=scope))
    if v.lead is not None:
        first, second, e = v.lead
        out.append(from_estimate(e, shown=float, null=0.0, statistic="shares", quantity="share lead", subject=first,
                                 reference=second, unit="share", scope=scope))
    for w in v.without:
        out += [Claim(statistic="shares", quantity="share", subject=term, estimate=x, lo=NAN, hi=NAN, unit="share",
                      null=None, scope=f"{runs.dataset}, without {w.family}",
                      at={"without": w.family, "leads": w.leading, "best": w.best}) for term, x in w.shares.items()]
    return tuple(out)


def shares_table(claims: Sequence[Claim]) -> list[Table]:
    """The shares by term, the other parts of the variance, and the main factors' shares without each family."""
    shares = [c for c in claims if c.quantity == "share" and "without" not in c.at]
    if not shares:
        return []
    rows = [(c.subject, number(c), f"{100 * c.at['raw']:.3g}%" if "raw" in c.at else "—",
             f"{c.at['df']}" if "df" in c.at else "—") for c in shares]
    without: dict[str, list[Claim]] = {}
    for c in claims:
        if "without" in c.at:
            without.setdefault(c.at["without"], []).append(c)
    rows += [(f"without {f}: " + ", ".join(f"{c.subject} {number(c)}" for c in cs),
              f"leads: {cs[0].at['leads']}; best: {cs[0].at['best']}", "—", "—") for f, cs in without.items()]
    return [Table(f"Variance of log test loss, by factor ({shares[0].scope.split(',')[0]})",
                  ("term", "share beyond seed noise [95% CI], within 0–100%", "estimate before the cut at 0", "df"),
                  tuple(rows))]


@register_statistic("shares", order=10, table=shares_table)
def variance_shares(runs: DatasetRuns, earlier: Mapping) -> VarianceShares:
    key = tuple(r.run_id for r in runs.records)
    v = shares_of(runs, key)
    if len(runs.archs) > 2 and v.shares:
        v = VarianceShares(**{**v.__dict__, "without": leave_one_out(runs, key)})
    return VarianceShares(**{**v.__dict__, "claims": claims_of(v, runs)})
