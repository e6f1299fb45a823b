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
- `effect`: the level as a declared contrast of the clean dataset (`benchmarks.analysis.contrast`):
  each family's loss change, its gap to the clean leader on both, and `spread`, the architecture ×
  quality interaction: the standard deviation of the families' mean log losses (over the sizes every
  family ran on both) with clean data, at this level, and its change. Above zero: the families
  drift apart as the data gets worse; below: quality, not architecture, takes over.

Numbers only; `benchmarks.analysis.verdict_text.quality_paragraph` says them in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.analysis import fits
from benchmarks.analysis.contrast import ContrastEffect
from benchmarks.analysis.verdict_statistics.multipliers import Multiplier, matching_factor
from benchmarks.data.levels import CLEAN, quality_of
from benchmarks.spec import DatasetContrast, RunRecord


def quality_groups(datasets: Sequence[str]) -> dict[str, dict[str, str]]:
    """{dataset without knobs: {level: dataset}} for each one whose clean level and another level are present."""
    groups: dict[str, dict[str, str]] = {}
    for ds in sorted(datasets):
        base, level = quality_of(ds)
        groups.setdefault(base, {})[level] = ds
    return {b: dict(sorted(g.items())) for b, g in groups.items() if CLEAN in g and len(g) > 1}


def quality_contrasts(datasets: Sequence[str]) -> list[DatasetContrast]:
    """Each quality level against its clean dataset, as a contrast (what the level does to each family)."""
    return [DatasetContrast(g[CLEAN], ds, f"training data at {level}")
            for g in quality_groups(datasets).values() for level, ds in g.items() if level != CLEAN]


@dataclass(frozen=True)
class QualityLevel:
    """One level of a dataset's training data against its clean level."""

    level: str  # `label_noise=0.1`
    dataset: str  # the runs' dataset name at this level
    data_multiplier: dict[str, dict[int, Multiplier]]  # arch -> target params -> clean data worth k× this level's
    effect: ContrastEffect | None  # loss changes, gaps, and the spread of the families (the interaction)

    def headline(self, arch: str) -> Multiplier:
        """The family's multiplier at its largest model size."""
        by = self.data_multiplier[arch]
        return by[max(by)]

    def to_dict(self) -> dict:
        out: dict = {"level": self.level, "dataset": self.dataset, "data_multiplier": {
            a: self.headline(a).to_dict() | {"by_size": {str(n): m.to_dict() for n, m in by.items()}}
            for a, by in self.data_multiplier.items()}}
        if self.effect is not None:
            out["interaction"] = self.effect.spread.to_dict() if self.effect.spread is not None else None
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


def quality_axes(by_dataset: Mapping[str, Sequence[RunRecord]], effects: Sequence[ContrastEffect]) -> list[QualityAxis]:
    """Every dataset of the records that was run at quality levels, each level against its clean runs."""
    by_pair = {(e.base, e.variant): e for e in effects}
    axes = []
    for base, group in quality_groups(list(by_dataset)).items():
        clean = fits.fit_dataset(by_dataset[group[CLEAN]])
        levels = []
        for level, ds in group.items():
            if level == CLEAN:
                continue
            levels.append(QualityLevel(level, ds, data_multipliers(clean, fits.fit_dataset(by_dataset[ds])),
                                       by_pair.get((group[CLEAN], ds))))
        intervals = all(e.has_intervals for q in levels if (e := q.effect) is not None)
        axes.append(QualityAxis(base, group[CLEAN], tuple(levels), intervals))
    return axes
