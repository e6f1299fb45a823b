"""What the lottery-ticket runs say (benchmarks/running/tickets.py): pure functions of the records and masks.

- **Curves** (`ticket_curves`): per family, size, data size and dataset, test accuracy against sparsity for
  the tickets and for the random masks of the same per-layer sparsity, each the mean over seeds with its 95%
  Student-t interval; the ticket's advantage over the random mask and its gap to the dense model, paired by
  seed (the same seed's ticket, control and dense run share their initialisation and minibatches).
- **Matched sparsity** (`Curve.matched_sparsity`): the highest sparsity at which the ticket's mean accuracy
  is within `margin` of the dense model's, every sparser round before it too.
- **Advantage against size** (`advantage_trend`): per family, the ticket-over-random advantage averaged over
  the rounds at `HIGH_SPARSITY` or more, per seed, regressed on log10(parameters) over the sizes: the slope
  (accuracy points per decade of parameters) with its 95% t interval. A positive slope is "bigger networks
  hold better tickets"; an interval that holds 0 says the runs cannot tell.
- **Spatial prior** (`spatial_prior`): for the MLP's first layer on a 1-D signal, how close together each
  unit's surviving inputs lie: 1 − (mean distance between two surviving positions of a unit) / (the same for
  positions drawn at random, (L + 1) / 3 for L positions). 0 for a random mask whatever its sparsity; 1 for
  inputs that all sit at one position; negative for inputs spread to the ends.
- **Transfer**: the curves of a ticket found on one dataset and retrained on another (`Curve.found_on`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

import architectures
from benchmarks.analysis.stats import LEVEL, Estimate, mean_ci
from benchmarks.running import pruning
from benchmarks.running.store import newest
from benchmarks.spec import RunRecord

HIGH_SPARSITY = 0.8  # the advantage against size averages the rounds at this sparsity or more
FIRST_LAYER = "layers/0/kernel"  # the MLP's input layer: rows are the input positions


def estimate(values: Sequence[float]) -> Estimate:
    """Mean over seeds with its 95% Student-t interval (non-finite values dropped)."""
    return Estimate(*mean_ci([v for v in values if v is not None and math.isfinite(v)]))


def parse_mask(mask: str) -> dict[str, str]:
    """`ticket:layer:p=0.2:round=3:rewind=25[:from=D]` -> {"kind": "ticket", "scope": "layer", "p": "0.2", ...}."""
    kind, scope, *rest = mask.split(":")
    return {"kind": kind, "scope": scope, **dict(part.split("=", 1) for part in rest)}


def _accuracy(record: RunRecord) -> dict[int, float]:
    return {s.seed: s.test_acc for s in record.seeds if s.test_acc is not None}


def _differences(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    return {s: a[s] - b[s] for s in a if s in b}


@dataclass(frozen=True)
class Point:
    """One round of a chain: accuracies over seeds (fractions) with their intervals."""

    round: int
    sparsity: float
    ticket: Estimate
    random: Estimate
    advantage: Estimate  # ticket - random, paired by seed
    vs_dense: Estimate  # ticket - dense, paired by seed
    ticket_id: str
    random_id: str
    advantage_by_seed: tuple[tuple[int, float], ...] = ()  # (seed, ticket - random)


@dataclass(frozen=True)
class Curve:
    """A chain's tickets and controls, retrained on `dataset`, found on `found_on`."""

    arch: str
    dataset: str
    found_on: str
    target_params: int
    params: int
    data_size: int
    dense: Estimate
    points: tuple[Point, ...]
    seeds: int
    steps: int = 0  # of every training, dense and pruned

    @property
    def family(self) -> str:
        return architectures.get(self.arch).name

    @property
    def transferred(self) -> bool:
        return self.dataset != self.found_on

    def matched_sparsity(self, margin: float) -> float:
        """The highest sparsity up to which every round's mean ticket accuracy is within `margin` of dense."""
        best = 0.0
        for p in self.points:
            if p.ticket.value < self.dense.value - margin:
                break
            best = p.sparsity
        return best

    def high_sparsity_points(self) -> tuple[Point, ...]:
        """The rounds at HIGH_SPARSITY or more (none if the chain stopped before)."""
        return tuple(p for p in self.points if p.sparsity >= HIGH_SPARSITY)


