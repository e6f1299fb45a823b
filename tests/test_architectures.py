"""Every registered family, on every input kind: builds, maps inputs to logits, has finite
gradients on every parameter, matches parameter targets, and learns a tiny task.

Parametrised over `architectures.names()`, so a family added as one file in
architectures/ is tested with no edit here.
"""

from __future__ import annotations

import math
import re
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
# Families with a fine knob match any target within ±2%; a fixed-size family has one count, and one
# without a hidden knob (hidden_ratio 0) only the counts its widths give (their own tests, below).
SIZED = [a for a in ARCHS if not architectures.get(a).fixed_size and architectures.get(a).hidden_ratio > 0]


def _sized(arch: str, task: TaskSpec, target: int) -> sizing.SizedArch:
    """The solver's shape at `target`; for a family without a hidden knob, at its width nearest the target."""
    if arch in SIZED or architectures.get(arch).fixed_size:
        return sizing.solve(arch, task, target)
    return sizing.solve(arch, task, sizing.solve(arch, task, target, tolerance=0.99).params)


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
    shape = _sized(arch, task, 10_000).shape
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
    sized = _sized(arch, task, 10_000)
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
@pytest.mark.parametrize("arch", SIZED)
def test_solver_matches_parameter_target_within_two_percent(arch, kind, target):
    task = TASKS[kind]
    sized = sizing.solve(arch, task, target)
    assert abs(sized.params / target - 1) <= 0.02
    assert sized.params == sizing.count_params(arch, task, sized.shape)
    assert sized.shape.depth == architectures.get(arch).depth_for(target)


@pytest.mark.parametrize("arch", ARCHS)
def test_short_training_run_beats_chance_on_a_tiny_task(arch):
    view = make_view(n_train=512, n_eval=256, length=16, classes=4)  # the class shifts the first half's mean
    model = Model.create(arch, view.task, _sized(arch, view.task, 10_000).shape)
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


# Options (`convnet?head=dense`): at their defaults every family is what it was before it had options.
# Parameter counts and the first logits of one example, measured on the commit before options existed
# (shape width 8, depth 2, hidden 12; nnx.Rngs(0); x from jax.random.key(0)).
BEFORE_OPTIONS = {
    "convnet": (3582, [0.6879013776779175, -0.9777805209159851, -0.14127010107040405]),
    "gru": (1498, [-0.05624137073755264, -0.16269533336162567, -0.3097798526287079]),
    "mingru": (922, [-0.06113892048597336, 0.6409637928009033, 0.24953655898571014]),
    "mixer": (822, [0.47018784284591675, -0.19862733781337738, -0.1578836590051651]),
    "mlp": (566, [0.33259889483451843, 0.07389231771230698, -0.2490594983100891]),
    "transformer": (1290, [0.35462144017219543, -0.20017307996749878, 0.39565494656562805]),
}


def _spelled_out(arch: str) -> str:
    """`convnet` with every option written at its default: `convnet?head=pool`."""
    options = architectures.get(arch).options
    return arch + ("?" + "&".join(f"{k}={v}" for k, v in options.items()) if options else "")


