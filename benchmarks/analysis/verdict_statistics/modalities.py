"""The verdict's question across modalities: does the same factor explain most, and do the families rank alike?

A suite may run the same families at the same sizes on datasets of different task kinds: signals to
classify (MNIST-1D) and text to predict byte by byte (`pydoc`), say (the `modalities` suite). A
dataset's modality is its task kind: what it reads and what it predicts (`MODALITIES`). Where a suite's
datasets hold two modalities or more, this states, from statistics already computed per dataset:

- per dataset, which factor explains the most variance in log loss, with its lead over the next
  (`shares`: its ANOVA and parametric bootstrap, never computed again here);
- per pair of datasets of different modalities, whether the families rank alike:
  - `rank correlation`: Spearman's ρ between the families' mean log loss on one dataset and on the other,
    over the (model size, data size) cells every family ran on both. Its interval is the percentile interval
    of the bootstrap (`rho_interval`: each dataset's replicates of the run means, `DatasetRuns.means_1BxR`:
    seeds resampled and each run's effect drawn at the suite's κ), not re-centred. Null 0: no relation between
    the orders; above 0, the orders agree more than chance would make them.
  - per pair of families, the order on each dataset from its Holm-adjusted contrast (`contrasts`). The
    pair keeps its order where both contrasts are beyond noise with the same sign, swaps places where they
    are beyond noise with opposite signs (`wording.reversal`), and is not decided otherwise.

Losses of different task kinds are not on one scale (cross-entropy over 10 classes, over 256 bytes):
nothing here compares a loss on one dataset with a loss on the other, only orders and shares.

Registered as the suite statistic `modalities` (`over="suite"`); its claims are the numbers,
`benchmarks.analysis.verdict_words.modality_section` says them and `modality_tables` draws them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as scipy_stats

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.language import task_of
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, SuiteRuns, Table, register_statistic
from benchmarks.analysis.wording import kept_order, number, reversal

# (input kind, target) -> the modality in words
MODALITIES = {
    ("signal1d", "class"): "signal classification",
    ("image", "class"): "image classification",
    ("tokens", "class"): "sequence classification",
    ("tokens", "next_token"): "next-token prediction",
}


def modality_of(dataset: str) -> str:
    """A dataset's modality, from its task (known without preparing it); "" where the dataset cannot say now."""
    if (task := task_of(dataset)) is None:
        return ""
    return MODALITIES.get((task.input_kind, task.target), f"{task.input_kind} {task.target}")


@dataclass(frozen=True)
class FamilyOrder:
    """Two datasets of different modalities: the families' order on each, over the cells every family ran on both."""

    first: str
    second: str
    families: tuple[str, ...]
    cells: int  # (model size, data size) cells every family ran on both datasets
    mean_first: dict[str, float]  # family -> mean log loss over those cells
    mean_second: dict[str, float]
    rho: Estimate  # Spearman's rank correlation of the two sets of means

    def to_dict(self) -> dict:
        return {"first": self.first, "second": self.second, "families": list(self.families), "cells": self.cells,
                "mean_log_loss": {self.first: self.mean_first, self.second: self.mean_second},
                "rank_correlation": self.rho.to_dict()}


@dataclass(frozen=True)
class Modalities:
    modality: dict[str, str]  # dataset -> its modality (only where the suite has two or more)
    orders: tuple[FamilyOrder, ...]
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        """Its entry in fits.json; none for a suite of one task kind (whose fits.json stays as it was)."""
        if not self.modality:
            return {}
        return {"modalities": {"datasets": self.modality, "orders": [o.to_dict() for o in self.orders]}}


