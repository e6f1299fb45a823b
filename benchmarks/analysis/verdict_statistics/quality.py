"""Quality of the training data as a scaling axis: how much noisy data matches clean data, per family.

A suite's `quality` axis (`benchmarks.data.levels`) puts one dataset at several levels of its
training data (`mnist1d`, `mnist1d?label_noise=0.1`, ...): each level is a dataset of its own in
the records, fitted like any other. Where the records hold a dataset's clean level and at least one
other, this measures, per level against clean:

- `data_multiplier`: per family and model size, how many times more training examples at this level
  the family needs to reach the loss its clean curve has at x0 (the smallest data size both
  measured), read off the two fitted loss-against-data curves (`multipliers.matching_factor`, the
  architecture multiplier's machinery: the same reading, bootstrap interval and `beyond range`
  status past the measured sizes). "Clean data is worth k× data at this level." Below 1: the level
  helps.
- `effect`: the level as a contrast of the clean dataset (`dataset_contrasts.contrast_effect`):
  each family's loss change and its gap to the clean leader on both.
- `interaction` (architecture × quality): the spread of the families, the standard deviation of
  their mean log losses over the sizes every family ran on both, with clean data, at this level,
  and its change. Above zero: the families drift apart as the data gets worse; below: quality,
  not architecture, takes over. Its interval is a parametric bootstrap with each family's pooled
  seed noise (`SeedNoise`, as the fits use: resampling a run's own three seeds gave intervals that
  held the truth in only ~80% of planted datasets), re-centred on the estimate.

Registered as the suite statistic `quality` (`over="suite"`): its claims are the numbers (the
multipliers, the spread, and each level's contrast), `benchmarks.analysis.verdict_words` says them in
words and `quality_tables` draws them, from the claims alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from benchmarks.analysis import fits
from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.stats import Estimate, dataset_identity, keyed_rng, run_log_losses
from benchmarks.analysis.verdict_statistics import SuiteRuns, Table, register_statistic
from benchmarks.analysis.verdict_statistics.dataset_contrasts import ContrastEffect, GapChange, declared_effects
from benchmarks.analysis.verdict_statistics.multipliers import Multiplier, factor_claim, matching_factor
from benchmarks.analysis.wording import number
from benchmarks.data.levels import CLEAN, quality_groups
from benchmarks.spec import DatasetContrast


def quality_contrasts(datasets: Sequence[str]) -> list[DatasetContrast]:
    """Each quality level against its clean dataset, as a contrast (what the level does to each family)."""
    return [DatasetContrast(g[CLEAN], ds, f"training data at {level}")
            for g in quality_groups(list(datasets)).values() for level, ds in g.items() if level != CLEAN]


@dataclass(frozen=True)
class QualityLevel:
    """One level of a dataset's training data against its clean level."""

    level: str  # `label_noise=0.1`
    dataset: str  # the runs' dataset name at this level
    data_multiplier: dict[str, dict[int, Multiplier]]  # arch -> target params -> clean data worth k× this level's
    effect: ContrastEffect | None  # each family's loss change and gap to the clean leader
    interaction: GapChange | None  # the families' spread: clean (base), at this level (variant), change
    cells: int  # the (model size, data size) cells every family ran at both levels

    def headline(self, arch: str) -> Multiplier:
        """The family's multiplier at its largest model size."""
        by = self.data_multiplier[arch]
        return by[max(by)]

    @property
    def claims(self) -> tuple[Claim, ...]:
        """Per family, how many times its data at this level matches its clean curve (at its largest size);
        then the change of the families' spread; then the level as a contrast of the clean data (each family's
        loss change and gap change). Each carries the level in its `at`, for the level's table."""
        out = []
        for a in self.data_multiplier:
            m = self.headline(a)
            c = factor_claim(m, a, "its clean curve", f"{self.dataset}, at {m.at} parameters", statistic="quality")
            if c is not None:
                out.append(replace(c, at=c.at | {"level": self.level}))
        if self.interaction is not None:
            out.append(from_estimate(self.interaction.change, shown=pct, null=0.0, statistic="quality",
                                     quantity="spread change", subject="the families", unit="percent",
                                     scope=f"{self.dataset}, over the {self.cells} sizes all ran at both levels",
                                     at={"level": self.level}))
        effect = self.effect.claims if self.effect is not None else ()
        out += [replace(c, statistic="quality", at=c.at | {"level": self.level}) for c in effect]
        return tuple(out)

    def to_dict(self) -> dict:
        out: dict = {"level": self.level, "dataset": self.dataset, "data_multiplier": {
            a: self.headline(a).to_dict() | {"by_size": {str(n): m.to_dict() for n, m in by.items()}}
            for a, by in self.data_multiplier.items()}}
        out["interaction"] = self.interaction.to_dict() | {"cells": self.cells} if self.interaction else None
        if self.effect is not None:
            out["loss_change"] = {a: e.to_dict() for a, e in self.effect.change.items()}
            out["leader"] = self.effect.leader
            out["gaps"] = {a: g.to_dict() for a, g in self.effect.gaps.items()}
        return out


