"""The training protocol's rules: budgets tied to the data, the scored checkpoint, convergence, the rate search."""

import dataclasses

import numpy as np
import pytest

from benchmarks.running import protocol
from benchmarks.running.runner import _seed_results, execute
from benchmarks.running.train import TrainOutput
from benchmarks.spec import RunSpec, Splits
from tests.conftest import make_view


@pytest.mark.parametrize("epochs,lo,hi", [(5, 50, 2000), (20, 200, 1000), (0.5, 10, 50)])
def test_a_larger_training_set_never_gets_fewer_steps_or_fewer_epochs_below_the_cap(epochs, lo, hi):
    sizes = [100, 400, 1000, 2000, 4000, 12000]
    steps = [protocol.steps_for(n, 64, epochs, lo, hi, 10) for n in sizes]
    assert steps == sorted(steps)
    assert all(s % 10 == 0 and lo <= s <= hi + 9 for s in steps)
    uncapped = [(s, n) for s, n in zip(steps, sizes) if s < hi]
    assert all(s * 64 / n >= epochs - 1e-9 for s, n in uncapped)  # the epoch budget is honoured below the cap


def _planted() -> TrainOutput:
    # Planted curves: member 0's validation loss is lowest at the 2nd evaluation, then it overfits.
    val = np.array([[1.0, 0.5, 0.7, 0.9], [1.0, 0.8, 0.6, 0.4]])
    test = np.array([[1.1, 0.6, 0.8, 1.2], [1.1, 0.9, 0.7, 0.5]])
    curves = {"val_loss": val, "val_acc": 1 - val / 2, "test_loss": test, "test_acc": 1 - test / 2, "train_loss": val / 2}
    return TrainOutput(curves=curves, steps=[10, 20, 30, 40], evals_run=np.array([4, 4]), diverged_step=np.array([-1, -1]),
                       state=None, compile_s=0.0, train_s=1.0)


def test_the_scored_checkpoint_is_the_best_on_validation_not_the_last():
    first, second = _seed_results([0, 1], _planted(), range(2), "best_val_loss")
    assert first.best_step == 20 and first.test_loss == pytest.approx(0.6) and first.final_test_loss == pytest.approx(1.2)
    assert second.best_step == 40 and second.test_loss == pytest.approx(0.5)
    assert first.converged and not second.converged  # 0.6 -> 0.4 in the last quarter is still learning


def test_a_suite_scoring_the_last_step_scores_the_last_evaluation_and_keeps_the_curves():
    first, _ = _seed_results([0, 1], _planted(), range(2), "last_step")  # the paper suite's rule
    assert first.best_step == 40 and first.test_loss == pytest.approx(1.2) == first.final_test_loss
    assert first.val_loss == pytest.approx(0.9) and first.converged  # convergence still reads the validation curve


def test_convergence_needs_a_plateau_in_the_last_quarter():
    assert protocol.has_converged([2.0, 1.0, 0.8, 0.79, 0.7899, 0.79, 0.791, 0.7901])
    assert protocol.has_converged([2.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])  # overfits: the best is kept
    assert not protocol.has_converged([2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6])
    assert not protocol.has_converged([1.0, float("nan"), 0.5, 0.5])
    # Measured curves (quick, 20k params, 4,000 examples): the ConvNet's last quarter brought 0.35% of its gain,
    # the Transformer's 5.3%.
    conv = [2.149, 1.93, 1.552, 1.459, 1.38, 1.278, 1.09, 0.896, 0.796, 0.755, 0.754, 0.539, 0.437, 0.538, 0.343,
            0.312, 0.268, 0.213, 0.185, 0.186, 0.161, 0.183, 0.158, 0.154, 0.155, 0.155]
    trf = [2.051, 1.882, 1.639, 1.579, 1.571, 1.531, 1.393, 1.395, 1.335, 1.334, 1.301, 1.191, 1.094, 1.068, 1.069,
           0.997, 0.962, 0.929, 0.916, 0.875, 0.838, 0.86, 0.824, 0.815, 0.811, 0.809]
    assert protocol.has_converged(conv) and not protocol.has_converged(trf)


def _surface(optimum: float):
    """A planted validation loss over log learning rate, lowest at `optimum`."""
    return lambda lr: (np.log10(lr) - np.log10(optimum)) ** 2


@pytest.mark.parametrize("optimum", [1e-5, 3e-1, 2e-3])
def test_the_search_extends_toward_an_edge_optimum_and_every_search_has_the_same_size(optimum):
    grid = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    loss = _surface(optimum)
    extra = protocol.extension_rates(grid, [loss(r) for r in grid], extend=3)
    rates = grid + extra
    assert len(rates) == 8 and len(set(rates)) == 8
    scores = [loss(r) for r in rates]
    best = rates[int(np.argmin(scores))]
    if optimum < grid[0]:
        assert max(extra) < grid[0] and best == pytest.approx(1e-5, rel=0.3)  # found below the grid...
        assert not protocol.at_edge(rates, scores)  # ...and inside the extended search
    elif optimum > grid[-1]:
        assert min(extra) > grid[-1]
        assert best == pytest.approx(3e-1, rel=0.3)  # three steps of ~3.16 up from 1e-2 reach the optimum
    else:
        assert grid[0] < min(extra) and max(extra) < grid[-1]  # refining inside
        assert not protocol.at_edge(rates, scores)


def test_a_search_where_every_trial_diverged_goes_down():
    extra = protocol.extension_rates([1e-2, 3e-2], [np.inf, np.inf], extend=2)
    assert max(extra) < 1e-2


