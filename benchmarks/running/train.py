"""One training loop for every architecture.

A run trains M members at once: every (learning rate, seed) pair of a RunSpec,
stacked with `jax.vmap` into one compiled program. What differs between members
(seed, learning rate, training-set size, length of the schedule) is an argument
of the program, never a constant baked into it, so one compiled program serves
every run of a family at one shape, batch size and precision. Between two held-out
evaluations the steps run fused in one `lax.scan` (no Python per step), with
minibatches drawn on the device; the Python driver only loops over evaluation
intervals, to record learning curves and to checkpoint (`Checkpoint`). The programs it
drives are in benchmarks/running/programs.py.

Under several devices the same program runs sharded (benchmarks/running/distributed.py):
each step's minibatch is split over the devices along its batch axis, parameters
and optimizer state are replicated (or split, with `shard_params`); on one device
nothing changes.

Each member's randomness depends on its seed alone (init from
`fold_in(key(seed), 0)`, minibatches from `fold_in(key(seed), 1)`), so a seed
trains the same whether it runs alone or beside others, at any learning rate.

Shape letters: M members (lr x seed), B batch, N examples of a split.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks.running import distributed, protocol
from benchmarks.running.programs import (
    Data,
    Members,
    Model,
    Sparse,
    TrainConfig,
    TrainState,
    apply_mask,
    compiled_init,
    compiled_run,
    compiled_test,
    test_shapes,
)


@dataclass(frozen=True)
class Resumed:
    """Where a checkpointed run stopped: its state after `len(history)` intervals."""

    state: TrainState
    history: list[dict[str, np.ndarray]]  # per finished interval: metric -> M
    train_s: float  # training time already spent (wall clock, before the kill)


class Checkpoint(Protocol):
    """What `train` needs to save a run at interval boundaries and resume it (see benchmarks/running/checkpoint.py)."""

    def restore(self, like: TrainState) -> Resumed | None:
        """The last saved state (placed like `like`), or None to start from scratch."""
        ...

    def on_interval(self, done: int, total: int, state: TrainState, history: list[dict[str, jax.Array]], train_s: float) -> None:
        """Called after every interval but the last; saves when its clock says so."""
        ...

    def save(self, done: int, total: int, state: TrainState, history: list[dict[str, jax.Array]], train_s: float) -> None:
        """Save now (a finished phase, so a later phase's interruption does not train it again)."""
        ...

    def phase(self, name: str) -> Checkpoint:
        """The checkpoints of one phase of the run."""
        ...


@dataclass(frozen=True)
class TrainOutput:
    """Per-member results, in the order of the members passed to `train`."""

    curves: dict[str, np.ndarray]  # metric -> M x n_evals (NaN after a member stopped early)
    steps: list[int]  # step of each curve point
    evals_run: np.ndarray  # M: evaluations each member trained through (n_evals unless it stopped early)
    diverged_step: np.ndarray  # M, -1 where finite throughout
    state: TrainState  # final state of every member (stacked on axis 0)
    compile_s: float
    train_s: float
    kept: nnx.State | None = None  # every member's parameters at `train(keep_step=...)` (stacked on axis 0)

    def final(self, metric: str) -> np.ndarray:
        return self.curves[metric][:, -1]


def _join(states: Sequence[TrainState]) -> TrainState:
    """Chunks of members as one state (members along axis 0)."""
    return states[0] if len(states) == 1 else jax.tree.map(lambda *xs: jnp.concatenate(xs), *states)


def _split(state: TrainState, pack: int) -> list[TrainState]:
    m = jax.tree.leaves(state)[0].shape[0]
    return [jax.tree.map(lambda x, j=j: x[j:j + pack], state) for j in range(0, m, pack)]


def _test_points(model: Model, cfg: TrainConfig, data: Data, states: Sequence[TrainState], chunks: Sequence[list[int]],
                 val_host: list[np.ndarray], evals_run: np.ndarray, i: int, n_evals: int) -> dict[str, jax.Array]:
    """The test split after interval i, for the members where the scored checkpoint can be: a new best on
    validation (the scored evaluation of `best_val_loss`) or their last evaluation (the final figures, and the
    scored one of `last_step`); NaN for the others. A chunk none of whose members needs it is not evaluated."""
    now = val_host[-1]
    before = np.min(np.where(np.isfinite(val_host[:-1]), val_host[:-1], np.inf), axis=0) if i else np.full(len(now), np.inf)
    need = (np.isfinite(now) & (now < before)) | (evals_run == i + 1) | (i + 1 == n_evals)
    need &= evals_run > i
    parts = []
    for state, c in zip(states, chunks):
        want = need[c]
        if want.any():
            got = compiled_test(model, cfg, state, data)(state, data)
            parts.append({k: _where_members(want, v) for k, v in got.items()})
        else:
            parts.append({k: jnp.full((len(c), *shape), jnp.nan) for k, shape in test_shapes(model, data).items()})
    return {k: jnp.concatenate([p[k] for p in parts]) for k in parts[0]}


def _where_members(keep_M: np.ndarray, v: jax.Array) -> jax.Array:
    """A metric of M members (M, or M x L per position) with NaN for the members not kept."""
    return jnp.where(keep_M.reshape(-1, *[1] * (v.ndim - 1)), v, jnp.nan)


def default_pack(cpu_vmap: bool = False) -> int | None:
    """Members per compiled call: on an accelerator all of a call's members, packed to fill the device; on a
    CPU one at a time (a single-member program serves every phase and seed count), unless the family is
    measured faster vmapped there (`cpu_vmap`, declared by the family)."""
    return 1 if jax.default_backend() == "cpu" and not cpu_vmap else None


def train(
    model: Model,
    cfg: TrainConfig,
    data: Data,
    seeds: Sequence[int],
    lrs: Sequence[float],
    n_train: Sequence[int],
    steps: int,
    on_eval: Callable[[int, int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    pack: int | None = None,
    patience: float = 0.0,
    offsets: Sequence[int] | None = None,
    sparse: Sparse | None = None,
    keep_step: int | None = None,
    until: int | None = None,
    start: Resumed | None = None,
) -> TrainOutput:
    """Train members (seeds[m], lrs[m], n_train[m]) for `steps` steps; `on_eval(done, total)` after each interval.
    Online (`cfg.online`), member m reads rows offsets[m], offsets[m] + 1, ... of the training pool in order.

    With `patience` > 0 a member stops early once its best validation loss is that fraction of the
    planned evaluations old (`protocol.stops_early`); its later curve points are NaN, and a chunk whose
    members have all stopped is not run again. The rule reads each member's own curve, so which members
    stop, and when, does not depend on the packing.

    Members run `pack` at a time through one compiled program (None: all at once); the last chunk is
    padded with copies of its last member, whose results are dropped. Members are independent, so the
    packing changes the speed, never the results (up to float rounding of vmapped kernels).
    With `checkpoint`, a run resumes from the last saved interval and saves at interval boundaries.
    The compiled program is the same either way and every input of an interval (parameters, optimiser
    state, step, data key) is restored exactly, so a resumed run ends bitwise equal to an uninterrupted one.
    With `sparse`, member m starts from `sparse.start[m]` masked by `sparse.mask[m]` and trains masked (a
    program of its own). `keep_step` (0 or a multiple of eval_every) keeps every member's parameters at that
    step in `TrainOutput.kept` (a run resumed from a checkpoint past it keeps none).
    `until` stops every member after that many evaluations (a rung of the learning-rate search): the curves keep
    their planned length, NaN past it, and the schedule is the whole run's, so `start` can go on from there.
    `start` begins from members' state and history (`Resumed`, e.g. `lr_search` continuing kept trials) instead of
    their initialisation, unless the checkpoint holds a later point; the result is the uninterrupted run's.
    """
    distributed.check_batch(cfg.batch_size)
    if steps <= 0 or steps % cfg.eval_every:
        raise ValueError(f"steps ({steps}) must be a positive multiple of eval_every ({cfg.eval_every})")
    n_evals = steps // cfg.eval_every
    n = len(seeds)
    pack = n if pack is None else min(pack, n)
    order = list(range(n)) + [n - 1] * (-n % pack)  # padded to whole chunks
    chunks = [order[j:j + pack] for j in range(0, len(order), pack)]
    seeds_C = [distributed.put_replicated(np.asarray([seeds[i] for i in c], np.uint32)) for c in chunks]
    offsets = offsets if offsets is not None else [0] * n
    members_C = [Members.of([lrs[i] for i in c], [n_train[i] for i in c], [steps] * pack, [offsets[i] for i in c])
                 for c in chunks]
    t0 = time.perf_counter()
    init = compiled_init(model, cfg, seeds_C[0])
    states = [init(s) for s in seeds_C]
    masks_C: list[nnx.State | None] = [None] * len(chunks)
    if sparse is not None:
        take = [distributed.put_replicated(np.asarray(c, np.int32)) for c in chunks]
        masks_C = [jax.tree.map(lambda x, t=t: x[t], sparse.mask) for t in take]
        states = [s._replace(params=apply_mask(jax.tree.map(lambda x, t=t: x[t], sparse.start), m))
                  for s, t, m in zip(states, take, masks_C)]
    run = compiled_run(model, cfg, states[0], members_C[0], data, masks_C[0])  # compiled apart from training, to time it
    jax.block_until_ready(states)
    compile_s = time.perf_counter() - t0
    history: list[dict[str, jax.Array]] = []
    spent_s = 0.0  # training time of the run before it was resumed
    kept = _join(states).params if keep_step == 0 else None
    resumed = checkpoint.restore(_join(states)) if checkpoint is not None else None
    if resumed is None and start is not None:  # padded to whole chunks like the initial states
        resumed = dataclasses.replace(start, state=jax.tree.map(lambda x: x[np.asarray(order)], start.state))
    if resumed is not None:
        states, history, spent_s = _split(resumed.state, pack), list(resumed.history), resumed.train_s
        if on_eval is not None:
            on_eval(len(history), n_evals)
    val_host = [np.asarray(h["val_loss"])[:n] for h in history]  # validation losses on the host, fetched once each
    evals_run = protocol.evals_run(val_host, n, n_evals, patience)
    t1 = time.perf_counter()
    last = n_evals if until is None else min(until, n_evals)
    for i in range(len(history), last):
        if not (evals_run > i).any():  # every member has stopped early: the rest of the curves stay NaN
            history += [{k: jnp.full_like(v, jnp.nan) for k, v in history[-1].items()}] * (n_evals - i)
            if on_eval is not None:
                on_eval(n_evals, n_evals)
            break
        live = [bool((evals_run[c] > i).any()) for c in chunks]
        outs = [run(state, members, data, *([] if mask is None else [mask])) if on else None
                for state, members, mask, on in zip(states, members_C, masks_C, live)]
        states = [state if out is None else out[0] for state, out in zip(states, outs)]
        if keep_step == (i + 1) * cfg.eval_every:
            kept = _join(states).params
        ran = next(out[1] for out in outs if out is not None)
        parts = [{k: jnp.full_like(v, jnp.nan) for k, v in ran.items()} if out is None else out[1] for out in outs]
        metrics = parts[0] if len(parts) == 1 else {k: jnp.concatenate([m[k] for m in parts]) for k in ran}
        jax.block_until_ready(metrics)  # one sync per interval: progress and checkpoints follow real time
        stopped = np.concatenate([evals_run, np.zeros(len(order) - n, int)]) <= i  # padding counts as stopped
        metrics = {k: _where_members(~stopped, v) for k, v in metrics.items()}
        val_host.append(np.asarray(metrics["val_loss"])[:n])
        evals_run = protocol.evals_run(val_host, n, n_evals, patience)
        if not cfg.test_every_eval:
            metrics |= _test_points(model, cfg, data, states, chunks, val_host, evals_run, i, n_evals)
        history.append(metrics)
        if on_eval is not None:
            on_eval(i + 1, n_evals)
        if checkpoint is not None and i + 1 < n_evals:
            checkpoint.on_interval(i + 1, n_evals, _join(states), history, spent_s + time.perf_counter() - t1)
    if len(history) < n_evals:  # stopped at `until`: the rest of the curves stay NaN
        history += [{k: jnp.full_like(v, jnp.nan) for k, v in history[-1].items()}] * (n_evals - len(history))
        evals_run = np.minimum(evals_run, last)
    curves = {k: np.stack([np.asarray(h[k])[:n] for h in history], axis=1) for k in history[0]}
    state = jax.tree.map(lambda x: x[:n], _join(states))
    train_s = spent_s + time.perf_counter() - t1
    return TrainOutput(
        curves=curves,
        steps=[(i + 1) * cfg.eval_every for i in range(n_evals)],
        evals_run=evals_run,
        diverged_step=np.asarray(state.diverged_step), state=state, compile_s=compile_s, train_s=train_s,
        kept=None if kept is None else jax.tree.map(lambda x: x[:n], kept),
    )
