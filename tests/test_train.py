import jax
import numpy as np
import pytest

from benchmarks.running.programs import Members, Model, TrainConfig, compiled_init, device_data, schedule, train_step
from benchmarks.running.train import train
from benchmarks.spec import ArchShape

CFG = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4)
STEPS = 40
SHAPE = ArchShape(width=16, depth=2, hidden=16)


def _params(out, member: int) -> list[np.ndarray]:
    return [np.asarray(leaf[member]) for leaf in jax.tree.leaves(out.state.params)]


def test_fused_scan_matches_step_by_step_loop(toy_view):
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    fused = train(model, CFG, data, seeds=[3], lrs=[3e-3], n_train=[256], steps=STEPS)

    step = jax.jit(jax.vmap(train_step, in_axes=(None, None, 0, 0, None)), static_argnums=(0, 1))
    members = Members.of([3e-3], [256], [STEPS])
    seeds = np.array([3], np.uint32)
    state = compiled_init(model, CFG, seeds)(seeds)
    for _ in range(STEPS):  # the plain Python loop the fused program replaces
        state, _ = step(model, CFG, state, members, data)

    for a, b in zip(_params(fused, 0), [np.asarray(leaf[0]) for leaf in jax.tree.leaves(state.params)]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_vmapped_seeds_equal_separate_runs(toy_view):
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    together = train(model, CFG, data, seeds=[0, 1], lrs=[1e-3, 1e-3], n_train=[256, 256], steps=STEPS)
    for m, seed in enumerate([0, 1]):
        alone = train(model, CFG, data, seeds=[seed], lrs=[1e-3], n_train=[256], steps=STEPS)
        np.testing.assert_allclose(together.final("test_loss")[m], alone.final("test_loss")[0], rtol=1e-5)
        for a, b in zip(_params(together, m), _params(alone, 0)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_padding_the_training_pool_does_not_change_the_run(toy_view):
    model = Model.create("mlp", toy_view.task, SHAPE)
    exact = train(model, CFG, device_data(toy_view), seeds=[0], lrs=[1e-3], n_train=[256], steps=STEPS)
    padded = train(model, CFG, device_data(toy_view, capacity=512), seeds=[0], lrs=[1e-3], n_train=[256], steps=STEPS)
    np.testing.assert_allclose(exact.final("test_loss"), padded.final("test_loss"), rtol=1e-6)


def test_training_learns_the_toy_task_and_keeps_curves(toy_view):
    model = Model.create("mlp", toy_view.task, SHAPE)
    out = train(model, TrainConfig(32, 50, 0.1, 1e-4), device_data(toy_view), seeds=[0], lrs=[3e-3], n_train=[256], steps=200)
    assert out.curves["test_acc"].shape == (1, 4)
    assert out.steps == [50, 100, 150, 200]
    assert out.final("test_acc")[0] > 0.8  # chance is 1/3
    assert out.curves["train_loss"][0, -1] < out.curves["train_loss"][0, 0]


def test_nonfinite_loss_is_caught_with_its_step(toy_view):
    bad = toy_view.x_train.copy()
    bad[:] = np.inf
    view = type(toy_view)(toy_view.task, bad, *[getattr(toy_view, f) for f in ("y_train", "x_val", "y_val", "x_test", "y_test")])
    model = Model.create("mlp", toy_view.task, SHAPE)
    out = train(model, CFG, device_data(view), seeds=[0], lrs=[1e-3], n_train=[256], steps=STEPS)
    assert out.diverged_step.tolist() == [0]


@pytest.mark.parametrize("precision", ["bfloat16"])
def test_bfloat16_compute_keeps_float32_parameters(toy_view, precision):
    cfg = TrainConfig(16, 20, 0.1, 1e-4, precision=precision)
    model = Model.create("mlp", toy_view.task, SHAPE)
    out = train(model, cfg, device_data(toy_view), seeds=[0], lrs=[3e-3], n_train=[256], steps=STEPS)
    assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(out.state.params))
    assert np.isfinite(out.final("test_loss")).all()


def test_schedule_matches_optax_warmup_cosine():
    import optax

    for steps in (40, 200, 1000):
        warmup = max(1, int(0.1 * steps))
        reference = optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup, steps, end_value=0.0)
        for step in (0, 1, warmup - 1, warmup, warmup + 3, steps // 2, steps - 1, steps):
            np.testing.assert_allclose(float(schedule(step, steps, 0.1)), float(reference(step)), atol=1e-6)


def test_one_program_serves_runs_of_different_lengths(toy_view):
    from benchmarks.running import programs

    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    before = len(programs._compiled)
    short = train(model, CFG, data, seeds=[0], lrs=[1e-3], n_train=[128], steps=40)
    long = train(model, CFG, data, seeds=[0], lrs=[1e-3], n_train=[256], steps=80)
    assert len(programs._compiled) - before <= 2  # one init and one interval program, for both runs
    assert short.steps == [20, 40] and long.steps == [20, 40, 60, 80]


def test_packing_members_changes_the_speed_not_the_results(toy_view):
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    members = dict(seeds=[0, 1, 2], lrs=[1e-3, 3e-3, 1e-2], n_train=[256, 128, 256], steps=STEPS)
    together = train(model, CFG, data, **members, pack=None)
    for pack in (1, 2):  # one at a time, and two chunks of which the last is padded
        chunked = train(model, CFG, data, **members, pack=pack)
        for metric in ("val_loss", "test_acc"):
            np.testing.assert_allclose(chunked.curves[metric], together.curves[metric], rtol=1e-5, atol=1e-6)
        assert jax.tree.leaves(chunked.state.params)[0].shape[0] == 3


def _one_update(params, grads, weight_decay: float = 0.1):
    from benchmarks.running.programs import optimizer

    opt = optimizer(1e-2, 10, TrainConfig(batch_size=16, eval_every=10, warmup_frac=0.0, weight_decay=weight_decay))
    updates, _ = opt.update(grads, opt.init(params), params)
    return updates


def test_a_parameter_group_scales_its_steps_and_skips_weight_decay_and_no_group_changes_nothing():
    import optax
    from flax import nnx

    from benchmarks.running.programs import schedule

    w = np.ones((3, 3), np.float32)
    plain = nnx.State({"w": nnx.Param(w), "v": nnx.Param(w)})
    grouped = nnx.State({"w": nnx.Param(w), "v": nnx.Param(w, lr_scale=0.5, weight_decay=False)})
    grads_of = lambda params: jax.tree.map(lambda p: np.full_like(p, 0.1), params)  # jax.grad keeps the groups
    # Without groups: the optimiser is AdamW with decay on matrices, as before groups existed.
    adamw = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(
        lambda s: 1e-2 * schedule(s, 10, 0.0), weight_decay=0.1, mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)))
    want, _ = adamw.update(grads_of(plain), adamw.init(plain), plain)
    for a, b in zip(jax.tree.leaves(_one_update(plain, grads_of(plain))), jax.tree.leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The grouped parameter: half the Adam step and no decay; the other parameter unchanged.
    got = _one_update(grouped, grads_of(grouped))
    no_decay = _one_update(plain, grads_of(plain), weight_decay=0.0)
    np.testing.assert_array_equal(np.asarray(got["w"][...]), np.asarray(want["w"][...]))
    np.testing.assert_allclose(np.asarray(got["v"][...]), 0.5 * np.asarray(no_decay["v"][...]), rtol=1e-6)