def _splits() -> Splits:
    v = make_view(n_train=512, n_eval=128, length=16)
    return Splits(v.task, v.x_train, v.y_train, v.x_val, v.y_val, v.x_test, v.y_test, version="toy-1")


def test_a_run_on_an_edge_extends_its_grid_and_records_every_trial():
    spec = RunSpec(arch="mlp", dataset="toy", target_params=10_000, data_size=256, seeds=(0, 1), steps=60,
                   batch_size=32, eval_every=20, lr_trials=(1e-6, 3e-6), lr_extend=2)
    record = execute(spec, splits=_splits())
    assert len(record.lr_trials) == 4  # the grid's two and two more, upward: the tiny rates are far too low
    assert max(float(k) for k in record.lr_trials) > 3e-6 * 2
    assert record.lr == max(float(k) for k in record.lr_trials) and record.lr_at_edge
    assert all(s.best_step is not None for s in record.seeds) and record.curves.val_loss
    assert record.epochs == pytest.approx(60 * 32 / 256)


def test_two_families_get_the_same_number_of_trials():
    base = RunSpec(arch="mlp", dataset="toy", target_params=10_000, data_size=256, seeds=(0,), steps=40,
                   batch_size=32, eval_every=20, lr_trials=(1e-4, 1e-3, 1e-2), lr_extend=1)
    counts = {arch: len(execute(dataclasses.replace(base, arch=arch), splits=_splits()).lr_trials)
              for arch in ("mlp", "gru")}
    assert set(counts.values()) == {4}


def test_with_one_tuning_seed_the_others_train_at_the_chosen_rate_only():
    spec = RunSpec(arch="mlp", dataset="toy", target_params=10_000, data_size=256, seeds=(0, 1, 2), steps=40,
                   batch_size=32, eval_every=20, lr_trials=(1e-4, 1e-3, 1e-2), lr_extend=1, lr_tune_seeds=1)
    record = execute(spec, splits=_splits())
    assert len(record.lr_trials) == 4 and [s.seed for s in record.seeds] == [0, 1, 2]
    full = execute(dataclasses.replace(spec, lr_trials=(record.lr,), lr_extend=0, lr_tune_seeds=0), splits=_splits())
    for tuned, direct in zip(record.seeds, full.seeds):  # the same members, trained in another order
        assert tuned.val_loss == pytest.approx(direct.val_loss, rel=1e-4)


def test_early_stopping_waits_its_patience_and_a_stopped_member_has_converged():
    v = [2.0, 1.0, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]  # best at the 3rd of 8 planned evaluations
    assert not protocol.stops_early(v[:4], n_planned=8, patience=0.25)  # best 1 evaluation old
    assert protocol.stops_early(v[:5], n_planned=8, patience=0.25)  # 2 old = a quarter of the 8 planned
    assert not protocol.stops_early(v[:7], n_planned=8, patience=0.0)  # 0: never
    history = [np.array([x, 3.0 - i * 0.1]) for i, x in enumerate(v)]  # member 1 improves throughout
    assert protocol.evals_run(history, 2, 8, 0.25).tolist() == [5, 8]
    assert protocol.has_converged(v[:5])  # what the stopped member ran satisfies the convergence rule
    masked = [np.array([x if i < 5 else np.nan, y]) for i, (x, y) in enumerate(history)]
    assert protocol.evals_run(masked, 2, 8, 0.25).tolist() == [5, 8]  # a resumed run's history replays the same


def test_an_early_stopped_seed_is_scored_before_its_stop_and_packing_does_not_change_it():
    from benchmarks import data
    from benchmarks.running import sizing
    from benchmarks.running.programs import Model, TrainConfig, device_data
    from benchmarks.running.train import train

    splits = _splits()
    view = data.training_view(splits, 64)  # 64 examples: a large rate overfits them fast
    sized = sizing.solve("mlp", splits.task, 10_000, 0.02)
    model = Model.create("mlp", splits.task, sized.shape)
    cfg = TrainConfig(batch_size=32, eval_every=10, warmup_frac=0.05, weight_decay=0.0)
    kw = dict(seeds=[0, 1, 2], lrs=[3e-2, 3e-2, 1e-5], n_train=[64] * 3, steps=200, patience=0.25)
    one, together = (train(model, cfg, device_data(view), pack=p, **kw) for p in (1, None))
    assert one.evals_run.tolist() == together.evals_run.tolist()
    stopped = one.evals_run < 20
    assert stopped[:2].all() and not stopped[2]  # the tiny rate is still learning at the end: it never stops
    for m in np.flatnonzero(stopped):
        e = one.evals_run[m]
        assert np.isnan(one.curves["val_loss"][m, e:]).all() and np.isfinite(one.curves["val_loss"][m, :e]).all()
        assert protocol.has_converged(one.curves["val_loss"][m, :e])
    np.testing.assert_allclose(np.nanmin(one.curves["val_loss"], 1), np.nanmin(together.curves["val_loss"], 1), rtol=1e-4)


def test_a_run_with_patience_records_each_seeds_stop_and_counts_only_the_steps_it_trained():
    spec = RunSpec(arch="mlp", dataset="toy", target_params=10_000, data_size=64, seeds=(0, 1), steps=200,
                   batch_size=32, eval_every=10, lr=3e-2, weight_decay=0.0, patience=0.25)
    record = execute(spec, splits=_splits())
    for seed, val in zip(record.seeds, record.curves.val_loss):
        assert seed.stopped_step is not None and seed.converged and seed.best_step < seed.stopped_step
        ran = seed.stopped_step // 10
        assert all(x is None for x in val[ran:]) and all(x is not None for x in val[:ran])
        assert seed.final_val_loss == pytest.approx(val[ran - 1])
