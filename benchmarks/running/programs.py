"""The compiled programs of the training loop (benchmarks/running/train.py drives them).

Configuration, state and data of M members trained at once; one optimiser step, the held-out
evaluation, and the fused interval of steps between two evaluations (`lax.scan`, minibatches drawn on
the device), compiled once per family, shape, batch size and precision and cached (`compiled_init`,
`compiled_run`). What differs between members (seed, learning rate, training-set size, schedule
length) is an argument, never a constant baked in.

Shape letters: M members (lr x seed), B batch, N examples of a split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import architectures
from benchmarks.data import TrainingView
from benchmarks.running import distributed
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
    test_every_eval: bool = True  # the test split at every evaluation; False: only where `train` asks (`test_members`)

    @classmethod
    def from_spec(cls, spec: RunSpec, shard_params: bool = False) -> TrainConfig:
        return cls(spec.batch_size, spec.eval_every, spec.warmup_frac, spec.weight_decay, spec.precision,
                   shard_params=shard_params, online=spec.regime == "online",
                   test_every_eval=spec.test_curves == "full")


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


def _group(tree: nnx.State, key: str, default: float | bool) -> nnx.State | None:
    """Each parameter's group setting `key` (`nnx.Param(..., lr_scale=0.5, weight_decay=False)`), in the
    tree's own structure; None where no parameter sets it (the program is then what it was without groups)."""
    is_variable = lambda v: isinstance(v, nnx.Variable)
    meta = lambda v: v.get_metadata().get(key, default) if is_variable(v) else default
    if all(meta(v) == default for v in jax.tree.leaves(tree, is_leaf=is_variable)):
        return None
    return jax.tree.map(lambda v: jax.tree.map(lambda _: meta(v), v), tree, is_leaf=is_variable)


def _decayed(params: nnx.State) -> nnx.State:
    """Weight decay on matrices only, and not on a parameter its family puts in a `weight_decay=False` group."""
    allowed = _group(params, "weight_decay", True)
    if allowed is None:
        return jax.tree.map(lambda p: p.ndim > 1, params)
    return jax.tree.map(lambda p, ok: p.ndim > 1 and ok, params, allowed)


def _scaled_by_group_rate(updates: nnx.State) -> nnx.State:
    """Each update times its parameter's `lr_scale` (its family's parameter-group rule; default 1)."""
    scales = _group(updates, "lr_scale", 1.0)
    return updates if scales is None else jax.tree.map(lambda u, s: u * s, updates, scales)