def ticket_curves(records: Sequence[RunRecord]) -> list[Curve]:
    """Every chain's curve, from the records of a store (dense runs: the newest of each cell)."""
    dense = {(r.spec.dataset, r.spec.arch, r.spec.target_params, r.spec.data_size): r
             for r in newest(records) if r.status == "ok"}
    rounds: dict[tuple, dict[int, dict[str, RunRecord]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if not r.spec.mask or r.status != "ok":
            continue
        m = parse_mask(r.spec.mask)
        key = (r.spec.dataset, m.get("from", r.spec.dataset), r.spec.arch, r.spec.target_params, r.spec.data_size)
        rounds[key][int(m["round"])][m["kind"]] = r  # a later record of the same run id is the same run
    curves = []
    for key, by_round in sorted(rounds.items()):
        ds, found_on, arch, n, d = key
        base = dense.get((ds, arch, n, d))
        if base is None:
            continue
        base_acc = _accuracy(base)
        points = []
        for r, kinds in sorted(by_round.items()):
            if {"ticket", "random"} - kinds.keys():
                continue
            t, c = _accuracy(kinds["ticket"]), _accuracy(kinds["random"])
            adv = _differences(t, c)
            points.append(Point(r, kinds["ticket"].spec.sparsity, estimate(list(t.values())),
                                estimate(list(c.values())), estimate(list(adv.values())),
                                estimate(list(_differences(t, base_acc).values())),
                                kinds["ticket"].run_id, kinds["random"].run_id, tuple(sorted(adv.items()))))
        if points:
            curves.append(Curve(arch, ds, found_on, n, base.params, d, estimate(list(base_acc.values())),
                                tuple(points), len(base_acc), base.spec.steps))
    return curves


@dataclass(frozen=True)
class Trend:
    """A family's ticket-over-random advantage at high sparsity against its size."""

    family: str
    dataset: str
    by_size: tuple[tuple[int, Estimate], ...]  # measured params -> mean advantage over the high-sparsity rounds
    slope: Estimate  # accuracy (fraction) per decade of parameters; NaN bounds with fewer than 2 sizes


def slope_ci(x: Sequence[float], y: Sequence[float], level: float = LEVEL) -> Estimate:
    """Least-squares slope of y on x with its Student-t interval (n - 2 degrees of freedom)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3 or np.ptp(x) == 0:
        return Estimate(math.nan, math.nan, math.nan)
    res = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 2)) * res.stderr
    return Estimate(float(res.slope), float(res.slope - half), float(res.slope + half))


def advantage_trend(curves: Sequence[Curve]) -> list[Trend]:
    """Per family and dataset (tickets found there), the advantage at high sparsity against log10(params)."""
    groups: dict[tuple[str, str], list[Curve]] = defaultdict(list)
    for c in curves:
        if not c.transferred:
            groups[(c.family, c.dataset)].append(c)
    out = []
    for (family, ds), group in sorted(groups.items()):
        xs, ys, by_size = [], [], []
        for c in sorted(group, key=lambda c: c.params):
            per_seed = per_seed_advantage(c.high_sparsity_points())
            if not per_seed:
                continue
            by_size.append((c.params, estimate(per_seed)))
            xs += [math.log10(c.params)] * len(per_seed)
            ys += per_seed
        out.append(Trend(family, ds, tuple(by_size), slope_ci(xs, ys)))
    return out


def high_advantage(c: Curve) -> Estimate:
    """The ticket's advantage over random, averaged per seed over the high-sparsity rounds, then over seeds."""
    return estimate(per_seed_advantage(c.high_sparsity_points()))


def per_seed_advantage(points: Sequence[Point]) -> list[float]:
    """Each seed's ticket-over-random advantage averaged over the points (seeds in every point only)."""
    by_seed: dict[int, list[float]] = defaultdict(list)
    for p in points:
        for seed, v in p.advantage_by_seed:
            by_seed[seed].append(v)
    return [float(np.mean(v)) for v in by_seed.values() if len(v) == len(points)]


# ---------------------------------------------------------------------------- spatial prior of masks


def locality(mask_PxU: np.ndarray) -> float:
    """1 - (mean distance between two surviving inputs of a unit) / ((P + 1) / 3), the same mean for
    positions drawn at random without replacement; over the units with 2 or more survivors (NaN if none)."""
    positions = mask_PxU.shape[0]
    distances = []
    for unit in mask_PxU.T:
        at = np.flatnonzero(unit)
        if at.size >= 2:
            diff = np.abs(at[:, None] - at[None, :])
            distances.append(diff.sum() / (at.size * (at.size - 1)))
    return 1 - float(np.mean(distances)) / ((positions + 1) / 3) if distances else math.nan


@dataclass(frozen=True)
class Prior:
    """The locality of the first-layer masks of one chain's round, tickets against their random controls."""

    dataset: str  # where the masks were found
    arch: str
    params: int
    round: int
    sparsity: float
    ticket: Estimate
    random: Estimate
    difference: Estimate  # ticket - random, paired by seed


def spatial_prior(curves: Sequence[Curve], masks_dir: Path) -> list[Prior]:
    """Per MLP chain (found where it is retrained) and round, the first layer's locality, from the mask files."""
    out = []
    for c in curves:
        if c.family != "mlp" or c.transferred:
            continue
        for p in c.points:
            files = [masks_dir / f"{i}.npz" for i in (p.ticket_id, p.random_id)]
            if not all(f.is_file() for f in files):
                continue
            ticket, control = (pruning.load_masks(f) for f in files)
            t = {s: locality(m[FIRST_LAYER]) for s, m in ticket.items() if FIRST_LAYER in m}
            r = {s: locality(m[FIRST_LAYER]) for s, m in control.items() if FIRST_LAYER in m}
            if t:
                out.append(Prior(c.dataset, c.arch, c.params, p.round, p.sparsity, estimate(list(t.values())),
                                 estimate(list(r.values())), estimate(list(_differences(t, r).values()))))
    return out