@dataclass(frozen=True)
class QualityAxis:
    """One dataset at its quality levels: each level against the clean one."""

    base: str  # the dataset without quality knobs
    clean: str  # the clean level's dataset name
    levels: tuple[QualityLevel, ...]
    has_intervals: bool

    def to_dict(self) -> dict:
        return {"dataset": self.base, "clean": self.clean, "levels": [q.to_dict() for q in self.levels],
                "meaning": {
                    "data_multiplier": "training examples at this level needed to reach the clean curve's loss at "
                                       "from_x, over from_x: clean data is worth k times this level's (below 1: the "
                                       "level helps); read off each family's fitted loss-against-data curves",
                    "interaction": "architecture x quality: the standard deviation across families of their mean "
                                   "log loss over the sizes all ran, with clean data (base), at this level (variant), "
                                   "and the change (above 0: the families drift apart as quality falls)"}}


def data_multipliers(clean: fits.DatasetFits, level: fits.DatasetFits) -> dict[str, dict[int, Multiplier]]:
    """Per family and model size: how many times more of the level's data matches the clean curve's loss."""
    out = {}
    for arch in sorted(set(clean.archs) & set(level.archs)):
        a, b = clean.archs[arch].vs_data, level.archs[arch].vs_data
        by = {n: matching_factor(a[n], b[n], "data_size", n) for n in sorted(set(a) & set(b))}
        if by:
            out[arch] = by
    return out


def spread(clean: fits.DatasetFits, level: fits.DatasetFits, *, n_boot: int = fits.N_BOOT,
           rng: np.random.Generator | None = None) -> tuple[GapChange | None, int]:
    """The families' spread (sd of their mean log losses over the cells all ran at both levels) with clean data,
    at the level, and the change, with parametric-bootstrap intervals from each family's pooled noise; None with
    fewer than two families or no such cell."""
    archs = sorted(set(clean.archs) & set(level.archs))
    runs = {(ds, r.spec.arch, r.spec.target_params, r.spec.data_size): r
            for ds, df in (("clean", clean), ("level", level)) for r in df.runs if r.spec.arch in archs}
    cells = sorted({k[2:] for k in runs})
    cells = [c for c in cells if all((ds, a, *c) in runs for ds in ("clean", "level") for a in archs)]
    if len(archs) < 2 or not cells:
        return None, len(cells)
    rng = rng if rng is not None else keyed_rng(dataset_identity(clean.runs), dataset_identity(level.runs), "spread")
    means = {}
    for ds, df in (("clean", clean), ("level", level)):
        per_arch = []
        for a in archs:
            logs = [run_log_losses(runs[ds, a, *c]) for c in cells]
            point = np.array([x.mean() for x in logs])
            noise = df.archs[a].noise
            reps = (point + noise.draw(np.array([x.size for x in logs]), n_boot, rng) if noise.known
                    else np.zeros((0, len(cells))))
            per_arch.append(np.concatenate([point[None], reps]).mean(axis=1))  # (1 + B,): mean over the cells
        means[ds] = np.stack(per_arch, axis=1)  # (1 + B, archs)
    sd = {ds: m.std(axis=1, ddof=1) for ds, m in means.items()}
    est = lambda v: Estimate.recentred(v[0], v[1:])
    return GapChange(est(sd["clean"]), est(sd["level"]), est(sd["level"] - sd["clean"])), len(cells)


