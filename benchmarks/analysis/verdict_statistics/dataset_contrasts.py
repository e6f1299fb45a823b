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

Intervals are Student t with the verdict's one noise model (`benchmarks.analysis.seed_noise`): on
each dataset, a family's split-plot seed noise and each run's effect (the learning rate its search
chose) at the suite's κ; a gap's noise is its pair's, paired by seed (`contrasts.PairedDifferences`).
The two datasets tuned and trained apart, so their noise adds. A family whose gap to the leader is
beyond noise on both datasets with opposite signs has swapped places with it (`reversed`).

Registered as the suite statistic `dataset_contrasts` (`over="suite"`): its claims are the numbers,
`benchmarks.analysis.verdict_words` says them in words and `contrast_tables` draws them, from the claims
alone. The quality levels of a dataset are contrasts of its clean level too, and the `quality`
statistic computes them with `contrast_effect`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.seed_noise import SplitPlotNoise, t_estimate
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, SuiteRuns, Table, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairedDifferences
from benchmarks.analysis.wording import number
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
                             unit="percent", scope=f"{scope}, mean over {self.cells[a]} sizes on both",
                             at={"cells": self.cells[a], "contrast": self.name})
               for a, e in sorted(self.change.items(), key=lambda t: -t[1].value)]
        out += [from_estimate(g.change, shown=pct, null=0.0, statistic="dataset contrast", quantity="gap change",
                              subject=a, reference=self.leader, unit="percent",
                              scope=f"{scope}, over the {self.shared_cells} sizes every family ran on both",
                              at={"contrast": self.name, "base_gap": pct(g.base.value), "variant_gap": pct(g.variant.value)})
                for a, g in self.gaps.items() if a != self.leader]
        return tuple(out)

    @property
    def name(self) -> str:
        """The contrast's name in its claims' `at`, so its table finds its claims among the others'."""
        return f"{self.variant} against {self.base}" + (f" ({self.contrast.label})" if self.contrast.label else "")

    def gap_claims(self, on: str) -> tuple[Claim, ...]:
        """Each family's gap to the leader on the base (`on` "base") or the variant, over the shared sizes; for
        `reversed` (not said apart: on the base they are its pairs' contrasts over these sizes)."""
        dataset = self.base if on == "base" else self.variant
        return tuple(from_estimate(getattr(g, on), shown=pct, null=0.0, statistic="dataset contrast", quantity="gap",
                                   subject=a, reference=self.leader, unit="percent",
                                   scope=f"{dataset}, over the {self.shared_cells} sizes every family ran on both",
                                   at={"on": on})
                     for a, g in self.gaps.items() if a != self.leader)

    def to_dict(self) -> dict:
        return {
            "base": self.base, "variant": self.variant, "label": self.contrast.label,
            "change": {a: e.to_dict() | {"cells": self.cells[a]} for a, e in self.change.items()},
            "leader": self.leader, "shared_cells": self.shared_cells,
            "gaps": {a: g.to_dict() for a, g in self.gaps.items()},
        }


def _cells(runs: DatasetRuns) -> dict[tuple, int]:
    return {runs.cell(r): i for i, r in enumerate(runs.records)}


def mean_of_runs(runs: DatasetRuns, weight_R: dict[int, float]) -> tuple[float, float, float]:
    """Σ w·(run mean) over runs of one dataset: its value, variance and degrees of freedom, each family's noise
    its own (split-plot seed noise and the runs' effects, `seed_noise`), the families' independent."""
    value = sum(w * float(runs.means_1BxR[0, j]) for j, w in weight_R.items())
    var, terms = 0.0, 0.0
    plots = runs.plot_n
    for f in sorted({int(runs.codes_nx3[runs.run_n == j][0, 0]) for j in weight_R}):
        obs = np.flatnonzero(runs.codes_nx3[:, 0] == f)
        m = np.bincount(runs.run_n[obs], minlength=len(runs.records))
        k = np.array([weight_R.get(int(j), 0.0) / m[j] for j in runs.run_n[obs]])
        noise = SplitPlotNoise.of(runs.y_n[obs], list(runs.run_n[obs]), [plots[i] for i in obs]).with_runs(runs.run)
        v, df = noise.variance(k)
        if not np.isfinite(v):  # one seed per run: no noise estimate
            return value, float("nan"), 0.0
        var += v
        terms += v * v / df if df > 0 else 0.0
    return value, var, (var * var / terms if terms > 0 else np.inf)


def _pair_gap(runs: DatasetRuns, arch: str, leader: str, shared: list[tuple]) -> tuple[float, float, float]:
    """arch's mean log loss above the leader's over the shared (size, data size) cells, paired by seed: value,
    variance, df (`contrasts.PairedDifferences`, whose noise the dataset's pair contrast has)."""
    if arch == leader:
        return 0.0, 0.0, np.inf
    pd = PairedDifferences.of(runs, arch, leader)
    k = pd.weights({c: 1 / len(shared) for c in shared}) if pd is not None else np.zeros(0)
    if pd is None or not np.isclose(k.sum(), 1.0):  # some shared cell without a seed both ran
        at = _cells(runs)
        return mean_of_runs(runs, {at[(arch, *c)]: 1 / len(shared) for c in shared}
                            | {at[(leader, *c)]: -1 / len(shared) for c in shared})
    var, df = pd.noise.variance(k)
    return float(k @ pd.diff_m), var, df


