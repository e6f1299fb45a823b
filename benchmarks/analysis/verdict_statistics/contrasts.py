"""Which families differ beyond seed noise, and by how much: every pair, paired by seed and cell, Holm-adjusted.

For two families, each seed's log loss of one minus the same seed's of the other in the same cell
(model size × data size), over the cells both ran: pairing takes out whatever a seed shares between
families (its minibatch order). The contrast is the mean of those differences over the cells, with the
noise of the differences themselves as `benchmarks.analysis.seed_noise` models it (an init shared
across data sizes, seed noise estimated from this pair alone, so a noisy family does not borrow a quiet
one's; and each cell's run effects, the learning rates the two families chose, at the suite's κ).
Families that never ran in the same cell (different model sizes, as the MNIST-1D paper
compares an MLP with others) are compared at the data sizes both ran, each at its own sizes: the
contrast says so (`matched = "data size"`).

The pairs are one family of tests: a pair is *separated* (differs beyond seed noise) when Holm's
step-down procedure rejects it at 1 − LEVEL. Each contrast carries its own 95% interval
(`difference`, the one shown and the one whose coverage `tests/test_verdict_coverage.py` checks) and
the interval at the level of the Holm step that decided it (`adjusted`, in fits.json), which excludes
zero exactly when the pair is separated. A pair's claim carries the adjusted interval alone, so its
words ("above", "within noise") and its one interval always agree with the Holm decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.seed_noise import RunLevel, SplitPlotNoise, holm, holm_levels, t_estimate, t_p
from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, Table, register_statistic
from benchmarks.analysis.wording import number, relation

ALPHA = 1 - LEVEL


@dataclass(frozen=True)
class PairedDifferences:
    """Seed-by-seed differences in log loss, family `a` minus family `b`, in the cells both ran."""

    a: str
    b: str
    matched: str  # "cell": same model size and data size; "data size": each family at its own model sizes
    diff_m: np.ndarray  # one per (cell, seed) both have
    cell_m: list[tuple]  # (model size, data size) or (data size,)
    data_m: np.ndarray  # data size of each difference
    noise: SplitPlotNoise

    @classmethod
    def of(cls, runs: DatasetRuns, a: str, b: str) -> PairedDifferences | None:
        """None where the two families share no data size (nothing to pair)."""
        ia, ib = runs.archs.index(a), runs.archs.index(b)
        sizes, data = runs.levels[1], runs.levels[2]
        y: dict[tuple, float] = {}
        for (f, n, d), s, v in zip(runs.codes_nx3, runs.seed_n, runs.y_n, strict=True):
            y[(int(f), sizes[n], data[d], int(s))] = float(v)
        mine = lambda f: {k[1:] for k in y if k[0] == f}
        common = sorted(mine(ia) & mine(ib))  # (size, data size, seed) both ran
        if common:
            diff = [y[(ia, *k)] - y[(ib, *k)] for k in common]
            return cls._of(a, b, "cell", diff, [k[:2] for k in common], [k[1] for k in common],
                           [(k[0], k[2]) for k in common], runs.run)
        # never in the same cell: at each data size and seed, each family's mean over its own model sizes
        at = lambda f: {(k[1], k[2]): [v for kk, v in y.items() if kk[0] == f and kk[2:] == k[1:]] for k in mine(f)}
        ya, yb = at(ia), at(ib)
        shared = sorted(set(ya) & set(yb))
        if not shared:
            return None
        diff = [np.mean(ya[k]) - np.mean(yb[k]) for k in shared]
        return cls._of(a, b, "data size", diff, [(k[0],) for k in shared], [k[0] for k in shared],
                       [(k[1],) for k in shared], runs.run)

    @classmethod
    def _of(cls, a, b, matched, diff, cells, data, plots, run: RunLevel) -> PairedDifferences:
        """The two families' run effects in a cell are independent (each tuned its own rate): the difference's
        run effect has variance κ·(s_a² + s_b²), which κ times the differences' seed variance stands for."""
        diff_m = np.asarray(diff, dtype=float)
        noise = SplitPlotNoise.of(diff_m, cells, plots).with_runs(run)
        return cls(a, b, matched, diff_m, cells, np.asarray(data), noise)

    @property
    def data_sizes(self) -> list[int]:
        return sorted({int(d) for d in self.data_m})

    def weights(self, cell_weight: Mapping[tuple, float]) -> np.ndarray:
        """k_i of the combination that weights each cell's mean difference by cell_weight[cell]."""
        counts: dict[tuple, int] = {}
        for c in self.cell_m:
            counts[c] = counts.get(c, 0) + 1
        return np.array([cell_weight.get(c, 0.0) / counts[c] for c in self.cell_m])

    def mean_weights(self, data_size: int | None = None) -> np.ndarray:
        """The mean over cells (at one data size, or all) of the cell's mean difference."""
        cells = sorted({c for c, d in zip(self.cell_m, self.data_m, strict=True) if data_size in (None, d)})
        return self.weights({c: 1 / len(cells) for c in cells})

    def estimate(self, k_m: np.ndarray, level: float = LEVEL) -> tuple[Estimate, float]:
        """Σ k·diff with its interval at `level`, and its two-sided p-value against zero."""
        value = float(k_m @ self.diff_m)
        var, df = self.noise.variance(k_m)
        return t_estimate(value, var, df, level), t_p(value, var, df)


