"""One training loop for every architecture.

A run trains M members at once: every (learning rate, seed) pair of a RunSpec,
stacked with `jax.vmap` into one compiled program. What differs between members
(seed, learning rate, training-set size, length of the schedule) is an argument
of the program, never a constant baked into it, so one compiled program serves
every run of a family at one shape, batch size and precision. Between two held-out
evaluations the steps run fused in one `lax.scan` (no Python per step), with
minibatches drawn on the device; the Python driver only loops over evaluation
intervals, to record learning curves and to checkpoint (`Checkpoint`).

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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import architectures
from benchmarks.data import TrainingView
from benchmarks.running import distributed, protocol
from benchmarks.spec import ArchShape, RunSpec, TaskSpec


@dataclass(frozen=True)
class TrainConfig:
    """Everything about training that changes the compiled program (static under jit).

    The length of training is not here: it is a per-member argument (`Members.steps`), so runs of
    different lengths (a budget in epochs gives each data size its own) share one program.
    """

    batch_size: int
    eval_every: int
    warmup_frac: float
    weight_decay: float
    precision: str = "float32"  # compute dtype of the forward/backward pass; parameters stay float32
    grad_clip: float = 1.0  # global-norm clipping, the same for every architecture
    eval_batch: int = 1024
    shard_params: bool = False  # split parameters and optimizer state over the devices (results unchanged)
    online: bool = False  # read each member's rows in order, each once (`online_indices`), instead of sampling

    @classmethod
    def from_spec(cls, spec: RunSpec, shard_params: bool = False) -> TrainConfig:
        return cls(spec.batch_size, spec.eval_every, spec.warmup_frac, spec.weight_decay, spec.precision,
                   shard_params=shard_params, online=spec.regime == "online")


class Members(NamedTuple):
    """What differs between the members of one program, one entry per member (arrays of length M)."""

    lr: jax.Array  # float32: peak learning rate
    n_train: jax.Array  # int32: minibatches are drawn from the first n_train training examples
    steps: jax.Array  # int32: length of the member's schedule (warm-up, then cosine decay to 0 at `steps`)
    offset: jax.Array | int = 0  # int32 array: online, the member's first row of the training pool (its seed's fresh examples)

    @classmethod
    def of(cls, lrs: Sequence[float], n_train: Sequence[int], steps: Sequence[int],
           offsets: Sequence[int] | None = None) -> Members:
        """Members from host values, placed on every device."""
        return cls(
            lr=distributed.put_replicated(np.asarray(lrs, np.float32)),
            n_train=distributed.put_replicated(np.asarray(n_train, np.int32)),
            steps=distributed.put_replicated(np.asarray(steps, np.int32)),
            offset=distributed.put_replicated(np.asarray(offsets if offsets is not None else [0] * len(lrs), np.int32)),
        )


class Sparse(NamedTuple):
    """Sparse training (benchmarks/running/tickets.py): per member a 0/1 mask over the parameters, and the values
    the member starts from (a lottery ticket's rewound weights), both stacked on a leading M axis.

    The mask multiplies the gradients (so Adam's moments and the clipping norm never see a pruned weight), the
    updates and the parameters after every step, so a pruned weight stays exactly zero, weight decay included.
    """

    mask: nnx.State  # float32 0/1, the structure of the parameters; 1 on every leaf that is not pruned
    start: nnx.State  # the parameters to start from (masked before training)


class TrainState(NamedTuple):
    """One member's state (a leading M axis when vmapped)."""

    params: nnx.State
    opt_state: optax.OptState
    data_key: jax.Array  # minibatch stream; advanced every step
    step: jax.Array  # int32
    diverged_step: jax.Array  # int32: first step with a non-finite loss, -1 if none


class Data(NamedTuple):
    """Device arrays of one training view; x_train may be padded past n_train (sampling never reaches it)."""

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array


@dataclass(frozen=True)
class Model:
    """A family at a shape, split into a static graph and the non-parameter state."""

    arch: str
    task: TaskSpec
    shape: ArchShape
    graphdef: nnx.GraphDef = field(compare=False)  # derived from the rest: not part of equality or the hash

    @classmethod
    def create(cls, arch: str, task: TaskSpec, shape: ArchShape) -> Model:
        abstract = nnx.eval_shape(lambda: architectures.build(arch, task, shape, nnx.Rngs(0)))
        graphdef, _ = nnx.split(abstract)
        return cls(arch, task, shape, graphdef)

    def init(self, key: jax.Array) -> nnx.State:
        return nnx.state(architectures.build(self.arch, self.task, self.shape, nnx.Rngs(params=key)))

    def apply(self, state: nnx.State, x: jax.Array, precision: str) -> jax.Array:
        if precision == "bfloat16":
            state = jax.tree.map(lambda p: p.astype(jnp.bfloat16) if jnp.issubdtype(p.dtype, jnp.floating) else p, state)
            x = x.astype(jnp.bfloat16) if jnp.issubdtype(x.dtype, jnp.floating) else x
        return nnx.merge(self.graphdef, state)(x).astype(jnp.float32)


def schedule(step: jax.Array, steps: jax.Array, warmup_frac: float) -> jax.Array:
    """Multiplier of the peak rate: linear warm-up over `warmup_frac` of `steps`, then cosine decay to 0.

    The same curve as `optax.warmup_cosine_decay_schedule(0, 1, warmup, steps)`, with `steps` a traced
    value, so the schedule's length is an argument of the compiled program.
    """
    step = jnp.asarray(step, jnp.float32)
    total = jnp.asarray(steps, jnp.float32)
    warmup = jnp.maximum(1.0, jnp.floor(warmup_frac * total))
    progress = jnp.clip((step - warmup) / jnp.maximum(total - warmup, 1.0), 0.0, 1.0)
    return jnp.where(step < warmup, step / warmup, 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))


def optimizer(lr: jax.Array | float, steps: jax.Array | int, cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW, linear warm-up then cosine decay to zero; decay on matrices only; global-norm clipping."""
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adamw(
            learning_rate=lambda step: lr * schedule(step, steps, cfg.warmup_frac),
            weight_decay=cfg.weight_decay,
            mask=lambda params: jax.tree.map(lambda p: p.ndim > 1, params),
        ),
    )


def loss_fn(model: Model, precision: str, params: nnx.State, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean cross-entropy of a batch."""
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x, precision), y).mean()


