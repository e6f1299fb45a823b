"""The compute-efficient frontier of one dataset's runs: the lowest held-out loss reached at each level
of training compute, and which architecture holds it where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks import spec
from benchmarks.analysis.stats import mean_ci, run_log_losses, usable
from benchmarks.spec import RunRecord


def training_flops(record: RunRecord) -> float:
    """Training compute of one seed: forward+backward ≈ 3× the measured forward FLOPs, over the examples seen
    (the record's own figure where it states one)."""
    if record.train_flops > 0:
        return record.train_flops
    return spec.training_flops(record.flops_per_example, record.spec.steps * record.spec.batch_size)


@dataclass(frozen=True)
class FrontierPoint:
    """A run on the compute-efficient frontier: no run with less or equal compute reached a lower loss."""

    compute: float  # training FLOPs per seed
    loss: float  # mean held-out loss over seeds
    lo: float
    hi: float
    arch: str
    target_params: int
    params: int
    data_size: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def one_dataset(records: Sequence[RunRecord]) -> str:
    datasets = {r.spec.dataset for r in records}
    if len(datasets) > 1:
        raise ValueError(f"records of several datasets ({', '.join(sorted(datasets))}); split them first")
    return datasets.pop() if datasets else ""


def compute_frontier(records: Sequence[RunRecord]) -> list[FrontierPoint]:
    """The best loss reached at each compute level (one dataset), in increasing compute, and who holds it."""
    one_dataset(records)
    runs = [r for r in usable(records)[0] if r.flops_per_example > 0]
    rows = []
    for r in runs:
        mean, lo, hi = mean_ci(np.exp(run_log_losses(r)))
        rows.append(FrontierPoint(training_flops(r), mean, lo, hi, r.spec.arch, r.spec.target_params,
                                  r.params, r.spec.data_size))
    frontier: list[FrontierPoint] = []
    for p in sorted(rows, key=lambda p: (p.compute, p.loss)):
        if not frontier or p.loss < frontier[-1].loss:
            frontier.append(p)
    return frontier


def frontier_holders(frontier: Sequence[FrontierPoint]) -> list[tuple[str, float, float]]:
    """Consecutive stretches of the frontier held by one architecture: (arch, from FLOPs, to FLOPs)."""
    out: list[tuple[str, float, float]] = []
    for p in frontier:
        if out and out[-1][0] == p.arch:
            out[-1] = (p.arch, out[-1][1], p.compute)
        else:
            out.append((p.arch, p.compute, p.compute))
    return out
