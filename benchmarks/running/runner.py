"""Execute one RunSpec: data -> sizing -> build -> train -> RunRecord.

The learning-rate search (benchmarks/running/lr_search.py) decides which trials
train and for how long (the full grid-and-extend search, or successive halving),
through one callback that trains rates on the tuning seeds; the other seeds then
train at the chosen rate. Each call of the trainer is a phase with its own
checkpoint, so a kill in a later phase trains no finished one again.
Each seed is scored at its evaluation with the lowest validation loss. The test
split is never looked at to choose. The record states the chosen rate, every
trial's validation loss, whether the choice sits on an edge of all the trials,
and whether the run converged.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

import architectures
from benchmarks import data
from benchmarks.data import online
from benchmarks.running import distributed, lr_search, protocol, sizing
from benchmarks.running.checkpoint import DEFAULT_EVERY_S
from benchmarks.running.programs import Model, Sparse, TrainConfig, device_data
from benchmarks.running.train import Checkpoint, Resumed, TrainOutput, default_pack, train
from benchmarks.spec import (
    RESULTS_VERSION,
    Curves,
    RunRecord,
    RunSpec,
    SeedResult,
    Splits,
    finite_or_null,
    training_flops,
)


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, str]:
    """What a record was measured on and with."""

    def version(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return {
        "archbench": version("archbench"),
        "git_sha": sha or "unknown",
        "results_version": RESULTS_VERSION,
        "jax": jax.__version__,
        "flax": version("flax"),
        "optax": version("optax"),
        "python": platform.python_version(),
        **distributed.describe(),  # platform, device kind and count, processes, host CPUs
        "host": platform.machine(),
        **thread_layout(),
    }


def thread_layout() -> dict[str, str]:
    """The cores this process may run on and XLA's CPU flags: they change float rounding, so a record says them."""
    try:
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cpus = "any"
    return {"cpu_affinity": cpus, "xla_flags": os.environ.get("XLA_FLAGS", "")}


_flops = functools.lru_cache(maxsize=256)(sizing.flops_per_example)
solve_size = sizing.solve  # cached there: a sweep checks every run's size before training, then trains it


@dataclass(frozen=True)
class RunOptions:
    """How this process trains runs: choices that never change a run's result, so not part of its RunSpec."""

    shard_params: bool = False  # split parameters and optimizer state over the devices instead of replicating them
    checkpoint_every_s: float = DEFAULT_EVERY_S  # checkpoint a run in progress this often (0: every interval)


@functools.lru_cache(maxsize=64)
def load_splits(dataset: str) -> Splits:
    """A dataset's prepared splits, once per process (the Arrow cache makes the first call cheap too)."""
    return data.load(dataset)


_data_version = functools.lru_cache(maxsize=64)(data.version)  # once per process, as the splits


def run_id(spec: RunSpec, data_version: str | None = None) -> str:
    """The spec's content hash, with the family's version and the dataset's version (from its name and
    options, without loading it; `data_version` where the splits are given rather than named). Your files
    count by their content, never by the spelling of their path (`benchmarks.data.run_identity`)."""
    return spec.run_id(arch_version=architectures.get(spec.arch).version,
                       data_version=data_version or _data_version(spec.dataset),
                       dataset_identity=data.run_identity(spec.dataset))


def _history(out: TrainOutput) -> list[dict[str, np.ndarray]]:
    n = len(out.steps)
    return [{k: v[:, i] for k, v in out.curves.items()} for i in range(n)]


def _seed_results(seeds: Sequence[int], out: TrainOutput, members: Sequence[int], scored_at: str) -> list[SeedResult]:
    """Each seed's figures at its scored evaluation (best on validation, or the last), and at the last step it
    trained (its early stop, where it stopped)."""
    c = out.curves
    best = protocol.scored_eval(c["val_loss"], scored_at)
    results = []
    for seed, m in zip(seeds, members):
        b, last = int(best[m]), int(out.evals_run[m]) - 1
        if scored_at == "last_step":
            b = last
        results.append(SeedResult(
            seed=seed,
            train_loss=finite_or_null(c["train_loss"][m, b]),
            val_loss=finite_or_null(c["val_loss"][m, b]),
            val_acc=finite_or_null(c["val_acc"][m, b]),
            test_loss=finite_or_null(c["test_loss"][m, b]),
            test_acc=finite_or_null(c["test_acc"][m, b]),
            diverged_step=int(out.diverged_step[m]) if out.diverged_step[m] >= 0 else None,
            best_step=out.steps[b],
            converged=protocol.has_converged(c["val_loss"][m, :last + 1]),
            final_val_loss=finite_or_null(c["val_loss"][m, last]),
            final_test_loss=finite_or_null(c["test_loss"][m, last]),
            final_test_acc=finite_or_null(c["test_acc"][m, last]),
            stopped_step=out.steps[last] if last + 1 < len(out.steps) else None,
            test_position_loss=(finite_or_null([float(v) for v in c["test_position_loss"][m, b]])
                                if "test_position_loss" in c else None),
        ))
    return results