def init_state(model: Model, cfg: TrainConfig, seed: jax.Array) -> TrainState:
    key = jax.random.key(seed)
    params = model.init(jax.random.fold_in(key, 0))
    state = TrainState(
        params=params,
        opt_state=optimizer(0.0, 1, cfg).init(params),  # AdamW's state does not depend on the schedule
        data_key=jax.random.fold_in(key, 1),
        step=jnp.zeros((), jnp.int32),
        diverged_step=jnp.full((), -1, jnp.int32),
    )
    return distributed.constrain_state(state, cfg.shard_params)


def online_indices(step: jax.Array, offset: jax.Array, batch_size: int) -> jax.Array:
    """Rows of the minibatch of `step` in the online regime: the next `batch_size` rows from `offset`, so a
    member that trains n_train / batch_size steps reads each of its rows exactly once."""
    return offset + step * batch_size + jnp.arange(batch_size)


def _masked(tree: nnx.State, mask: nnx.State | None) -> nnx.State:
    return tree if mask is None else jax.tree.map(lambda x, m: x * m, tree, mask)


def train_step(
    model: Model, cfg: TrainConfig, state: TrainState, member: Members, data: Data, mask: nnx.State | None = None
) -> tuple[TrainState, jax.Array]:
    """One optimiser step on a minibatch drawn (with replacement) from the first n_train examples; online,
    on the member's next fresh rows.

    With `mask` (one member's `Sparse.mask`), gradients, updates and parameters are multiplied by it."""
    data_key, batch_key = jax.random.split(state.data_key)
    if cfg.online:
        idx = online_indices(state.step, member.offset, cfg.batch_size)
    else:
        idx = jax.random.randint(batch_key, (cfg.batch_size,), 0, member.n_train)
    grad_fn = jax.value_and_grad(partial(loss_fn, model, cfg.precision))
    x_B, y_B = distributed.constrain_batch(data.x_train[idx]), distributed.constrain_batch(data.y_train[idx])
    loss, grads = grad_fn(state.params, x_B, y_B)
    grads = _masked(grads, mask)
    updates, opt_state = optimizer(member.lr, member.steps, cfg).update(grads, state.opt_state, state.params)
    params = _masked(optax.apply_updates(state.params, _masked(updates, mask)), mask)
    first_bad = (state.diverged_step < 0) & ~jnp.isfinite(loss)
    diverged_step = jnp.where(first_bad, state.step, state.diverged_step)
    return TrainState(params, opt_state, data_key, state.step + 1, diverged_step), loss


