"""Execute one RunSpec: data -> sizing -> build -> train -> RunRecord.

Learning-rate policy: with `lr_trials`, every trial trains (all seeds, in the
same compiled program) and the one with the lowest mean validation loss is
kept; the test split is never looked at to choose. The record states the
chosen rate and every trial's validation loss.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

import architectures
from benchmarks import data
from benchmarks.running import distributed, sizing
from benchmarks.running.checkpoint import DEFAULT_EVERY_S
from benchmarks.running.train import Checkpoint, Model, TrainConfig, device_data, train
from benchmarks.spec import RESULTS_VERSION, Curves, RunRecord, RunSpec, SeedResult, Splits, finite_or_null


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
    options, without loading it; `data_version` where the splits are given rather than named)."""
    return spec.run_id(arch_version=architectures.get(spec.arch).version,
                       data_version=data_version or _data_version(spec.dataset))


def execute(
    spec: RunSpec,
    options: RunOptions = RunOptions(),
    on_progress: Callable[[int, int], None] | None = None,
    capacity: int | None = None,
    splits: Splits | None = None,
    checkpoint: Checkpoint | None = None,
) -> RunRecord:
    """Train `spec` and return its record (status `ok` or `diverged`); bad input raises UserError.

    `capacity` pads the training pool on the device to that many rows, so runs that differ only in
    data size share one compiled program (sampling never reaches the padding; results are unchanged).
    `splits` replaces the dataset named by the spec (tests, notebooks).
    `checkpoint` resumes the run from its last checkpoint and saves new ones as it trains.
    `options` say how to train it (parameter sharding), never what it computes.
    """
    splits = splits if splits is not None else load_splits(spec.dataset)
    view = data.training_view(splits, spec.data_size)
    sized = solve_size(spec.arch, splits.task, spec.target_params, spec.param_tolerance)
    model = Model.create(spec.arch, splits.task, sized.shape)
    cfg = TrainConfig.from_spec(spec, shard_params=options.shard_params)
    lrs = spec.lr_trials or (spec.lr,)
    members = [(lr, seed) for lr in lrs for seed in spec.seeds]
    out = train(
        model, cfg, device_data(view, capacity),
        seeds=[s for _, s in members], lrs=[lr for lr, _ in members], n_train=[spec.data_size] * len(members),
        on_eval=on_progress, checkpoint=checkpoint,
    )
    k = len(spec.seeds)
    val = out.final("val_loss").reshape(len(lrs), k)
    mean_val = np.where(np.isfinite(val).all(axis=1), val.mean(axis=1), np.inf)
    best = int(np.argmin(mean_val))
    chosen = slice(best * k, (best + 1) * k)
    diverged = out.diverged_step[chosen]
    seeds = [
        SeedResult(
            seed=seed,
            train_loss=finite_or_null(out.final("train_loss")[m]),
            val_loss=finite_or_null(out.final("val_loss")[m]),
            val_acc=finite_or_null(out.final("val_acc")[m]),
            test_loss=finite_or_null(out.final("test_loss")[m]),
            test_acc=finite_or_null(out.final("test_acc")[m]),
            diverged_step=int(out.diverged_step[m]) if out.diverged_step[m] >= 0 else None,
        )
        for seed, m in zip(spec.seeds, range(chosen.start, chosen.stop))
    ]
    status, reason = "ok", ""
    if (diverged >= 0).any():
        first = int(diverged[diverged >= 0].min())
        status, reason = "diverged", f"loss became non-finite at step {first} (lr {lrs[best]:g})"
    curves = Curves(
        step=out.steps,
        **{m: [[finite_or_null(v) for v in row] for row in out.curves[m][chosen]] for m in ("train_loss", "test_loss", "test_acc")},
    )
    return RunRecord(
        run_id=run_id(spec, splits.version),
        spec=spec,
        status=status,
        reason=reason,
        shape=sized.shape.as_dict(),
        params=sized.params,
        flops_per_example=_flops(spec.arch, splits.task, sized.shape),
        lr=float(lrs[best]),
        lr_trials={f"{lr:g}": finite_or_null(v) for lr, v in zip(lrs, mean_val)},
        seeds=seeds,
        curves=curves,
        wall_s=out.compile_s + out.train_s,
        compile_s=out.compile_s,
        steps_per_s=spec.steps / out.train_s,
        examples_per_s=spec.steps * spec.batch_size / out.train_s,  # per member, as steps_per_s
        data_version=splits.version,
        env=environment(),
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
