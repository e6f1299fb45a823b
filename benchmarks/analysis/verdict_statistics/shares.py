"""How much of the variance in log loss each factor explains, beyond what seed noise alone would give it.

An ANOVA on the log test loss of every seed, with architecture, model size and data
size as factors (Type II sums of squares, so missing runs are handled). A term's
share is (SS_term − df_term·MS_seed) / SS_total: eta² minus its expectation when
the term has no effect, so a factor with no effect has a share near zero and an
interval that covers zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.analysis.anova import Anova
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import FACTORS, DatasetRuns, register_statistic
from benchmarks.analysis.verdict_text import LEVEL_WORDS, fmt_share


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
class VarianceShares:
    shares: tuple[Share, ...]  # per ANOVA term
    interactions: Estimate | None  # all interaction terms together
    seed_share: float  # SS of seed noise / SS total
    notes: tuple[str, ...] = ()
    confounded: bool = False  # each architecture at its own model size: the two shares cannot be told apart

    def share(self, term: str) -> Estimate | None:
        return next((s.share for s in self.shares if s.term == term), None)

    def to_dict(self) -> dict:
        return {"shares": [s.to_dict() for s in self.shares],
                "interactions": self.interactions.to_dict() if self.interactions else None,
                "seed_share": self.seed_share, "confounded": self.confounded}


def describe(v: VarianceShares, dataset) -> list[str]:
    if not v.shares:
        return []
    main = [f"{s.term} {fmt_share(s.share)}" for s in v.shares if " × " not in s.term]
    inter = f", their interactions {fmt_share(v.interactions)} together" if v.interactions else ""
    if dataset.has_intervals:
        out = [f"Share of the variance in log test loss beyond what seed noise alone would give "
               f"({LEVEL_WORDS} bootstrap intervals): {', '.join(main)}{inter}; seed noise itself is "
               f"{100 * v.seed_share:.2g}% of the variance."]
    else:
        out = [f"Share of the variance in log test loss: {', '.join(main)}{inter}."]
    arch = v.share("architecture")
    if arch is None:
        out.append("With one architecture there is nothing to compare.")
    elif v.confounded:
        out.append("Each architecture was measured at its own model size, so the variance cannot be split "
                   "between architecture and size (both shares read zero): compare the runs' own figures instead.")
    elif not dataset.has_intervals:
        pass
    elif arch.lo > 0:
        out.append("The architecture has an effect beyond seed noise: its interval excludes zero.")
    else:
        out.append("These runs do not show an effect of the architecture beyond seed noise: "
                   "its interval includes zero.")
    return out


@register_statistic("shares", order=10, describe=describe)
def variance_shares(runs: DatasetRuns, earlier: Mapping) -> VarianceShares:
    anova = Anova.of(runs.codes_nx3)
    if not anova.terms:
        return VarianceShares(shares=(), interactions=None, seed_share=float("nan"))
    ex, eta2, seed = anova.excess_shares(runs.y_n[None])
    ex_b = anova.excess_shares(runs.y_Bxn)[0]
    names = [" × ".join(FACTORS[i] for i in t) for t in anova.terms]
    shares = tuple(Share(term=name, share=Estimate.recentred(ex[0, j], ex_b[:, j]), eta2=float(eta2[0, j]),
                         df=anova.df[j]) for j, name in enumerate(names))
    inter = [j for j, t in enumerate(anova.terms) if len(t) > 1]
    interactions = Estimate.recentred(ex[0, inter].sum(), ex_b[:, inter].sum(axis=1)) if inter else None
    pairs = {(a, n) for a, n, _ in runs.codes_nx3.tolist()}  # (architecture, model size) levels measured
    confounded = len(pairs) > 1 and len(pairs) == len({a for a, _ in pairs}) == len({n for _, n in pairs})
    return VarianceShares(shares=shares, interactions=interactions, seed_share=max(0.0, float(seed[0])),
                          confounded=confounded)
