#!/usr/bin/env python
"""Chaos test of `archbench sweep`: SIGKILL it at random moments, resume it, compare with a clean sweep.

    python scripts/chaos_sweep.py --kills 20            # tiny built-in suite (mlp, 3 runs of 100 steps)
    python scripts/chaos_sweep.py --kills 50 --suite my.toml --work /tmp/chaos

1. Sweep the suite uninterrupted into WORK/clean.
2. Sweep it into WORK/chaos-0, killing the process with SIGKILL after a random delay (uniform over
   the clean sweep's duration, so kills land in start-up, training, checkpointing and writing
   alike) and starting it again, until a restart completes; then compare (3). Repeat in fresh
   folders WORK/chaos-1, ... until KILLS kills have hit a running sweep.
3. Compare: the same run_ids, each recorded exactly once, with equal metrics (per-seed results,
   learning curves, chosen lr, parameter count, FLOPs, status); no claim or checkpoint left over.

Checkpoints are written at every interval (`--checkpoint-every-s 0`), so most kills during
training resume from a checkpoint. Metrics are compared for exact equality: the trainer is
deterministic for one compiled program on one machine, and a resumed run restores every input.
Exit code 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.layout import CHECKPOINTS_DIR, CLAIMS_DIR  # noqa: E402
from benchmarks.running.store import ResultsStore  # noqa: E402

TINY_SUITE = """
name = "chaos"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [200, 400, 800]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 100
max_steps = 100
batch_size = 32
eval_every = 10
[lr]
trials = [1e-3, 3e-3]
extend = 1
"""

# What must be equal between a clean and a killed-and-resumed sweep (times and dates may differ).
EXTRA = ["--checkpoint-every-s", "0"]
COMPARED = ("run_id", "spec", "status", "reason", "shape", "params", "flops_per_example", "lr", "lr_trials", "lr_at_edge",
            "converged", "epochs", "seeds", "curves")


@dataclass
class ChaosResult:
    kills: int = 0  # SIGKILLs that hit a running sweep
    kills_with_checkpoint: int = 0  # ... while a run had a checkpoint to resume from
    problems: list[str] = field(default_factory=list)
    runs: int = 0  # records checked, over all rounds
    rounds: int = 0
    torn_lines: int = 0  # torn record lines moved aside by the store

    @property
    def ok(self) -> bool:
        return not self.problems


def sweep_cmd(suite: Path, results: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.cli", "sweep", str(suite), "--results-dir", str(results), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}


def compare(clean: ResultsStore, chaos: ResultsStore) -> list[str]:
    """Differences between two stores' records (empty: equal, nothing duplicated)."""
    problems = []
    a, b = clean.records(), chaos.records()
    ids_b = [r.run_id for r in b]
    dups = sorted(i for i, n in Counter(ids_b).items() if n > 1)
    if dups:
        problems.append(f"duplicated run_ids: {dups}")
    if {r.run_id for r in a} != set(ids_b):
        problems.append(f"run_ids differ: clean {sorted(r.run_id for r in a)}, chaos {sorted(set(ids_b))}")
    by_id = {r.run_id: asdict(r) for r in b}
    for rec in a:
        other = by_id.get(rec.run_id)
        if other is None:
            continue
        mine = asdict(rec)
        for key in COMPARED:
            if mine[key] != other[key]:
                problems.append(f"{rec.run_id}: {key} differs: clean {mine[key]!r} vs chaos {other[key]!r}"[:400])
    return problems


def leftovers(store: ResultsStore) -> list[str]:
    out = []
    for sub in (CLAIMS_DIR, CHECKPOINTS_DIR):
        folder = store.dir / sub
        if folder.is_dir() and any(folder.iterdir()):
            out.append(f"left over in {folder}: {sorted(p.name for p in folder.iterdir())}")
    return out


def clean_sweep(suite: Path, results: Path) -> float:
    """Sweep uninterrupted; returns its wall time (start-up included)."""
    t0 = time.perf_counter()
    done = subprocess.run(sweep_cmd(suite, results, EXTRA), env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"clean sweep failed: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def run_chaos(
    suite: Path, clean: Path, work: Path, kills: int, max_delay_s: float, seed: int = 0, log=print
) -> ChaosResult:
    """SIGKILL sweeps after uniform(0, max_delay_s) seconds until `kills` kills have landed, comparing with `clean`.

    Work goes in rounds: a round sweeps into a fresh folder WORK/chaos-N, killing and restarting the
    sweep until a restart runs to completion (or the kills are used up, then one last resume), and
    compares that folder with the clean one. Rounds repeat until `kills` SIGKILLs have hit a running sweep.
    """
    from benchmarks.running.suite import load_suite

    name = load_suite(str(suite)).name
    rng = random.Random(seed)
    result = ChaosResult()
    round_no = 0
    while result.kills < kills:
        store = ResultsStore(work / f"chaos-{round_no}", name)
        while result.kills < kills:
            proc = subprocess.Popen(sweep_cmd(suite, store.dir.parent, EXTRA), env=_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            delay = rng.uniform(0.0, max_delay_s)
            try:
                proc.wait(timeout=delay)
                break  # this restart finished the sweep: the round is complete
            except subprocess.TimeoutExpired:
                pass
            ckpts = store.dir / "checkpoints"
            with_ckpt = ckpts.is_dir() and any(p.is_dir() and any(p.iterdir()) for p in ckpts.iterdir())
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            result.kills += 1
            result.kills_with_checkpoint += with_ckpt
            n = len(store.records()) if store.path.exists() else 0
            log(f"round {round_no} kill {result.kills}: SIGKILL after {delay:.1f}s; {n} records, "
                f"a checkpoint to resume from: {with_ckpt}")
        final = subprocess.run(sweep_cmd(suite, store.dir.parent, EXTRA), env=_env(), capture_output=True, text=True)
        if final.returncode != 0:
            result.problems.append(f"round {round_no}: final sweep failed: {final.stderr.strip()[-500:]}")
            return result
        problems = compare(ResultsStore(clean, name), store) + leftovers(store)
        result.problems += [f"round {round_no}: {p}" for p in problems]
        result.runs += len(store.records())
        torn = store.dir / "runs.jsonl.torn"
        result.torn_lines += torn.read_text().count("\n") if torn.exists() else 0
        log(f"round {round_no}: complete, {len(store.records())} records, " + ("equal to the clean sweep" if not problems
                                                                               else f"{len(problems)} problems"))
        result.rounds += 1
        round_no += 1
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20, help="how many times to SIGKILL the sweep")
    p.add_argument("--suite", type=Path, default=None, help="suite file (default: a tiny mlp suite, 3 runs)")
    p.add_argument("--work", type=Path, default=None, help="folder for both result folders (default: a temp folder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    args = p.parse_args(argv)
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="archbench-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    suite = args.suite
    if suite is None:
        suite = work / "chaos.toml"
        suite.write_text(TINY_SUITE)
    clean_s = clean_sweep(suite, work / "clean")
    print(f"clean sweep: {clean_s:.1f}s")
    result = run_chaos(suite, work / "clean", work, args.kills, clean_s, args.seed)
    print(f"{result.kills} SIGKILLs ({result.kills_with_checkpoint} with a checkpoint to resume from) over "
          f"{result.rounds} rounds; {result.runs} records compared; {result.torn_lines} torn lines set aside; "
          f"results in {work}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    print("records equal to the uninterrupted sweep, none duplicated" if result.ok else "FAILED")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
