"""Declared contrasts between datasets: what a variant of the data does to each family.

A suite names pairs of its datasets (`[[contrasts]] base = ..., variant = ..., label = ...`,
`benchmarks.running.suite`): MNIST-1D against the same signals with their positions shuffled,
or your data against a corrupted copy. For each pair and each family this measures, over the
cells (model size × data size) the family has run on both datasets:

- `change`: the mean difference in log held-out loss, variant − base (log(1 + x) for a
  relative change x): how much the variant costs (or helps) that family;
- `gaps`: over the cells every family has run on both, each family's log loss above the
  base's best family (the leader), on the base, on the variant, and how that gap changes:
  whether the variant closes or widens the distance between families.

Intervals come from the verdict's seed bootstrap (`DatasetRuns`), drawn once per seed
group for both datasets, so a seed's luck pairs up across base and variant.

Numbers and their claims (`claims`); `benchmarks.analysis.verdict_words` says them in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns
from benchmarks.spec import DatasetContrast


@dataclass(frozen=True)
class GapChange:
    """One family's log loss above the base's leader, on the base and on the variant, and the change."""

    base: Estimate
    variant: Estimate
    change: Estimate  # variant − base: > 0, the family falls further behind on the variant

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "variant": self.variant.to_dict(), "change": self.change.to_dict()}


@dataclass(frozen=True)
class ContrastEffect:
    """What the variant of a declared contrast does to each family (log loss, with intervals)."""

    contrast: DatasetContrast
    change: dict[str, Estimate]  # arch -> mean log loss(variant) − log loss(base) over its matched cells
    cells: dict[str, int]  # arch -> how many (size, data size) cells that mean is over
    leader: str  # the family with the lowest loss on the base over the shared cells ("" if fewer than 2)
    gaps: dict[str, GapChange]  # arch -> its gap to the leader (the leader included: zero), over the shared cells
    shared_cells: int  # cells every family has run on both datasets

    @property
    def base(self) -> str:
        return self.contrast.base

    @property
    def variant(self) -> str:
        return self.contrast.variant

    @property
    def has_intervals(self) -> bool:
        return all(np.isfinite(e.lo) for e in self.change.values())

    @property
    def claims(self) -> tuple[Claim, ...]:
        """Each family's loss change (variant against base), then each family's gap change to the leader."""
        scope = f"{self.variant} against {self.base}"
        out = [from_estimate(e, shown=pct, null=0.0, statistic="dataset contrast", quantity="change", subject=a,
                             unit="percent", scope=f"{scope}, mean over {self.cells[a]} sizes on both")
               for a, e in sorted(self.change.items(), key=lambda t: -t[1].value)]
        out += [from_estimate(g.change, shown=pct, null=0.0, statistic="dataset contrast", quantity="gap change",
                              subject=a, reference=self.leader, unit="percent",
                              scope=f"{scope}, over the {self.shared_cells} sizes every family ran on both")
                for a, g in self.gaps.items() if a != self.leader]
        return tuple(out)

    def to_dict(self) -> dict:
        return {
            "base": self.base, "variant": self.variant, "label": self.contrast.label,
            "change": {a: e.to_dict() | {"cells": self.cells[a]} for a, e in self.change.items()},
            "leader": self.leader, "shared_cells": self.shared_cells,
            "gaps": {a: g.to_dict() for a, g in self.gaps.items()},
        }


def _cells(runs: DatasetRuns) -> dict[tuple, int]:
    return {runs.cell(r): i for i, r in enumerate(runs.records)}


def _recentred(d_1B: np.ndarray) -> Estimate:
    return Estimate.recentred(d_1B[0], d_1B[1:])


def contrast_effect(contrast: DatasetContrast, base: DatasetRuns, variant: DatasetRuns) -> ContrastEffect | None:
    """Each family's loss change from base to variant and the change of its gap to the leader; None where
    no family has a cell on both."""
    at_base, at_variant = _cells(base), _cells(variant)
    both = sorted(set(at_base) & set(at_variant))
    change, cells = {}, {}
    for arch in sorted({c[0] for c in both}):
        mine = [c for c in both if c[0] == arch]
        d = (variant.means_1BxR[:, [at_variant[c] for c in mine]]
             - base.means_1BxR[:, [at_base[c] for c in mine]]).mean(axis=1)
        change[arch], cells[arch] = _recentred(d), len(mine)
    if not change:
        return None
    archs = sorted(change)
    by_size: dict[tuple, set[str]] = {}
    for arch, n, d in both:
        by_size.setdefault((n, d), set()).add(arch)
    shared = sorted(size for size, present in by_size.items() if len(present) == len(archs))
    leader, gaps = "", {}
    if len(archs) > 1 and shared:
        def means(runs: DatasetRuns, index: dict[tuple, int]) -> np.ndarray:  # (1 + B, archs)
            return np.stack([runs.means_1BxR[:, [index[(a, *s)] for s in shared]].mean(axis=1) for a in archs], axis=1)

        m_base, m_variant = means(base, at_base), means(variant, at_variant)
        j = int(np.argmin(m_base[0]))
        leader = archs[j]
        gap_base, gap_variant = m_base - m_base[:, [j]], m_variant - m_variant[:, [j]]
        gaps = {a: GapChange(_recentred(gap_base[:, i]), _recentred(gap_variant[:, i]),
                             _recentred(gap_variant[:, i] - gap_base[:, i])) for i, a in enumerate(archs)}
    return ContrastEffect(contrast, change, cells, leader, gaps, len(shared))