def spearman(x_BxF: np.ndarray, y_BxF: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row of x with the same row of y (ranks within a row; ties share their mean rank)."""
    rx = scipy_stats.rankdata(x_BxF, axis=1)
    ry = scipy_stats.rankdata(y_BxF, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def _means(runs: DatasetRuns, families: Sequence[str], cells: Sequence[tuple]) -> np.ndarray:
    """(1 + B, families): each family's mean log loss over the cells, observed then per bootstrap replicate."""
    at = {runs.cell(r): j for j, r in enumerate(runs.records)}
    return np.stack([runs.means_1BxR[:, [at[(f, *c)] for c in cells]].mean(axis=1) for f in families], axis=1)


def rho_interval(observed: float, replicates_B: np.ndarray) -> Estimate:
    """ρ with the replicates' central 95%, widened to hold ρ where it lies outside (a few replicates at ±1).

    Why not re-centred, as the intervals of smooth statistics are: re-centring takes out the shift that a
    replicate's noise on top of the data's puts in a mean, but ranks are not shifted that way. Two families
    within noise on a dataset make the data's ρ and every replicate's alike the average over both of their
    orders, whatever the true order is, and a replicate drawn around a high ρ falls back towards that average,
    so re-centring moves the interval away from the truth. In 200 reruns of the modalities reference's world
    (three such near-ties, true ρ 0.20) the re-centred interval covered the true ρ in 82.5%, this one in 99.0%,
    and in 99.5% with a pair planted to swap (true ρ −0.10; docs/coverage.md)."""
    finite = replicates_B[np.isfinite(replicates_B)]
    if not finite.size:  # one seed per run: no replicates, no interval
        return Estimate(observed, np.nan, np.nan)
    e = Estimate.bootstrap(observed, finite)
    return dataclasses.replace(e, lo=min(e.lo, observed), hi=max(e.hi, observed))


def family_order(first: DatasetRuns, second: DatasetRuns) -> FamilyOrder | None:
    """The families' order on two datasets over the cells every family ran on both; None with fewer than 3
    families there (a rank correlation of two is ±1 and says nothing a pair's contrast does not)."""
    cells_of = lambda runs: {runs.cell(r) for r in runs.records}
    both = cells_of(first) & cells_of(second)
    families = tuple(sorted({c[0] for c in both}))
    per_size: dict[tuple, set[str]] = {}
    for arch, n, d in both:
        per_size.setdefault((n, d), set()).add(arch)
    shared = sorted(size for size, present in per_size.items() if len(present) == len(families))
    if len(families) < 3 or not shared:
        return None
    x, y = _means(first, families, shared), _means(second, families, shared)
    observed = float(spearman(x[:1], y[:1])[0])
    b = min(len(x), len(y)) - 1
    rho = rho_interval(observed, spearman(x[1:b + 1], y[1:b + 1]))
    return FamilyOrder(first.dataset, second.dataset, families, len(shared),
                       dict(zip(families, x[0].tolist(), strict=True)), dict(zip(families, y[0].tolist(), strict=True)),
                       rho)


def pair_claims(statistics: Mapping, dataset: str, families: Sequence[str]) -> list[Claim]:
    """Each pair of the families (the first by name against the second) on one dataset: its Holm-adjusted
    contrast (`contrasts`), the difference said as the first's loss above the second's."""
    contrasts = statistics.get("contrasts")
    out = []
    for a, b in combinations(sorted(families), 2):
        c = contrasts.between(a, b) if contrasts is not None else None
        if c is None:
            continue
        e = c.adjusted if c.higher == a else Estimate(-c.adjusted.value, -c.adjusted.hi, -c.adjusted.lo)
        out.append(from_estimate(e, shown=pct, null=0.0, statistic="modalities", quantity="pair", subject=a,
                                 reference=b, unit="percent", level=f"Holm over {len(contrasts.contrasts)} pairs",
                                 scope=f"{dataset}, mean over the {c.cells} cells both ran",
                                 at={"dataset": dataset, "p_holm": c.p_holm}))
    return out


def lead_claims(statistics: Mapping, dataset: str, modality: str) -> list[Claim]:
    """The dataset's main factors' shares and the lead of the first over the second, as `shares` states them."""
    shares = statistics.get("shares")
    if shares is None:
        return []
    main = {s.term for s in shares.shares if " × " not in s.term}
    keep = [c for c in shares.claims if "without" not in c.at
            and ((c.quantity == "share" and c.subject in main) or c.quantity == "share lead")]
    return [dataclasses.replace(c, statistic="modalities", scope=f"{c.scope} ({modality})",
                                at={**c.at, "dataset": dataset, "modality": modality}) for c in keep]


def order_claims(o: FamilyOrder) -> list[Claim]:
    scope = (f"{o.first} against {o.second}: the {len(o.families)} families' mean log loss over the {o.cells} "
             "cells every family ran on both")
    return [from_estimate(o.rho, shown=float, null=0.0, statistic="modalities", quantity="rank correlation",
                          subject=o.first, reference=o.second, unit="correlation", scope=scope,
                          at={"families": len(o.families), "cells": o.cells})]


def modality_tables(claims: Sequence[Claim]) -> list[Table]:
    """The factor that leads on each dataset; per pair of datasets, ρ and every pair of families' order on both."""
    out = []
    leads = [c for c in claims if c.quantity == "share lead"]
    if leads:
        shares = lambda ds: ", ".join(f"{c.subject} {number(c)}" for c in claims
                                      if c.quantity == "share" and c.at["dataset"] == ds)
        out.append(Table("Which factor explains the most, per modality",
                         ("dataset", "modality", "leads", "over the next", "main factors' shares"),
                         tuple((c.at["dataset"], c.at["modality"], c.subject, f"{c.reference}: {number(c)}",
                                shares(c.at["dataset"])) for c in leads),
                         "Shares of the variance of log test loss beyond seed noise (95% intervals), from each "
                         "dataset's own ANOVA."))
    for rho in (c for c in claims if c.quantity == "rank correlation"):
        first, second = rho.subject, rho.reference
        on = lambda ds: {(c.subject, c.reference): c for c in claims if c.quantity == "pair" and c.at["dataset"] == ds}
        a, b = on(first), on(second)
        rows = tuple((f"{x} against {y}", number(a[x, y]), number(b[x, y]), pair_order(a[x, y], b[x, y]))
                     for x, y in a if (x, y) in b)
        out.append(Table(f"Family order, {first} against {second}: rank correlation {number(rho)}",
                         ("pair", f"loss above on {first}", f"loss above on {second}", "order"), rows,
                         "Each pair's contrast on each dataset, Holm-adjusted there (95%); the order is kept or "
                         "swapped only where both are beyond noise."))
    return out


def pair_order(on_first: Claim, on_second: Claim) -> str:
    """'kept', 'swapped' or 'not decided': a pair's order on two datasets, by the rules that say it in words
    (`wording.reversal`, `wording.kept_order`)."""
    if reversal(on_first, on_second, "", ""):
        return "swapped"
    return "kept" if kept_order(on_first, on_second, "", "") else "not decided"


@register_statistic("modalities", order=220, group="families", over="suite", table=modality_tables)
def modalities(suite: SuiteRuns, earlier: Mapping) -> Modalities:
    modality = {ds: modality_of(ds) for ds in suite.datasets}
    if len(set(modality.values()) - {""}) < 2:
        return Modalities({}, ())
    modality = {ds: m for ds, m in modality.items() if m}
    claims: list[Claim] = []
    for ds, m in modality.items():
        claims += lead_claims(suite.statistics.get(ds, {}), ds, m)
    orders = []
    for first, second in combinations(modality, 2):
        if modality[first] == modality[second]:
            continue
        o = family_order(suite.datasets[first], suite.datasets[second])
        if o is None:
            continue
        orders.append(o)
        claims += order_claims(o)
    for ds in dict.fromkeys(d for o in orders for d in (o.first, o.second)):
        claims += pair_claims(suite.statistics.get(ds, {}), ds, suite.datasets[ds].archs)
    return Modalities(modality, tuple(orders), tuple(claims))
