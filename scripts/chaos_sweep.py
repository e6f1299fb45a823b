#!/usr/bin/env python
"""Chaos test of `archbench sweep`: kill it or its workers at random moments, resume it, compare with a clean sweep.

    python scripts/chaos_sweep.py --kills 50            # tiny built-in suite (mlp and convnet, 4 runs), default workers
    python scripts/chaos_sweep.py --kills 50 --suite my.toml --work /tmp/chaos

1. Sweep the suite uninterrupted into WORK/clean.
2. Sweep it into WORK/chaos-0 with the default workers and, after a random delay (uniform over the
   first half of the clean sweep's duration: each restart resumes further on, so a round takes a
   few signals, and they land in start-up, training, checkpointing and writing alike), send one
   signal: SIGKILL, SIGTERM or SIGINT to the sweep, or SIGKILL or SIGTERM to one of its
   workers (the sweep goes on without it). A killed sweep is started again, until one runs to its
   end; then compare (3). Repeat in fresh folders WORK/chaos-1, ... until KILLS signals have hit.
3. Compare: the same run_ids, each recorded exactly once, with equal metrics and status (an
   interrupted run recorded `failed` is a difference); no claim or checkpoint left over.

Checkpoints are written at every interval (`--checkpoint-every-s 0`), so most kills during
training resume from a checkpoint; the resumes are counted from the sweeps' own messages (each
sweep's standard error is kept in WORK/chaos-N/sweep-K.log). Metrics are compared for exact
equality: the trainer is deterministic for one compiled program on one machine, and a resumed run
restores every input. Exit code 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
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

# The suite of issue 25: two families (XLA's matmuls, Eigen's convolutions), a grid of rates and its
# extension (three phases, each checkpointed at its end), so kills meet every kind of checkpoint.
TINY_SUITE = """
name = "chaos"
datasets = ["mnist1d"]
architectures = ["mlp", "convnet"]
target_params = [2_000]
data_sizes = [200, 400]
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

# (what is hit, signal): a sweep killed outright, stopped as by `kill` or Ctrl-C, or one of its workers lost.
KILLS = (("sweep", signal.SIGKILL), ("sweep", signal.SIGTERM), ("sweep", signal.SIGINT), ("worker", signal.SIGKILL),
         ("worker", signal.SIGTERM))
RESUMED = "from its checkpoint after interval"  # what a sweep prints for each run it resumes


@dataclass
class ChaosResult:
    kills: int = 0  # signals that hit a running sweep or one of its workers
    kills_with_checkpoint: int = 0  # ... while a run had a checkpoint to resume from
    by_kind: Counter = field(default_factory=Counter)  # "SIGKILL to the sweep": n, ...
    resumes: int = 0  # runs resumed from a checkpoint, as the sweeps said
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


def checkpoint_steps(store: ResultsStore) -> set[Path]:
    """The finished checkpoint steps runs could resume from (RUN_ID/PHASE/STEP)."""
    root = store.dir / CHECKPOINTS_DIR
    return {p for p in root.glob("*/*/*") if p.name.isdigit()} if root.is_dir() else set()