def evaluate(model: Model, cfg: TrainConfig, params: nnx.State, x_N: jax.Array, y_N: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean loss and accuracy over a whole split, in fixed-size batches (the last one masked)."""
    n = x_N.shape[0]
    eb = min(cfg.eval_batch, n)
    nb = math.ceil(n / eb)
    pad = nb * eb - n
    x = jnp.pad(x_N, [(0, pad)] + [(0, 0)] * (x_N.ndim - 1)).reshape(nb, eb, *x_N.shape[1:])
    y = jnp.pad(y_N, (0, pad)).reshape(nb, eb)
    mask = (jnp.arange(nb * eb) < n).reshape(nb, eb)

    def batch(args):
        xb, yb, mb = map(distributed.constrain_batch, args)
        logits = model.apply(params, xb, cfg.precision)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
        return jnp.sum(losses * mb), jnp.sum((jnp.argmax(logits, -1) == yb) * mb)

    loss_sum, correct = jax.lax.map(batch, (x, y, mask))
    return loss_sum.sum() / n, correct.sum() / n


def run_interval(
    model: Model, cfg: TrainConfig, state: TrainState, member: Members, data: Data, mask: nnx.State | None = None
) -> tuple[TrainState, dict[str, jax.Array]]:
    """`eval_every` fused steps, then held-out evaluation: one point of the learning curve."""
    step = partial(train_step, model, cfg, member=member, data=data, mask=mask)
    state, losses = jax.lax.scan(lambda s, _: step(s), state, None, length=cfg.eval_every)
    state = distributed.constrain_state(state, cfg.shard_params)
    val_loss, val_acc = evaluate(model, cfg, state.params, data.x_val, data.y_val)
    test_loss, test_acc = evaluate(model, cfg, state.params, data.x_test, data.y_test)
    metrics = {
        "train_loss": losses.mean(),
        "val_loss": val_loss,
        "val_acc": val_acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
    }
    return state, distributed.constrain_replicated(metrics)


# Compiled entry points: members stacked on axis 0; the model and config are static, so the
# compiled program is reused for every run of the same family, shape and budget.
init_members = jax.jit(jax.vmap(init_state, in_axes=(None, None, 0)), static_argnums=(0, 1))
run_members = jax.jit(jax.vmap(run_interval, in_axes=(None, None, 0, 0, None)), static_argnums=(0, 1))
# Sparse training: the same interval with a mask per member (a separate program: unmasked runs compile as before).
run_members_masked = jax.jit(jax.vmap(run_interval, in_axes=(None, None, 0, 0, None, 0)), static_argnums=(0, 1))

# Initialisation runs once per run, so it is compiled without LLVM's optimisations: on CPU that
# cuts its compile from ~15 s to ~1 s (the random-number kernels are costly to optimise).
_INIT_OPTIONS = {"xla_backend_optimization_level": 0}


def _run_options() -> dict[str, int]:
    """On CPU the training program compiles at LLVM -O1: half the compile time of the default, and
    no slower to run at the sizes a CPU trains (measured: ConvNet/Transformer at 10k parameters)."""
    return {"xla_backend_optimization_level": 1} if jax.default_backend() == "cpu" else {}


_compiled: dict[tuple, jax.stages.Compiled] = {}


def _shapes(*trees) -> tuple:
    return tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves(trees))


def compiled_init(model: Model, cfg: TrainConfig, seeds_M: jax.Array) -> jax.stages.Compiled:
    key = ("init", model, cfg, _shapes(seeds_M))
    if key not in _compiled:
        _compiled[key] = init_members.lower(model, cfg, seeds_M).compile(compiler_options=_INIT_OPTIONS)
    return _compiled[key]


def compiled_run(model: Model, cfg: TrainConfig, state: TrainState, members: Members, data: Data,
                 mask: nnx.State | None = None) -> jax.stages.Compiled:
    if mask is None:
        key = ("run", model, cfg, _shapes(state, members, data))
        if key not in _compiled:
            _compiled[key] = run_members.lower(model, cfg, state, members, data).compile(compiler_options=_run_options())
        return _compiled[key]
    key = ("run_masked", model, cfg, _shapes(state, members, data, mask))
    if key not in _compiled:
        lowered = run_members_masked.lower(model, cfg, state, members, data, mask)
        _compiled[key] = lowered.compile(compiler_options=_run_options())
    return _compiled[key]


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


def device_data(view: TrainingView, capacity: int | None = None) -> Data:
    """Put a training view on the devices (whole on each), padding the training pool to `capacity` rows."""
    x_train, y_train = view.x_train, view.y_train
    if capacity is not None and capacity > len(y_train):
        pad = capacity - len(y_train)
        x_train = np.concatenate([x_train, np.zeros((pad, *x_train.shape[1:]), x_train.dtype)])
        y_train = np.concatenate([y_train, np.zeros(pad, y_train.dtype)])
    arrays = (x_train, y_train, view.x_val, view.y_val, view.x_test, view.y_test)
    return Data(*(distributed.put_replicated(a) for a in arrays))


def _join(states: Sequence[TrainState]) -> TrainState:
    """Chunks of members as one state (members along axis 0)."""
    return states[0] if len(states) == 1 else jax.tree.map(lambda *xs: jnp.concatenate(xs), *states)


def _split(state: TrainState, pack: int) -> list[TrainState]:
    m = jax.tree.leaves(state)[0].shape[0]
    return [jax.tree.map(lambda x, j=j: x[j:j + pack], state) for j in range(0, m, pack)]


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
        states = [s._replace(params=_masked(jax.tree.map(lambda x, t=t: x[t], sparse.start), m))
                  for s, t, m in zip(states, take, masks_C)]
    run = compiled_run(model, cfg, states[0], members_C[0], data, masks_C[0])  # compiled apart from training, to time it
    jax.block_until_ready(states)
    compile_s = time.perf_counter() - t0
    history: list[dict[str, jax.Array]] = []
    spent_s = 0.0  # training time of the run before it was resumed
    kept = _join(states).params if keep_step == 0 else None
    resumed = checkpoint.restore(_join(states)) if checkpoint is not None else None
    if resumed is not None:
        states, history, spent_s = _split(resumed.state, pack), list(resumed.history), resumed.train_s
        if on_eval is not None:
            on_eval(len(history), n_evals)
    val_host = [np.asarray(h["val_loss"])[:n] for h in history]  # validation losses on the host, fetched once each
    evals_run = protocol.evals_run(val_host, n, n_evals, patience)
    t1 = time.perf_counter()
    for i in range(len(history), n_evals):
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
        metrics = {k: jnp.where(stopped, jnp.nan, v) for k, v in metrics.items()}
        history.append(metrics)
        val_host.append(np.asarray(metrics["val_loss"])[:n])
        evals_run = protocol.evals_run(val_host, n, n_evals, patience)
        if on_eval is not None:
            on_eval(i + 1, n_evals)
        if checkpoint is not None and i + 1 < n_evals:
            checkpoint.on_interval(i + 1, n_evals, _join(states), history, spent_s + time.perf_counter() - t1)
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