def optimizer(lr: jax.Array | float, steps: jax.Array | int, cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW, linear warm-up then cosine decay to zero; decay on matrices only; global-norm clipping.

    A family may put parameters in a group (`nnx.Param(value, lr_scale=0.5, weight_decay=False)`, e.g. an
    SSM's A, Δ, λ): their steps are scaled by `lr_scale` and they are not decayed, under every trial's rate
    alike. The optimiser's state is the same either way, and families without groups train exactly as
    before (docs/adding-an-architecture.md).
    """
    adamw = optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adamw(
            learning_rate=lambda step: lr * schedule(step, steps, cfg.warmup_frac),
            weight_decay=cfg.weight_decay,
            mask=_decayed,
        ),
    )

    def update(grads, opt_state, params=None):
        updates, opt_state = adamw.update(grads, opt_state, params)
        return _scaled_by_group_rate(updates), opt_state

    return optax.GradientTransformation(adamw.init, update)


def token_losses(logits_BxLxV: jax.Array, y_BxL: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy at every position of a next-token batch, and which positions are scored (y >= 0)."""
    scored_BxL = y_BxL >= 0
    losses_BxL = optax.softmax_cross_entropy_with_integer_labels(logits_BxLxV, jnp.maximum(y_BxL, 0))
    return jnp.where(scored_BxL, losses_BxL, 0.0), scored_BxL


def loss_fn(model: Model, precision: str, params: nnx.State, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean cross-entropy of a batch: over its examples, or (next tokens) over its scored positions."""
    logits = model.apply(params, x, precision)
    if model.task.causal:
        losses_BxL, scored_BxL = token_losses(logits, y)
        return losses_BxL.sum() / jnp.maximum(scored_BxL.sum(), 1)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


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


def apply_mask(tree: nnx.State, mask: nnx.State | None) -> nnx.State:
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
    grads = apply_mask(grads, mask)
    updates, opt_state = optimizer(member.lr, member.steps, cfg).update(grads, state.opt_state, state.params)
    params = apply_mask(optax.apply_updates(state.params, apply_mask(updates, mask)), mask)
    first_bad = (state.diverged_step < 0) & ~jnp.isfinite(loss)
    diverged_step = jnp.where(first_bad, state.step, state.diverged_step)
    return TrainState(params, opt_state, data_key, state.step + 1, diverged_step), loss


def token_batches(cfg: TrainConfig, x_N: jax.Array, y_N: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A next-token split in batches of `cfg.eval_batch`, x and y nb x eb x L; the last padded with rows that
    score no position (labels -1)."""
    n, length = y_N.shape
    eb = min(cfg.eval_batch, n)
    nb = math.ceil(n / eb)
    x = jnp.pad(x_N, [(0, nb * eb - n), (0, 0)]).reshape(nb, eb, length)
    return x, jnp.pad(y_N, [(0, nb * eb - n), (0, 0)], constant_values=-1).reshape(nb, eb, length)


def token_sums(model: Model, cfg: TrainConfig, params: nnx.State, x_N: jax.Array,
               y_N: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Next tokens: over a whole split, in fixed-size batches, at each position: the summed cross-entropy, the
    correct predictions and the tokens scored (each L). Padded examples score no position."""
    x, y = token_batches(cfg, x_N, y_N)

    def batch(args):
        xb, yb = map(distributed.constrain_batch, args)
        logits = model.apply(params, xb, cfg.precision)
        losses, scored = token_losses(logits, yb)
        return losses.sum(0), jnp.sum((jnp.argmax(logits, -1) == yb) & scored, 0), scored.sum(0)

    loss_sum, correct, count = jax.lax.map(batch, (x, y))
    return loss_sum.sum(0), correct.sum(0), count.sum(0)


def evaluate(model: Model, cfg: TrainConfig, params: nnx.State, x_N: jax.Array, y_N: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean loss and accuracy over a whole split, in fixed-size batches (the last one masked).

    Next tokens: mean cross-entropy and accuracy per scored position of the split (each token weighs the
    same, whichever example holds it); padded examples score no position."""
    if model.task.causal:
        loss_L, correct_L, count_L = token_sums(model, cfg, params, x_N, y_N)
        tokens = jnp.maximum(count_L.sum(), 1)
        return loss_L.sum() / tokens, correct_L.sum() / tokens
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


def position_losses(model: Model, cfg: TrainConfig, params: nnx.State, x_N: jax.Array,
                    y_N: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Next tokens: the mean cross-entropy at each position of a split, loss_L, and the tokens scored at each,
    count_L (NaN loss where none is): Kaplan et al. (2020)'s loss against the position in the context."""
    loss_L, _, count_L = token_sums(model, cfg, params, x_N, y_N)
    return _per_position(loss_L, count_L), count_L


def _per_position(loss_L: jax.Array, count_L: jax.Array) -> jax.Array:
    return jnp.where(count_L > 0, loss_L / jnp.maximum(count_L, 1), jnp.nan)


def run_interval(
    model: Model, cfg: TrainConfig, state: TrainState, member: Members, data: Data, mask: nnx.State | None = None
) -> tuple[TrainState, dict[str, jax.Array]]:
    """`eval_every` fused steps, then held-out evaluation: one point of the learning curve (the test split too
    when `cfg.test_every_eval`; else `train` evaluates it apart, where the scored checkpoint can be)."""
    step = partial(train_step, model, cfg, member=member, data=data, mask=mask)
    state, losses = jax.lax.scan(lambda s, _: step(s), state, None, length=cfg.eval_every)
    state = distributed.constrain_state(state, cfg.shard_params)
    val_loss, val_acc = evaluate(model, cfg, state.params, data.x_val, data.y_val)
    metrics = {"train_loss": losses.mean(), "val_loss": val_loss, "val_acc": val_acc}
    if cfg.test_every_eval:
        metrics |= test_metrics(model, cfg, state, data)
    return state, distributed.constrain_replicated(metrics)


def test_metrics(model: Model, cfg: TrainConfig, state: TrainState, data: Data) -> dict[str, jax.Array]:
    """The test split's loss and accuracy of one member's parameters; next tokens also the loss at each
    position of the context (`test_position_loss`, L; NaN where no token is scored), from the same pass."""
    if model.task.causal:
        loss_L, correct_L, count_L = token_sums(model, cfg, state.params, data.x_test, data.y_test)
        tokens = jnp.maximum(count_L.sum(), 1)
        return {"test_loss": loss_L.sum() / tokens, "test_acc": correct_L.sum() / tokens,
                "test_position_loss": _per_position(loss_L, count_L)}
    test_loss, test_acc = evaluate(model, cfg, state.params, data.x_test, data.y_test)
    return {"test_loss": test_loss, "test_acc": test_acc}


def test_shapes(model: Model, data: Data) -> dict[str, tuple[int, ...]]:
    """The shape of each of `test_metrics`' figures for one member: a number, or one per position."""
    shapes = {"test_loss": (), "test_acc": ()}
    return shapes | ({"test_position_loss": data.y_test.shape[1:]} if model.task.causal else {})


# Compiled entry points: members stacked on axis 0; the model and config are static, so the
# compiled program is reused for every run of the same family, shape and budget.
init_members = jax.jit(jax.vmap(init_state, in_axes=(None, None, 0)), static_argnums=(0, 1))
run_members = jax.jit(jax.vmap(run_interval, in_axes=(None, None, 0, 0, None)), static_argnums=(0, 1))
test_members = jax.jit(jax.vmap(test_metrics, in_axes=(None, None, 0, None)), static_argnums=(0, 1))
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


def compiled_test(model: Model, cfg: TrainConfig, state: TrainState, data: Data) -> jax.stages.Compiled:
    """The test evaluation of a chunk of members, apart from their training interval (`test_every_eval` False)."""
    key = ("test", model, cfg, _shapes(state, data))
    if key not in _compiled:
        _compiled[key] = test_members.lower(model, cfg, state, data).compile(compiler_options=_run_options())
    return _compiled[key]


def device_data(view: TrainingView, capacity: int | None = None) -> Data:
    """Put a training view on the devices (whole on each), padding the training pool to `capacity` rows."""
    x_train, y_train = view.x_train, view.y_train
    if capacity is not None and capacity > len(y_train):
        pad = capacity - len(y_train)
        x_train = np.concatenate([x_train, np.zeros((pad, *x_train.shape[1:]), x_train.dtype)])
        y_train = np.concatenate([y_train, np.zeros((pad, *y_train.shape[1:]), y_train.dtype)])
    arrays = (x_train, y_train, view.x_val, view.y_val, view.x_test, view.y_test)
    return Data(*(distributed.put_replicated(a) for a in arrays))