def worker_pids(store: ResultsStore, sweep_pid: int) -> list[int]:
    """The processes other than the sweep that hold a claim: its workers, each with a run in hand."""
    pids = []
    for path in sorted((store.dir / CLAIMS_DIR).glob("*.json")):
        try:
            pid = json.loads(path.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            continue  # being written or removed
        if pid != sweep_pid:
            pids.append(pid)
    return pids


def start_sweep(suite: Path, results: Path, extra: list[str], log: Path) -> subprocess.Popen:
    """Start a sweep in the background, its standard error into `log` (this process keeps no file open)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        return subprocess.Popen(sweep_cmd(suite, results, extra), env=_env(), stdout=subprocess.DEVNULL, stderr=err)


class Round:
    """The sweeps of one round, started one after another into one folder, each with its own log."""

    def __init__(self, suite: Path, store: ResultsStore):
        self.suite, self.store, self.logs = suite, store, []

    def start(self) -> subprocess.Popen:
        self.logs.append(self.store.dir.parent / f"sweep-{len(self.logs)}.log")
        return start_sweep(self.suite, self.store.dir.parent, EXTRA, self.logs[-1])

    def resumes(self) -> int:
        return sum(" ".join(log.read_text(errors="replace").split()).count(RESUMED) for log in self.logs)  # lines wrap


def _wait(proc: subprocess.Popen, store: ResultsStore, delay_s: float, at_checkpoint: bool) -> bool:
    """Wait `delay_s` (or, `at_checkpoint`, until a run writes a new checkpoint, at most that long); True if the sweep ended."""
    deadline = time.monotonic() + delay_s
    before = checkpoint_steps(store) if at_checkpoint else set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        if at_checkpoint and checkpoint_steps(store) - before:
            return False
        time.sleep(0.02)
    return proc.poll() is not None


def run_chaos(
    suite: Path, clean: Path, work: Path, kills: int, max_delay_s: float, seed: int = 0, log=print,
    kinds: tuple[tuple[str, signal.Signals], ...] = KILLS, at_checkpoint: bool = False, budget_s: float = math.inf,
) -> ChaosResult:
    """Send `kills` signals (`kinds` in turn) to sweeps and their workers, comparing each round with `clean`.

    A signal lands after uniform(0, max_delay_s) seconds, or with `at_checkpoint` as soon as a run has
    written a new checkpoint step (mid-training, often mid-save: runs save at every interval). Work goes in rounds: a
    round sweeps into a fresh folder WORK/chaos-N, starting the sweep again whenever a signal stopped
    it, until one runs to its end (or the kills are used up, then one last resume), and compares that
    folder with the clean one. A sweep that lost a worker goes on, and may end with exit code 1.
    After `budget_s` seconds no more signals are sent: the round in hand is finished and compared.
    """
    from benchmarks.running.suite import load_suite

    name = load_suite(str(suite)).name
    rng = random.Random(seed)
    result = ChaosResult()
    round_no = 0
    stop_at = time.monotonic() + budget_s
    more = lambda: result.kills < kills and time.monotonic() < stop_at  # noqa: E731
    while more():
        store = ResultsStore(work / f"chaos-{round_no}", name)
        sweeps = Round(suite, store)
        proc = None
        while more():
            proc = proc or sweeps.start()
            delay = rng.uniform(0.0, max_delay_s)
            if _wait(proc, store, delay, at_checkpoint):
                break  # this sweep ran to its end: the round is complete
            target, sig = kinds[result.kills % len(kinds)]
            pids = worker_pids(store, proc.pid) if target == "worker" else []
            pid = pids[0] if pids else proc.pid  # no worker has a run in hand: the sweep is hit instead
            with_ckpt = bool(checkpoint_steps(store))
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue  # the worker ended meanwhile
            hit = "a worker" if pid != proc.pid else "the sweep"
            if pid == proc.pid:
                proc.wait()
                proc = None
            result.kills += 1
            result.kills_with_checkpoint += with_ckpt
            result.by_kind[f"{sig.name} to {hit}"] += 1
            n = len(store.records()) if store.path.exists() else 0
            log(f"round {round_no} kill {result.kills}: {sig.name} to {hit} after {delay:.1f}s; {n} records, "
                f"a checkpoint to resume from: {with_ckpt}")
        code = proc.wait() if proc is not None else None
        if code != 0 and sweeps.start().wait() != 0:  # killed, or lost a worker: one last resume
            result.problems.append(f"round {round_no}: final sweep failed: {sweeps.logs[-1].read_text()[-500:]}")
            return result
        problems = compare(ResultsStore(clean, name), store) + leftovers(store)
        result.problems += [f"round {round_no}: {p}" for p in problems]
        result.runs += len(store.records())
        result.resumes += sweeps.resumes()
        torn = store.dir / "runs.jsonl.torn"
        result.torn_lines += torn.read_text().count("\n") if torn.exists() else 0
        log(f"round {round_no}: complete, {len(store.records())} records, " + ("equal to the clean sweep" if not problems
                                                                               else f"{len(problems)} problems"))
        result.rounds += 1
        round_no += 1
    return result


def summary(result: ChaosResult) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.by_kind.items()))
    return (f"{result.kills} kills ({kinds}; {result.kills_with_checkpoint} while a checkpoint was on disk) over "
            f"{result.rounds} rounds; {result.resumes} runs resumed from a checkpoint; {result.runs} records compared; "
            f"{result.torn_lines} torn lines set aside; {len(result.problems)} problems")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20, help="how many signals to send to sweeps and their workers")
    p.add_argument("--suite", type=Path, default=None, help="suite file (default: a tiny mlp and convnet suite, 4 runs)")
    p.add_argument("--work", type=Path, default=None, help="folder for both result folders (default: a temp folder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    p.add_argument("--budget-s", type=float, default=math.inf,
                   help="send no more signals after this many seconds (the round in hand is finished and compared)")
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
    result = run_chaos(suite, work / "clean", work, args.kills, clean_s / 2, args.seed, budget_s=args.budget_s)
    print(f"{summary(result)}; results in {work}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    print("records equal to the uninterrupted sweep, none duplicated" if result.ok else "FAILED")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