def execute(
    spec: RunSpec,
    options: RunOptions = RunOptions(),
    on_progress: Callable[[int, int], None] | None = None,
    capacity: int | None = None,
    splits: Splits | None = None,
    checkpoint: Checkpoint | None = None,
    sparse_for: Callable[[Sequence[int]], Sparse] | None = None,
    keep_step: int | None = None,
    on_phase: Callable[[Sequence[tuple[float, int]], TrainOutput], None] | None = None,
) -> RunRecord:
    """Train `spec` and return its record (status `ok` or `diverged`); bad input raises UserError.

    `capacity` pads the training pool on the device to that many rows, so runs that differ only in
    data size share one compiled program (sampling never reaches the padding; results are unchanged).
    `splits` replaces the dataset named by the spec (tests, notebooks).
    `checkpoint` resumes the run from its last checkpoint and saves new ones as it trains.
    `options` say how to train it (parameter sharding), never what it computes.
    Sparse training (benchmarks/running/tickets.py): `sparse_for(seeds)` gives the masks and starting values of
    a phase's members (their seeds in order); `keep_step` keeps parameters at that step; `on_phase(members,
    output)` sees each phase's (rate, seed) members and output, final and kept parameters included.
    """
    splits = splits if splits is not None else load_splits(spec.dataset)
    offsets = None  # online: each seed's first row in the pool of fresh examples
    if spec.regime == "online":
        view, offsets = online.online_view(splits, spec.dataset, spec.data_size, spec.seeds, at_least=capacity or 0)
    else:
        view = data.training_view(splits, spec.data_size)
    sized = solve_size(spec.arch, splits.task, spec.target_params, spec.param_tolerance)
    model = Model.create(spec.arch, splits.task, sized.shape)
    cfg = TrainConfig.from_spec(spec, shard_params=options.shard_params)
    device = device_data(view, capacity)
    tuners = spec.seeds[:spec.lr_tune_seeds or len(spec.seeds)]  # the seeds that try every rate
    others = spec.seeds[len(tuners):]  # trained at the chosen rate only
    k = len(tuners)
    n_evals = spec.steps // spec.eval_every
    policy = lr_search.LrPolicy.of_spec(spec)
    halving = policy.halves(n_evals)
    # Calls of the trainer: grid (+ extension); or grid and extension to the rung, then the kept trials on.
    phases = 1 + bool(policy.trials and policy.extend) + halving + bool(others)
    pack = default_pack(architectures.get(spec.arch).cpu_vmap)
    calls: list[int] = []  # phases run so far

    def phase(members: list[tuple[float, int]], until: int | None = None, start: Resumed | None = None) -> TrainOutput:
        """Train (rate, seed) members; a finished phase is saved, so a kill in a later one does not train it again."""
        index = len(calls)
        progress = None if on_progress is None else (lambda done, total: on_progress(index * n_evals + done, phases * n_evals))
        ck = checkpoint.phase(f"phase{index}") if checkpoint is not None else None
        seeds = [s for _, s in members]
        out = train(model, cfg, device, seeds=seeds, lrs=[lr for lr, _ in members],
                    n_train=[spec.data_size] * len(members), steps=spec.steps, on_eval=progress, checkpoint=ck, pack=pack,
                    patience=spec.patience,
                    offsets=None if offsets is None else [offsets[spec.seeds.index(s)] for s in seeds],
                    sparse=sparse_for(seeds) if sparse_for is not None else None, keep_step=keep_step,
                    until=until, start=start)
        if on_phase is not None:
            on_phase(members, out)
        if ck is not None and index + 1 < phases:
            ran = n_evals if until is None else until
            ck.save(ran, n_evals, out.state, _history(out)[:ran], out.train_s)
        calls.append(index)
        return out

    def train_trials(rates: Sequence[float], until: int | None = None, start: Resumed | None = None) -> TrainOutput:
        return phase([(lr, s) for lr in rates for s in tuners], until, start)

    found = lr_search.search(policy, n_evals, train_trials, spec.scored_at)
    out, rates, mean_val, best = found.out, found.rates, found.scores, found.chosen
    chosen = list(range(best * k, (best + 1) * k))
    if others:
        n_tried = len(rates) * k
        out = lr_search.concat(out, phase([(rates[best], s) for s in others]))
        chosen += list(range(n_tried, n_tried + len(others)))
    seeds = _seed_results(spec.seeds, out, chosen, spec.scored_at)
    diverged = out.diverged_step[chosen]
    status, reason = "ok", ""
    if (diverged >= 0).any():
        first = int(diverged[diverged >= 0].min())
        status, reason = "diverged", f"loss became non-finite at step {first} (lr {rates[best]:g})"
    curves = Curves(
        step=out.steps,
        **{m: [[finite_or_null(v) for v in out.curves[m][i]] for i in chosen]
           for m in ("train_loss", "test_loss", "test_acc", "val_loss", "val_acc")},
    )
    train_s = max(out.train_s, 1e-9)
    member_steps = int(out.evals_run.sum()) * spec.eval_every  # every trial and seed, up to its early stop
    flops = _flops(spec.arch, splits.task, sized.shape)
    return RunRecord(
        run_id=run_id(spec, splits.version),
        spec=spec,
        status=status,
        reason=reason,
        shape=sized.shape.as_dict(),
        params=sized.params,
        flops_per_example=flops,
        train_flops=training_flops(flops, spec.steps * spec.batch_size),
        lr=float(rates[best]),
        lr_trials={f"{lr:g}": finite_or_null(v) for lr, v in zip(rates, mean_val)},
        lr_at_edge=bool(spec.lr_trials) and found.at_edge(),
        lr_search=lr_search.record(found, out.steps, policy),
        converged=all(s.converged for s in seeds),
        epochs=spec.steps * spec.batch_size / spec.data_size,
        seeds=seeds,
        curves=curves,
        wall_s=out.compile_s + out.train_s,
        compile_s=out.compile_s,
        steps_per_s=member_steps / train_s,  # member-steps: every trial and seed counted
        examples_per_s=member_steps * spec.batch_size / train_s,
        data_version=splits.version,
        env=environment(),
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