@pytest.mark.parametrize("arch", BEFORE_OPTIONS)
def test_default_options_leave_parameters_outputs_and_run_ids_unchanged(arch):
    from benchmarks.spec import RunSpec

    task, shape = TASKS["signal1d"], architectures.ArchShape(8, 2, 12)
    x = jax.random.normal(jax.random.key(0), (2, 40, 1))
    count, logits = BEFORE_OPTIONS[arch]
    for name in (arch, _spelled_out(arch)):
        module = architectures.build(name, task, shape, nnx.Rngs(0))
        assert sum(p.size for p in jax.tree.leaves(nnx.state(module, nnx.Param))) == count
        np.testing.assert_allclose(np.asarray(module(x))[0, :3], logits, rtol=1e-5, atol=1e-6)
    assert architectures.canonical(_spelled_out(arch)) == arch
    ids = {RunSpec(arch=architectures.canonical(n), dataset="mnist1d", target_params=10_000, data_size=1000)
           .run_id(arch_version="1", data_version="d") for n in (arch, _spelled_out(arch))}
    assert len(ids) == 1


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test: families it registers are gone afterwards."""
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


def test_option_names_are_canonical_defaults_left_out_the_rest_sorted(registry):
    assert architectures.canonical("convnet?head=pool") == "convnet"
    assert architectures.canonical("convnet?head=dense") == "convnet?head=dense"
    assert architectures.get("convnet?head=dense") is architectures.get("convnet")

    @architectures.register("options_test", depth_for=lambda n: 1, options={"mode": ("a", "b"), "kernel": 3})
    def build(task, shape, rngs, *, mode, kernel):
        return architectures.build("mlp", task, shape, rngs)

    assert architectures.canonical("options_test?mode=b&kernel=5") == "options_test?kernel=5&mode=b"
    assert architectures.canonical("options_test?kernel=3&mode=a") == "options_test"
    assert architectures.parse("options_test?kernel=5").options == {"mode": "a", "kernel": 5}
    with pytest.raises(architectures.PluginError, match="option kernel of options_test must be int"):
        architectures.parse("options_test?kernel=five")


@pytest.mark.parametrize(
    ("name", "message"),
    [("convnet?head=max", "must be one of pool, dense"), ("convnet?width=3", "has no option 'width=3'"),
     ("mlp?head=dense", "has no option"), ("convnet?head", "has no option 'head'"), ("convnt?head=dense", "did you mean")],
)
def test_bad_options_are_errors_that_name_what_is_accepted(name, message):
    with pytest.raises(architectures.PluginError, match=re.escape(message)):
        architectures.parse(name)


VARIANTS = ["convnet?head=dense"]


@pytest.mark.parametrize("arch", VARIANTS)
def test_option_variants_match_sizes_map_to_logits_and_have_gradients_everywhere(arch):
    task = TASKS["signal1d"]
    sized = sizing.solve(arch, task, 5_000)
    assert abs(sized.deviation) <= 0.02 and sized.params == sizing.count_params(arch, task, sized.shape)
    assert sized.params != sizing.count_params(architectures.get(arch).name, task, sized.shape)  # the option is built
    graphdef, params = nnx.split(architectures.build(arch, task, sized.shape, nnx.Rngs(0)), nnx.Param)
    x, y = _inputs(task, 4), jnp.arange(4)
    grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(nnx.merge(graphdef, p)(x), y).mean())(params)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.isfinite(np.asarray(g)).all() and np.any(np.asarray(g) != 0), jax.tree_util.keystr(path)


def test_dense_head_has_a_weight_per_last_stage_position_and_channel():
    task, shape = TASKS["signal1d"], architectures.ArchShape(8, 2, 8)
    pooled = architectures.build("convnet", task, shape, nnx.Rngs(0))
    dense = architectures.build("convnet?head=dense", task, shape, nnx.Rngs(0))
    assert pooled.head.head.in_features == 16  # two stages: 2 x 8 channels, averaged over positions
    assert dense.head.head.in_features == 20 * 16  # 40 -> 20 positions in the second stage


def test_bigru_is_the_papers_gru_to_the_parameter_and_names_reachable_targets():
    task = TASKS["signal1d"]
    sized = sizing.solve("bigru", task, 5_134)  # torch.nn.GRU(1, 6, bidirectional) + Linear(40 * 12, 10)
    assert sized.shape == architectures.ArchShape(6, 1, 0) and sized.params == 5_134
    with pytest.raises(sizing.UserError, match="nearest feasible target is 6,030"):
        sizing.solve("bigru", task, 5_600)  # between width 6 (5,134) and 7 (6,030)
    assert "bigru" not in architectures.wildcard_names()


def test_linear_baseline_has_one_size_and_is_not_picked_by_the_wildcard():
    task = TASKS["signal1d"]
    for target in (410, 10_000, 1_000_000):
        sized = sizing.solve("linear", task, target)
        assert sized.fixed and sized.params == 40 * 10 + 10 == sizing.count_params("linear", task, sized.shape)
    assert "linear" in architectures.names() and "linear" not in architectures.wildcard_names()
