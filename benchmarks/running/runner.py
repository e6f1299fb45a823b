"""Execute one RunSpec: data -> sizing -> build -> train -> RunRecord.

Learning-rate policy (benchmarks/running/protocol.py): with `lr_trials`, every
trial trains (all seeds, in the same compiled program), then `lr_extend` more
trials (outward from an edge holding the best, else refining it, in a second
program call); the trial with the lowest mean best validation loss is kept.
Each seed is scored at its evaluation with the lowest validation loss. The test
split is never looked at to choose. The record states the chosen rate, every
trial's validation loss, whether the choice sits on an edge of all the trials,
and whether the run converged.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
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
from benchmarks.running import distributed, protocol, sizing
from benchmarks.running.checkpoint import DEFAULT_EVERY_S
from benchmarks.running.programs import Model, Sparse, TrainConfig, device_data
from benchmarks.running.train import Checkpoint, TrainOutput, default_pack, train
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
    }


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


def _concat(a: TrainOutput, b: TrainOutput) -> TrainOutput:
    """Two phases' members side by side (same evaluation steps)."""
    return TrainOutput(
        curves={k: np.concatenate([a.curves[k], b.curves[k]]) for k in a.curves},
        steps=a.steps, evals_run=np.concatenate([a.evals_run, b.evals_run]),
        diverged_step=np.concatenate([a.diverged_step, b.diverged_step]), state=a.state,
        compile_s=a.compile_s + b.compile_s, train_s=a.train_s + b.train_s,
    )


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
    extend = spec.lr_extend if spec.lr_trials else 0
    phases = 1 + bool(extend) + bool(others)
    pack = default_pack(architectures.get(spec.arch).cpu_vmap)

    def phase(members: list[tuple[float, int]], index: int) -> TrainOutput:
        """Train (rate, seed) members; a finished phase is saved, so a kill in a later one does not train it again."""
        progress = None if on_progress is None else (lambda done, total: on_progress(index * n_evals + done, phases * n_evals))
        ck = checkpoint.phase(f"phase{index}") if checkpoint is not None else None
        seeds = [s for _, s in members]
        out = train(model, cfg, device, seeds=seeds, lrs=[lr for lr, _ in members],
                    n_train=[spec.data_size] * len(members), steps=spec.steps, on_eval=progress, checkpoint=ck, pack=pack,
                    patience=spec.patience,
                    offsets=None if offsets is None else [offsets[spec.seeds.index(s)] for s in seeds],
                    sparse=sparse_for(seeds) if sparse_for is not None else None, keep_step=keep_step)
        if on_phase is not None:
            on_phase(members, out)
        if ck is not None and index + 1 < phases:
            ck.save(n_evals, n_evals, out.state, _history(out), out.train_s)
        return out

    def scores(out: TrainOutput, n_rates: int) -> np.ndarray:
        val_MxE = np.where(np.isfinite(out.curves["val_loss"]), out.curves["val_loss"], np.inf)
        scored = protocol.scored_eval(val_MxE, spec.scored_at)
        best_val = np.take_along_axis(val_MxE, scored[:, None], axis=1)[:, 0]  # the scored evaluation's loss
        best_val = np.where(out.diverged_step >= 0, np.inf, best_val)
        return protocol.trial_scores(best_val.reshape(n_rates, k))

    rates = list(spec.lr_trials or (spec.lr,))
    out = phase([(lr, s) for lr in rates for s in tuners], 0)
    if extend:
        more = protocol.extension_rates(rates, scores(out, len(rates)), extend)
        out = _concat(out, phase([(lr, s) for lr in more for s in tuners], 1))
        rates += more
    mean_val = scores(out, len(rates))
    best = int(np.argmin(mean_val))
    chosen = list(range(best * k, (best + 1) * k))
    if others:
        n_tried = len(rates) * k
        out = _concat(out, phase([(rates[best], s) for s in others], phases - 1))
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
        lr_at_edge=bool(spec.lr_trials) and protocol.at_edge(rates, mean_val),
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