def quality_axes(fitted_by: Mapping[str, fits.DatasetFits], effects: Sequence[ContrastEffect]) -> list[QualityAxis]:
    """Every dataset of the fits that was run at quality levels, each level against its clean runs."""
    by_pair = {(e.base, e.variant): e for e in effects}
    axes = []
    for base, group in quality_groups(list(fitted_by)).items():
        clean = fitted_by[group[CLEAN]]
        levels = []
        for level, ds in group.items():
            if level == CLEAN:
                continue
            fitted = fitted_by[ds]
            interaction, cells = spread(clean, fitted)
            levels.append(QualityLevel(level, ds, data_multipliers(clean, fitted), by_pair.get((group[CLEAN], ds)),
                                       interaction, cells))
        intervals = all(np.isfinite(q.interaction.change.lo) for q in levels if q.interaction is not None)
        axes.append(QualityAxis(base, group[CLEAN], tuple(levels), intervals))
    return axes


@dataclass(frozen=True)
class QualityAxes:
    """Every dataset of the suite run at quality levels."""

    axes: tuple[QualityAxis, ...]

    @property
    def claims(self) -> tuple[Claim, ...]:
        return tuple(c for a in self.axes for q in a.levels for c in q.claims)

    def to_dict(self) -> dict:
        axes = [a.to_dict() | {"levels": [q.to_dict() | {"claims": [c.to_dict() for c in q.claims]}
                                          for q in a.levels]} for a in self.axes]
        return {"quality": axes} if axes else {}


def quality_tables(claims: Sequence[Claim]) -> list[Table]:
    """Per level, from its claims: each family's clean-data multiplier, loss change and gap change, and the spread."""
    out = []
    for level in dict.fromkeys(c.at["level"] for c in claims):
        mine = [c for c in claims if c.at["level"] == level]
        by = {(c.quantity, c.subject): c for c in mine}
        families = sorted({c.subject for c in mine if c.quantity in ("factor", "change")})
        rows = []
        for f in families:
            factor, change, gap = by.get(("factor", f)), by.get(("change", f)), by.get(("gap change", f))
            rows.append((f, number(factor) if factor else "—", number(change) if change else "—",
                         f"{gap.at['base_gap']:.3g}% → {gap.at['variant_gap']:.3g}% ({number(gap)})" if gap else "—"))
        spread = next((c for c in mine if c.quantity == "spread change"), None)
        note = ("Clean data worth k×: the examples at this level a family needs to reach its clean curve's loss, "
                "read off the two fitted curves (below 1: the level helps). Gap: loss above the clean leader, clean "
                "→ at this level (the change, with its interval)."
                + (f" Spread of the families (sd of their mean losses): change {number(spread)}." if spread else ""))
        out.append(Table(f"Quality of the training data: {mine[0].scope.split(',')[0]} against clean",
                         ("family", "clean data worth", "loss change", "gap to the clean leader"), tuple(rows), note))
    return out


@register_statistic("quality", order=210, group="data", over="suite", table=quality_tables)
def quality(suite: SuiteRuns, earlier: Mapping) -> QualityAxes:
    effects = declared_effects(suite, quality_contrasts(list(suite.datasets)))
    fitted = {ds: r.fitted for ds, r in suite.datasets.items() if r.fitted is not None}
    return QualityAxes(tuple(quality_axes(fitted, effects)))
