#!/usr/bin/env python
"""The MNIST-1D paper's table beside ours, read from the records of the `paper` suite.

    python scripts/paper_table.py                                  # results/reference/paper
    python scripts/paper_table.py --results-dir /tmp/paper-results

Prints a Markdown table: for each dataset and model, our mean test accuracy over seeds with its
95% Student-t interval (the records' scored figure: the last step, as the paper reports) beside
the paper's, the difference, and the figure at each seed's lowest validation loss (our default
protocol, recomputed from the records' curves), then the checks the paper's claims make: every
cell within ±4 points, CNN > GRU > MLP on mnist1d, the MLP unchanged by the shuffle (within ±4
points), CNN and GRU losing their edge over the MLP. Exit code 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import architectures
from benchmarks.analysis.stats import Estimate
from benchmarks.running.store import ResultsStore, newest
from benchmarks.spec import RunRecord

# greydanus/mnist1d README, "Comparing MNIST and MNIST-1D" (test accuracy, %), by the family that is
# the paper's model here (benchmarks/suites/paper.toml).
PAPER = {
    "mnist1d": {"linear": 32, "mlp": 68, "convnet": 94, "bigru": 91},
    "mnist1d-shuffled": {"linear": 32, "mlp": 68, "convnet": 56, "bigru": 57},
}
MODEL_NAMES = {"linear": "logistic regression", "mlp": "MLP", "convnet": "CNN", "bigru": "GRU"}
TOLERANCE = 4.0  # points


def at_best_val_loss(record: RunRecord) -> Estimate:
    """Mean test accuracy over seeds at each seed's lowest validation loss (from the learning curves)."""
    c = record.curves
    accs = []
    for val, acc in zip(c.val_loss, c.test_acc, strict=True):
        v = np.array([np.inf if x is None else x for x in val])
        accs.append(acc[int(np.argmin(v))])
    return Estimate.over_seeds(accs)


def pct(e: Estimate) -> str:
    return f"{100 * e.value:.1f} ± {100 * e.half_width:.1f}" if np.isfinite(e.half_width) else f"{100 * e.value:.1f}"


def table(records: list[RunRecord]) -> tuple[list[str], list[str], bool]:
    """(Markdown lines, check lines, whether every check holds)."""
    by_cell = {(r.spec.dataset, architectures.get(r.spec.arch).name): r for r in newest(records) if r.status == "ok"}
    ours: dict[tuple[str, str], float] = {}
    lines = [
        "| dataset | model | ours: architecture (params) | ours, last step | paper | difference | ours, best val loss |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for dataset, paper in PAPER.items():
        for family, theirs in paper.items():
            r = by_cell.get((dataset, family))
            if r is None:
                lines.append(f"| {dataset} | {MODEL_NAMES[family]} | (no record) | | {theirs}% | | |")
                continue
            acc = Estimate.over_seeds(s.test_acc for s in r.seeds)
            ours[dataset, family] = 100 * acc.value
            lines.append(
                f"| {dataset} | {MODEL_NAMES[family]} | `{r.spec.arch}` ({r.params:,}) | {pct(acc)}% | {theirs}% | "
                f"{100 * acc.value - theirs:+.1f} | {pct(at_best_val_loss(r))}% |"
            )
    checks: list[tuple[bool, str]] = []
    for (dataset, family), value in sorted(ours.items()):
        theirs = PAPER[dataset][family]
        checks.append((abs(value - theirs) <= TOLERANCE,
                       f"{dataset} {MODEL_NAMES[family]}: {value:.1f}% vs {theirs}% (within ±{TOLERANCE:g})"))
    if len(ours) == sum(len(p) for p in PAPER.values()):
        o = lambda d, f: ours[d, f]
        checks.append((o("mnist1d", "convnet") > o("mnist1d", "bigru") > o("mnist1d", "mlp"), "CNN > GRU > MLP on mnist1d"))
        checks.append((abs(o("mnist1d", "mlp") - o("mnist1d-shuffled", "mlp")) <= TOLERANCE,
                       "the MLP unchanged by the shuffle (within ±4 points)"))
        for family in ("convnet", "bigru"):
            edge = o("mnist1d", family) - o("mnist1d", "mlp")
            shuffled_edge = o("mnist1d-shuffled", family) - o("mnist1d-shuffled", "mlp")
            checks.append((shuffled_edge <= 0 < edge, f"{MODEL_NAMES[family]} loses its edge over the MLP: "
                           f"{edge:+.1f} points on mnist1d, {shuffled_edge:+.1f} shuffled"))
    else:
        checks.append((False, "every cell of the paper's table has a record"))
    return lines, [("ok    " if ok else "MISS  ") + text for ok, text in checks], all(ok for ok, _ in checks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results-dir", default="results/reference", help="folder holding paper/runs.jsonl")
    p.add_argument("--suite", default="paper")
    args = p.parse_args(argv)
    lines, checks, ok = table(ResultsStore(args.results_dir, args.suite).records())
    print("\n".join(lines + [""] + checks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