def _difference(x: tuple[float, float, float], y: tuple[float, float, float]) -> Estimate:
    """x − y of two independent estimates (value, variance, df), with its Welch–Satterthwaite t interval."""
    var = x[1] + y[1]
    terms = sum(v * v / df for _, v, df in (x, y) if df > 0 and v > 0)
    return t_estimate(x[0] - y[0], var, var * var / terms if terms > 0 else np.inf)


def contrast_effect(contrast: DatasetContrast, base: DatasetRuns, variant: DatasetRuns) -> ContrastEffect | None:
    """Each family's loss change from base to variant and the change of its gap to the leader; None where
    no family has a cell on both."""
    at_base, at_variant = _cells(base), _cells(variant)
    both = sorted(set(at_base) & set(at_variant))
    change, cells = {}, {}
    for arch in sorted({c[0] for c in both}):
        mine = [c for c in both if c[0] == arch]
        on_variant = mean_of_runs(variant, {at_variant[c]: 1 / len(mine) for c in mine})
        on_base = mean_of_runs(base, {at_base[c]: 1 / len(mine) for c in mine})
        change[arch], cells[arch] = _difference(on_variant, on_base), len(mine)
    if not change:
        return None
    archs = sorted(change)
    by_size: dict[tuple, set[str]] = {}
    for arch, n, d in both:
        by_size.setdefault((n, d), set()).add(arch)
    shared = sorted(size for size, present in by_size.items() if len(present) == len(archs))
    leader, gaps = "", {}
    if len(archs) > 1 and shared:
        mean_base = {a: np.mean([base.means_1BxR[0, at_base[(a, *s)]] for s in shared]) for a in archs}
        leader = min(archs, key=lambda a: (mean_base[a], a))
        for a in archs:
            on_base, on_variant = _pair_gap(base, a, leader, shared), _pair_gap(variant, a, leader, shared)
            zero = (0.0, 0.0, np.inf)
            gaps[a] = GapChange(_difference(on_base, zero), _difference(on_variant, zero),
                                _difference(on_variant, on_base))
    return ContrastEffect(contrast, change, cells, leader, gaps, len(shared))


@dataclass(frozen=True)
class DatasetContrasts:
    """Every declared contrast whose two datasets both have usable runs."""

    effects: tuple[ContrastEffect, ...]

    @property
    def claims(self) -> tuple[Claim, ...]:
        return tuple(c for e in self.effects for c in e.claims)

    def to_dict(self) -> dict:
        return {"contrasts": [e.to_dict() | {"claims": [c.to_dict() for c in e.claims]} for e in self.effects]}


def contrast_tables(claims: Sequence[Claim]) -> list[Table]:
    """Per contrast, from its claims: each family's loss change, and its gap to the base's leader on both datasets
    (the points; the gap's interval is its pair contrast's, said once) and how that gap changes."""
    out = []
    for name in dict.fromkeys(c.at["contrast"] for c in claims):
        mine = [c for c in claims if c.at["contrast"] == name]
        changes = [c for c in mine if c.quantity == "change"]
        gaps = [c for c in mine if c.quantity == "gap change"]
        out.append(Table(f"Contrast: {name}", ("family", "sizes on both", "loss change, variant against base"),
                         tuple((c.subject, f"{c.at['cells']}", number(c)) for c in changes),
                         "Per family: the mean over the sizes it ran on both datasets of the change in log held-out "
                         "loss, as a change in loss (95% intervals)."))
        if gaps:
            point = lambda v: f"{v:.3g}%"
            out.append(Table(f"Gaps to {gaps[0].reference}, the best on the base ({name})",
                             ("family", "above it on the base", "above it on the variant", "change of the gap"),
                             tuple((c.subject, point(c.at["base_gap"]), point(c.at["variant_gap"]), number(c))
                                   for c in gaps),
                             f"Over the sizes every family ran on both datasets ({gaps[0].scope}); negative: the "
                             "variant narrows the gap."))
    return out


def declared_effects(suite: SuiteRuns, contrasts: Sequence[DatasetContrast]) -> tuple[ContrastEffect, ...]:
    """The effect of each contrast whose two datasets have usable runs (none where no family ran on both)."""
    at = suite.datasets
    return tuple(e for c in contrasts if c.base in at and c.variant in at
                 and (e := contrast_effect(c, at[c.base], at[c.variant])) is not None)


@register_statistic("dataset_contrasts", order=200, group="data", over="suite", table=contrast_tables)
def dataset_contrasts(suite: SuiteRuns, earlier: Mapping) -> DatasetContrasts:
    return DatasetContrasts(declared_effects(suite, suite.contrasts))