@dataclass(frozen=True)
class Contrast:
    """The mean log-loss difference of two families, `higher` minus `lower` (≥ 0), over the cells both ran."""

    higher: str
    lower: str
    difference: Estimate  # LEVEL interval of its own
    adjusted: Estimate  # interval at the level of the Holm step that decided it: excludes 0 iff separated
    p: float
    p_holm: float
    cells: int  # cells (or data sizes, when matched by data size) it averages over
    matched: str  # "cell" or "data size"

    @property
    def separated(self) -> bool:
        return bool(self.p_holm < ALPHA)

    def to_dict(self) -> dict:
        return {"higher": self.higher, "lower": self.lower, "log_loss_difference": self.difference.to_dict(),
                "adjusted": self.adjusted.to_dict(), "p": self.p, "p_holm": self.p_holm, "separated": self.separated,
                "cells": self.cells, "matched": self.matched}


@dataclass(frozen=True)
class PairwiseContrasts:
    contrasts: tuple[Contrast, ...]  # largest difference first
    not_comparable: tuple[tuple[str, str], ...] = ()  # pairs that share no data size
    claims: tuple[Claim, ...] = ()

    def between(self, a: str, b: str) -> Contrast | None:
        return next((c for c in self.contrasts if {c.higher, c.lower} == {a, b}), None)

    @property
    def separated(self) -> tuple[Contrast, ...]:
        return tuple(c for c in self.contrasts if c.separated)

    def decisions(self) -> dict[frozenset, int]:
        """Per pair: +1/−1 when separated (the sign says which is higher, by name order), 0 when not."""
        out = {}
        for c in self.contrasts:
            sign = 1 if c.higher < c.lower else -1
            out[frozenset((c.higher, c.lower))] = sign if c.separated else 0
        return out

    def to_dict(self) -> dict:
        return {"contrasts": [c.to_dict() for c in self.contrasts],
                "contrasts_not_comparable": [list(p) for p in self.not_comparable]}


def pairwise_contrasts(runs: DatasetRuns) -> PairwiseContrasts:
    """Every pair of families, Holm-adjusted together."""
    raw = []
    missing = []
    for i, a in enumerate(runs.archs):
        for b in runs.archs[i + 1:]:
            pd = PairedDifferences.of(runs, a, b)
            if pd is None:
                missing.append((a, b))
                continue
            k = pd.mean_weights()
            est, p = pd.estimate(k)
            raw.append((pd, k, est, p))
    p_holm = holm([p for *_, p in raw])
    levels = holm_levels([p for *_, p in raw])
    out = []
    for (pd, k, est, p), ph, level in zip(raw, p_holm, levels, strict=True):
        adj, _ = pd.estimate(k, level)
        flip = est.value < 0
        neg = lambda e, flip=flip: Estimate(-e.value, -e.hi, -e.lo) if flip else e
        higher, lower = (pd.b, pd.a) if flip else (pd.a, pd.b)
        out.append(Contrast(higher=higher, lower=lower, difference=neg(est), adjusted=neg(adj), p=p,
                            p_holm=float(ph), cells=len(set(pd.cell_m)), matched=pd.matched))
    out.sort(key=lambda c: (-c.difference.value, c.higher, c.lower))
    return PairwiseContrasts(contrasts=tuple(out), not_comparable=tuple(missing),
                             claims=tuple(pair_claim(c, runs.dataset, len(out)) for c in out))


def pair_claim(c: Contrast, dataset: str, m: int) -> Claim:
    """A pair's claim: its loss above the other's with the interval of the Holm step that decided it."""
    unit = "cell" if c.matched == "cell" else "data size"
    where = (f"{dataset}, the one {unit} both ran" if c.cells == 1 else
             f"{dataset}, mean over the {c.cells} {unit}s both ran")
    return from_estimate(c.adjusted, shown=pct, null=0.0, statistic="contrasts", quantity="pair", subject=c.higher,
                         reference=c.lower, unit="percent", scope=where,
                         level=f"Holm over {m} pairs" if m > 1 else "",
                         at={"matched": c.matched, "cells": c.cells, "p_holm": c.p_holm})


def pairs_table(claims: Sequence[Claim]) -> list[Table]:
    """Every pair: its loss above the other's with the interval of the Holm step that decided it (its claim's)."""
    pairs = [c for c in claims if c.quantity == "pair"]
    if not pairs:
        return []
    rows = tuple((c.subject, c.reference, number(c), f"{c.at['p_holm']:.2g}",
                  "yes" if relation(c) in ("above", "below") else "no", f"{c.at['cells']}", c.at["matched"])
                 for c in pairs)
    return [Table("Family against family (paired by seed and cell, Holm-adjusted)",
                  ("higher loss", "lower loss", "loss above [Holm-adjusted 95% CI]", "Holm p", "separated", "cells",
                   "matched by"), rows)]


@register_statistic("contrasts", order=15, table=pairs_table)
def contrasts(runs: DatasetRuns, earlier: Mapping) -> PairwiseContrasts:
    if len(runs.archs) < 2:
        return PairwiseContrasts(contrasts=())
    return pairwise_contrasts(runs)
