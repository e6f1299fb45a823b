"""Every registered family, on every input kind: builds, maps inputs to logits, has finite
gradients on every parameter, matches parameter targets, and learns a tiny task.

Parametrised over `architectures.names()`, so a family added as one file in
architectures/ is tested with no edit here.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import architectures
from architectures.layers import patch_size
from benchmarks.running import sizing
from benchmarks.running.train import Members, Model, TrainConfig, device_data, evaluate, init_state, train_step
from benchmarks.spec import TaskSpec
from tests.conftest import make_view

TASKS = {
    "signal1d": TaskSpec("signal", "signal1d", (40, 1), 10),
    "image8x8": TaskSpec("image8", "image", (8, 8, 1), 10),
    "image32x32x3": TaskSpec("image32", "image", (32, 32, 3), 10),
    "tokens": TaskSpec("tokens", "tokens", (64,), 4, vocab_size=16),
}
ARCHS = architectures.names()


# Tests compile without LLVM optimisation: their programs run once, on tiny batches.
O0 = {"xla_backend_optimization_level": 0}


def _inputs(task: TaskSpec, batch: int, seed: int = 0) -> jax.Array:
    key = jax.random.key(seed)
    if task.input_kind == "tokens":
        return jax.random.randint(key, (batch, *task.input_shape), 0, task.vocab_size)
    return jax.random.normal(key, (batch, *task.input_shape))


@pytest.mark.parametrize("kind", TASKS)
@pytest.mark.parametrize("arch", ARCHS)
def test_family_maps_every_input_kind_to_logits_in_float32_and_bfloat16(arch, kind):
    task = TASKS[kind]
    shape = sizing.solve(arch, task, 10_000).shape
    model = Model.create(arch, task, shape)
    state = nnx.state(nnx.eval_shape(lambda: architectures.build(arch, task, shape, nnx.Rngs(0))))
    x = jax.eval_shape(partial(_inputs, task, 4))
    for precision in ("float32", "bfloat16"):  # the harness casts parameters and float inputs for bfloat16
        logits = jax.eval_shape(partial(model.apply, precision=precision), state, x)
        assert (logits.shape, logits.dtype) == ((4, task.num_classes), jnp.float32)


# Gradients on the 2-D and token input paths; the 1-D path trains in the test below.
@pytest.mark.parametrize("kind", ["image8x8", "tokens"])
@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_are_finite_and_reach_every_parameter(arch, kind):
    task = TASKS[kind]
    sized = sizing.solve(arch, task, 10_000)
    abstract = nnx.eval_shape(lambda: architectures.build(arch, task, sized.shape, nnx.Rngs(0)))
    graphdef, params = nnx.split(abstract, nnx.Param)
    assert sum(math.prod(p.shape) for p in jax.tree.leaves(params)) == sized.params
    rng = np.random.default_rng(0)  # random values drawn on the host: the program compiled is the gradient alone
    params = jax.tree.map(lambda p: (0.3 * rng.standard_normal(p.shape)).astype(np.float32), params)
    x, y = _inputs(task, 4), jnp.arange(4) % task.num_classes

    def loss(params):
        logits = nnx.merge(graphdef, params)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    grad_fn = jax.jit(jax.value_and_grad(loss)).lower(params).compile(compiler_options=O0)
    value, grads = grad_fn(params)
    assert np.isfinite(float(value))
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.isfinite(np.asarray(g)).all(), f"non-finite gradient at {jax.tree_util.keystr(path)}"
        assert np.any(np.asarray(g) != 0), f"no gradient reaches {jax.tree_util.keystr(path)}"


@pytest.mark.parametrize("target", [10_000, 30_000])
@pytest.mark.parametrize("kind", TASKS)
@pytest.mark.parametrize("arch", ARCHS)
def test_solver_matches_parameter_target_within_two_percent(arch, kind, target):
    task = TASKS[kind]
    sized = sizing.solve(arch, task, target)
    assert abs(sized.params / target - 1) <= 0.02
    assert sized.params == sizing.count_params(arch, task, sized.shape)
    assert sized.shape.depth == architectures.get(arch).depth_for(target)


@pytest.mark.parametrize("arch", ARCHS)
def test_short_training_run_beats_chance_on_a_tiny_task(arch):
    view = make_view(n_train=512, n_eval=256, length=16, classes=4)  # the class shifts the first half's mean
    model = Model.create(arch, view.task, sizing.solve(arch, view.task, 10_000).shape)
    cfg = TrainConfig(batch_size=32, eval_every=100, warmup_frac=0.1, weight_decay=1e-4)
    steps = 100
    data = device_data(view)

    def train_and_test(seed):  # the harness's init and step (AdamW, clipping, sampled batches) in one program
        state = init_state(model, cfg, seed)
        member = Members(lr=jnp.float32(3e-3), n_train=jnp.int32(512), steps=jnp.int32(steps))
        step = partial(train_step, model, cfg, member=member, data=data)
        state, _ = jax.lax.scan(lambda s, _: step(s), state, None, length=steps)
        return evaluate(model, cfg, state.params, data.x_test, data.y_test)

    seed = jnp.uint32(0)
    _, test_acc = jax.jit(train_and_test).lower(seed).compile(compiler_options=O0)(seed)
    assert float(test_acc) > 0.5  # chance is 0.25


def test_unreachable_target_names_the_nearest_feasible_one():
    with pytest.raises(sizing.UserError, match=r"nearest feasible target is [\d,]+"):
        sizing.solve("transformer", TASKS["tokens"], 100)


@pytest.mark.parametrize(
    ("shape", "kind", "patch"),
    [((40, 1), "signal1d", 4), ((8, 8, 1), "image", 2), ((32, 32, 3), "image", 4), ((28, 28, 1), "image", 4),
     ((512,), "tokens", 1)],
)
def test_sequence_models_see_short_sequences_of_patches(shape, kind, patch):
    task = TaskSpec("t", kind, shape, 10, vocab_size=16 if kind == "tokens" else 0)
    assert patch_size(task) == patch
