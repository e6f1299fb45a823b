"""The sizing solver: measured counts within tolerance, few builds, honest errors, FLOPs."""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass

import jax
import numpy as np
import pytest
from flax import nnx

import architectures
from benchmarks.running import sizing
from benchmarks.spec import ArchShape, TaskSpec, UserError


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test: families it registers are gone afterwards."""
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


def _task(name: str) -> TaskSpec:  # a fresh name: nothing about it is cached yet
    return TaskSpec(name, "signal1d", (40, 1), 10)


def _builds() -> int:
    return sizing.param_shapes.cache_info().misses


def test_solver_predicts_counts_from_three_builds_and_measures_one_per_target():
    task = _task("fresh-a")
    before = _builds()
    first = sizing.solve("transformer", task, 20_000)
    after_first = _builds()
    second = sizing.solve("transformer", task, 50_000)  # same depth: the prediction is reused
    assert after_first - before <= 4 and _builds() - after_first == 1
    for sized, target in ((first, 20_000), (second, 50_000)):
        assert abs(sized.params / target - 1) <= 0.02
        assert sized.params == sizing.count_params("transformer", task, sized.shape)


def test_family_with_non_affine_dimensions_is_matched_on_measured_counts(registry):
    @dataclass(frozen=True)
    class Cfg:
        width: int
        hidden: int

    class Quadratic(nnx.Module):  # a dimension that grows like width**2: the affine prediction fails
        def __init__(self, cfg: Cfg, rngs: nnx.Rngs):
            self.a = nnx.Linear(40, cfg.width * cfg.width // 4 + 1, rngs=rngs)
            self.b = nnx.Linear(cfg.width * cfg.width // 4 + 1, cfg.hidden, rngs=rngs)
            self.head = nnx.Linear(cfg.hidden, 10, rngs=rngs)

        def __call__(self, x):
            return self.head(self.b(self.a(x.reshape(x.shape[0], -1))))

    @architectures.register("quadratic_test", depth_for=lambda n: 1, hidden_ratio=1.0)
    def build(task, shape, rngs):
        return Quadratic(Cfg(shape.width, shape.hidden), rngs)

    task = _task("fresh-b")
    sized = sizing.solve("quadratic_test", task, 50_000)
    assert abs(sized.params / 50_000 - 1) <= 0.02
    assert sized.params == sizing.count_params("quadratic_test", task, sized.shape)


class _Stepped(nnx.Module):
    """A bottleneck of ceil(width / 16) units, as Mamba's dt_rank: affine in hidden, a step function of width."""

    def __init__(self, width: int, hidden: int, rngs: nnx.Rngs):
        self.embed = nnx.Linear(40, width, rngs=rngs)
        self.up = nnx.Linear(width, hidden, rngs=rngs)
        self.rank = nnx.Linear(hidden, -(-width // 16), rngs=rngs)
        self.down = nnx.Linear(-(-width // 16), width, rngs=rngs)
        self.head = nnx.Linear(width, 10, rngs=rngs)

    def __call__(self, x):
        h = self.embed(x.reshape(x.shape[0], -1))
        return self.head(h + self.down(self.rank(self.up(h))))


def test_family_with_a_dimension_stepping_in_width_matches_as_on_measured_counts_in_fewer_builds(registry):
    architectures.register("stepped_test", depth_for=lambda n: 1, hidden_ratio=2.0)(
        lambda task, shape, rngs: _Stepped(shape.width, shape.hidden, rngs))
    family = architectures.get("stepped_test")
    for target in (30_000, 200_000):
        before = _builds()
        sized = sizing.solve("stepped_test", _task("fresh-stepped"), target)
        builds = _builds() - before
        reference = _task(f"fresh-stepped-measured-{target}")  # the same inputs, nothing cached for it
        measured = lambda w, h, task=reference: sizing.count_params("stepped_test", task, ArchShape(w, 1, h))
        before = _builds()
        expected = sizing._search(family, measured, target, 0.02, 1, sizing.MAX_WIDTH, 1, 1)
        assert (sized.shape.width, sized.shape.hidden, sized.params) == expected
        assert builds < (_builds() - before) / 2


def test_a_guessed_answer_leaves_the_search_answer_unchanged_and_costs_two_counts_when_right():
    counts = [0, 3, 3, 7, 9, 12, 12, 12, 20, 31]  # nondecreasing, with flat runs
    asked: list[int] = []

    def count(x: int) -> int:
        asked.append(x)
        return counts[x]

    for target in (3, 8, 12, 19):
        expected = sizing.last_at_most(count, target, 0, 9)
        for guess in range(-1, 11):
            assert sizing.last_at_most(count, target, 0, 9, guess) == expected
        asked.clear()
        assert sizing.last_at_most(count, target, 0, 9, expected) == expected and len(set(asked)) <= 2


def test_target_below_the_smallest_model_names_the_smallest_count():
    task = TaskSpec("long-tokens", "tokens", (512,), 10, vocab_size=260)
    smallest = sizing.count_params("transformer", task, ArchShape(8, 2, 1))
    with pytest.raises(UserError, match=f"nearest feasible target is {smallest:,}"):
        sizing.solve("transformer", task, 1_000)


def test_flops_per_example_of_an_mlp_are_two_per_weight():
    task = _task("flops")
    shape = ArchShape(width=32, depth=2, hidden=16)
    weights = 40 * 32 + 32 * 16 + 16 * 10
    assert sizing.flops_per_example("mlp", task, shape) == pytest.approx(2 * weights, rel=0.15)


@pytest.mark.parametrize("arch", ["mlp", "transformer", "gru", "mixer"])
def test_shapes_from_a_million_parameters_tile_and_smaller_ones_keep_the_family_multiples(arch):
    """From 1M params widths and hidden are multiples of 8, wide widths of 64; below, the family's own unit."""
    task = _task("tile")
    family = architectures.get(arch)
    for target in (1_000_000, 10_000_000, 30_000_000):
        sized = sizing.solve(arch, task, target)
        w, h = sized.shape.width, sized.shape.hidden
        assert abs(sized.deviation) <= 0.02 and w % 8 == 0 and h % 8 == 0, (target, sized.shape)
        assert w < sizing.WIDE_FROM or w % 64 == 0, (target, sized.shape)
    small = [sizing.solve(arch, task, t).shape for t in (5_000, 20_000, 100_000)]
    assert all(s.width % family.width_multiple == 0 for s in small)
    assert any(s.width % 8 or s.hidden % 8 for s in small)  # not forced onto the tile: every unit counts here


def test_transformer_heads_are_64_wide_where_the_width_allows():
    from architectures.transformer import num_heads_for

    assert num_heads_for(384) == 6 and num_heads_for(1280) == 20  # 64-wide heads
    assert num_heads_for(368) == 23 and num_heads_for(64) == 4 and num_heads_for(40) == 2  # else >= 16 wide


def test_a_scanned_layer_counts_the_flops_of_its_unrolled_twin():
    """XLA's cost analysis counts one iteration of a loop: the count unrolls scans first."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    import architectures
    from benchmarks.spec import ArchShape, TaskSpec

    class Recur(nnx.Module):
        def __init__(self, task, shape, rngs, scanned):
            self.w = nnx.Linear(shape.width, shape.width, rngs=rngs)
            self.inp = nnx.Linear(task.input_shape[-1], shape.width, rngs=rngs)
            self.scanned = scanned

        def __call__(self, x_BxLx1):
            x = self.inp(x_BxLx1).swapaxes(0, 1)
            h = jnp.zeros(x.shape[1:])
            if self.scanned:
                h, _ = jax.lax.scan(lambda h, xt: (jnp.tanh(self.w(h) + xt), None), h, x)
            else:
                for xt in x:
                    h = jnp.tanh(self.w(h) + xt)
            return h

    for scanned in (True, False):
        architectures.register(f"recur_{scanned}", depth_for=lambda n: 1)(
            lambda task, shape, rngs, scanned=scanned: Recur(task, shape, rngs, scanned))
    try:
        task = TaskSpec(name="toy", input_kind="signal1d", input_shape=(12, 1), num_classes=3)
        shape = ArchShape(width=16, depth=1, hidden=16)
        scanned, unrolled = (sizing.flops_per_example(f"recur_{s}", task, shape) for s in (True, False))
        assert unrolled > 12 * 2 * 16 * 16  # every step's matrix product counted
        assert abs(scanned / unrolled - 1) < 0.01
    finally:
        for scanned in (True, False):
            architectures._REGISTRY.pop(f"recur_{scanned}", None)


def test_fixed_size_family_reports_its_real_count_whatever_the_target():
    task = _task("fixed")
    for target in (100, 410, 50_000):
        sized = sizing.solve("linear", task, target)
        assert sized.fixed and sized.params == 410 and sized.shape == ArchShape(0, 1, 0)
    assert not sizing.solve("mlp", task, 10_000).fixed
class _Gated(nnx.Module):
    """A gated block that splits `hidden` in two halves: hidden = 1 leaves a half of 0 units."""

    def __init__(self, width: int, hidden: int, rngs: nnx.Rngs):
        half = hidden // 2
        self.embed = nnx.Linear(40, width, rngs=rngs)
        self.gate = nnx.Linear(width, half, rngs=rngs)
        self.value = nnx.Linear(width, half, rngs=rngs)
        self.down = nnx.Linear(half, width, rngs=rngs)  # fan-in 0 at hidden = 1: the initializer divides by zero
        self.head = nnx.Linear(width, 10, rngs=rngs)

    def __call__(self, x):
        h = self.embed(x.reshape(x.shape[0], -1))
        return self.head(h + self.down(jax.nn.sigmoid(self.gate(h)) * self.value(h)))


def _register_gated(name: str, **limits) -> list[ArchShape]:
    """Register the gated family; returns the list of shapes its builder is called with."""
    built: list[ArchShape] = []

    def build(task, shape, rngs):
        built.append(shape)
        return _Gated(shape.width, shape.hidden, rngs)

    architectures.register(name, depth_for=lambda n: 1, hidden_ratio=2.0, **limits)(build)
    return built


def test_family_declaring_an_even_hidden_is_sized_on_even_hidden_only(registry):
    _register_gated("gated_even", hidden_step=2)
    for target in (5_000, 20_000):
        sized = sizing.solve("gated_even", _task("gated-even"), target)
        assert abs(sized.deviation) <= 0.02 and sized.shape.hidden % 2 == 0


def test_family_declaring_a_smallest_hidden_is_never_probed_below_it(registry):
    built = _register_gated("gated_min", hidden_min=6, hidden_step=2)
    sized = sizing.solve("gated_min", _task("gated-min"), 2_000)
    assert sized.shape.hidden >= 6 and sized.shape.hidden % 2 == 0
    assert built and all(shape.hidden >= 6 and shape.hidden % 2 == 0 for shape in built)


def test_builder_failing_at_a_probe_shape_is_one_error_naming_family_shape_and_cause(registry):
    _register_gated("gated_undeclared")
    with pytest.raises(sizing.BuilderFailed) as info:
        sizing.solve("gated_undeclared", _task("gated-undeclared"), 5_000)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, UserError)
    assert "gated_undeclared" in message and "hidden 1" in message and "ZeroDivisionError" in message
    assert "hidden_step=" in message


def _avals(model: nnx.Module) -> list:
    leaves = jax.tree_util.tree_leaves_with_path(nnx.state(model))
    return [(jax.tree_util.keystr(path), leaf.shape, leaf.dtype) for path, leaf in leaves]


@pytest.mark.parametrize("arch", architectures.names())
def test_zero_draws_build_the_same_abstract_model(arch):
    task = TaskSpec("zero-draws", "tokens", (16,), 10, vocab_size=12)
    family = architectures.get(arch)
    shape = ArchShape(0, 1, 0) if family.fixed_size else sizing._probe_shape(family, 2)[0]
    with sizing.quiet_tracer_probes():
        drawn = nnx.eval_shape(lambda: architectures.build(arch, task, shape, nnx.Rngs(0)))
    assert _avals(sizing.abstract_model(arch, task, shape)) == _avals(drawn)


def test_zero_draws_hand_out_a_streams_key_unstepped_in_this_thread_only():
    rngs = nnx.Rngs(0)
    with sizing.zeros_for_draws(), concurrent.futures.ThreadPoolExecutor(1) as other:
        here = [jax.random.key_data(rngs.params()) for _ in range(2)]
        there = [jax.random.key_data(k) for k in other.submit(lambda: [rngs.params(), rngs.params()]).result()]
    assert (here[0] == here[1]).all() and not (there[0] == there[1]).all()
    assert not (jax.random.key_data(rngs.params()) == there[1]).all()  # stepped on from where the other thread left it


def test_zero_draws_are_this_threads_only():
    key = jax.random.key(0)
    with sizing.zeros_for_draws(), concurrent.futures.ThreadPoolExecutor(1) as other:
        here = jax.random.normal(key, (4,))
        there = other.submit(jax.random.normal, key, (4,)).result()
    assert not here.any() and there.all() and (jax.random.normal(key, (4,)) == there).all()



def test_matched_shapes_compiled_concurrently_gives_each_row_the_count_of_its_own_program_in_order():
    task = _task("fresh-concurrent")
    cells = [(a, t) for a in ("mlp", "linear") for t in (10_000, 100_000)]
    rows = sizing.matched_shapes(task, ["mlp", "linear"], [10_000, 100_000], 0.02)
    alone = [sizing.flops_per_example(a, task, sizing.solve(a, task, t).shape) for a, t in cells]
    assert [(r["arch"], r["target_params"]) for r in rows] == cells
    assert [r["flops_per_example"] for r in rows] == alone and len(set(alone)) == 3  # linear: one size



def test_a_jitted_draw_traced_abstractly_draws_for_real_afterwards():
    # A family may jit a helper that draws; traced inside `zeros_for_draws`, its cache must not keep the zeros.
    draw = jax.jit(lambda key: jax.random.normal(key, (5,)))
    key = jax.random.key(3)
    with sizing.zeros_for_draws():
        assert jax.eval_shape(draw, key).shape == (5,)
    assert (np.asarray(draw(key)) == np.asarray(jax.random.normal(key, (5,)))).all() and np.asarray(draw(key)).all()
