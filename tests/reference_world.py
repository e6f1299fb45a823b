"""Worlds fitted to the committed references, to rerun a suite many times in simulation.

A world keeps a reference's runs as they are (design, budgets, FLOPs per example, learning rates) and
takes a smooth surface through their mean log losses as the truth (per family and dataset, quadratic in
log size and log data with their product, the terms its runs vary in): gaps that grow, shrink and cross
as the reference's do, without the reference's own run effects left in them. Each rerun draws every seed
again from noise fitted to the same runs, family by family:

    y = truth[run] + r[run] + u[init] + e[seed]

u (an init, shared by the data sizes of one family, size and seed) and e (a seed's own) have each family's
split-plot variances (`seed_noise.SplitPlotNoise`: sd 0.024 for the MLP to 0.27 for the Transformer on
`quick`); r is the run's learning-rate choice, of variance κ·s² (`seed_noise.run_level_of`). All three are
Student t, scaled to their variances, with the tails the reference shows (`tail_df`: fitted to the
kurtosis of its seeds' deviations from their runs' means, in units of their family's sd; the run effects
get RUN_TAIL_DF).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.analysis.seed_noise import SplitPlotNoise, orth, run_level_of
from benchmarks.analysis.stats import run_log_losses, usable
from benchmarks.spec import RunRecord

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
RUN_TAIL_DF = 5.0


@dataclass(frozen=True)
class FamilyNoise:
    tau: float  # sd of an init's effect
    sigma: float  # sd of a seed's own noise
    run_sd: float  # sd of a run's effect (its learning-rate choice)


@dataclass(frozen=True)
class World:
    runs: tuple[RunRecord, ...]  # the reference's usable runs: the design
    truth: Mapping[str, float]  # run id -> true mean log loss
    noise: Mapping[str, FamilyNoise]  # per family
    tail_df: float  # Student t degrees of freedom of the seed terms

    @classmethod
    def of(cls, records: Sequence[RunRecord]) -> World:
        runs, _ = usable(records)
        run = run_level_of(runs)
        noise, deviations = {}, []
        for arch in sorted({r.spec.arch for r in runs}):
            mine = [r for r in runs if r.spec.arch == arch]
            y, cells, plots, centred = [], [], [], []
            for r in mine:
                logs = run_log_losses(r)
                ids = [s.seed for s in r.seeds if s.test_loss is not None and np.isfinite(s.test_loss) and s.test_loss > 0]
                y += list(logs)
                cells += [(r.spec.dataset, r.spec.target_params, r.spec.data_size)] * logs.size
                plots += [(r.spec.target_params, s) for s in ids]
                if logs.size > 1:
                    centred += list((logs - logs.mean()) * np.sqrt(logs.size / (logs.size - 1)))
            sp = SplitPlotNoise.of(np.array(y), cells, plots)
            if sp.seed_var > 0:
                deviations += list(np.array(centred) / np.sqrt(sp.seed_var))
            noise[arch] = FamilyNoise(float(np.sqrt(sp.tau2)), float(np.sqrt(sp.sigma2)),
                                      float(np.sqrt(run.ratio * sp.seed_var)))
        return cls(tuple(runs), smooth_truth(runs), noise, tail_df(np.array(deviations)))

    def with_truth(self, shift: Callable[[RunRecord], float]) -> World:
        """The same world with each run's truth moved by shift(run) in log loss (a planted change)."""
        return dataclasses.replace(self, truth={r.run_id: self.truth[r.run_id] + shift(r) for r in self.runs})

    def draw(self, rng: np.random.Generator, *, dataset: str | None = None) -> list[RunRecord]:
        """One rerun of every run: its seeds' test losses drawn afresh (named `dataset` where given)."""
        inits: dict[tuple, float] = {}
        out = []
        for r in self.runs:
            n = self.noise[r.spec.arch]
            mean = self.truth[r.run_id] + n.run_sd * student(rng, RUN_TAIL_DF)
            seeds = []
            for s in r.seeds:
                key = (r.spec.dataset, r.spec.arch, r.spec.target_params, s.seed)
                if key not in inits:
                    inits[key] = n.tau * student(rng, self.tail_df)
                loss = float(np.exp(mean + inits[key] + n.sigma * student(rng, self.tail_df)))
                seeds.append(dataclasses.replace(s, test_loss=loss, val_loss=loss))
            spec = r.spec if dataset is None else dataclasses.replace(r.spec, dataset=dataset)
            out.append(dataclasses.replace(r, spec=spec, seeds=seeds, run_id=f"{spec.dataset}-{r.run_id}",
                                           data_version=spec.dataset if dataset is not None else r.data_version))
        return out


def smooth_truth(runs: Sequence[RunRecord]) -> dict[str, float]:
    """Run id -> the family's least-squares surface through its runs' mean log losses, per dataset."""
    out = {}
    for key in sorted({(r.spec.dataset, r.spec.arch) for r in runs}):
        mine = [r for r in runs if (r.spec.dataset, r.spec.arch) == key]
        u = np.log([float(r.spec.target_params) for r in mine])
        v = np.log([float(r.spec.data_size) for r in mine])
        u, v = u - u.mean(), v - v.mean()
        basis = orth(np.stack([np.ones_like(u), u, v, u**2, v**2, u * v], axis=1))
        y = np.array([run_log_losses(r).mean() for r in mine])
        out |= {r.run_id: float(f) for r, f in zip(mine, basis @ (basis.T @ y), strict=True)}
    return out


def student(rng: np.random.Generator, df: float) -> float:
    """A Student t draw scaled to variance 1 (Gaussian for df = ∞)."""
    if not np.isfinite(df):
        return float(rng.standard_normal())
    return float(rng.standard_t(df) * np.sqrt((df - 2) / df))


def tail_df(z: np.ndarray) -> float:
    """Student t degrees of freedom with the excess kurtosis of z (6/(ν − 4)), within [4.5, ∞)."""
    if z.size < 10:
        return float("inf")
    excess = float(np.mean(z**4) / np.mean(z**2) ** 2 - 3)
    return float("inf") if excess <= 0.05 else max(4.5, 4 + 6 / excess)


def reference_records(suite: str) -> list[RunRecord]:
    """The records of results/reference/<suite>/runs.jsonl."""
    lines = (REFERENCE / suite / "runs.jsonl").read_text().splitlines()
    return [RunRecord.from_dict(json.loads(line)) for line in lines if line.strip()]


@functools.cache
def reference_world(suite: str, dataset: str | None = None) -> World:
    """The world of results/reference/<suite>/runs.jsonl (one of its datasets, where given)."""
    return World.of([r for r in reference_records(suite) if dataset in (None, r.spec.dataset)])


def sub_world(world: World, keep: Callable[[RunRecord], bool]) -> World:
    """The runs `keep` accepts, their truth and the world's noise (a smaller design of the same families)."""
    runs = tuple(r for r in world.runs if keep(r))
    return dataclasses.replace(world, runs=runs, truth={r.run_id: world.truth[r.run_id] for r in runs})
