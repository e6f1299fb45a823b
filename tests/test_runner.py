"""The runner: sizing, learning-rate choice on validation data only, the record it returns."""

import dataclasses

import numpy as np
import pytest

import architectures
from benchmarks import data
from benchmarks.running.runner import execute, run_id
from benchmarks.spec import RunSpec, Splits
from tests.conftest import make_view


def _splits(shuffle_test_labels: bool = False) -> Splits:
    v = make_view(n_train=512, n_eval=128, length=16)
    y_test = np.random.default_rng(1).permutation(v.y_test) if shuffle_test_labels else v.y_test
    return Splits(v.task, v.x_train, v.y_train, v.x_val, v.y_val, v.x_test, y_test, version="toy-1")


SPEC = RunSpec(arch="mlp", dataset="toy", target_params=10_000, data_size=256, seeds=(0, 1), steps=60,
               batch_size=32, eval_every=20, lr_trials=(1e-4, 3e-3, 3.0))


def test_learning_rate_is_chosen_on_validation_loss_and_recorded():
    record = execute(SPEC, splits=_splits())
    assert set(record.lr_trials) == {"0.0001", "0.003", "3"}
    finite = {k: v for k, v in record.lr_trials.items() if v is not None}
    assert record.lr == float(min(finite, key=finite.get))
    assert record.status == "ok" and len(record.seeds) == 2
    assert abs(record.params / 10_000 - 1) <= 0.02 and record.flops_per_example > 0


def test_test_labels_never_influence_the_choice():
    honest = execute(SPEC, splits=_splits())
    scrambled = execute(SPEC, splits=_splits(shuffle_test_labels=True))
    assert scrambled.lr == honest.lr and scrambled.lr_trials == honest.lr_trials
    assert [s.val_loss for s in scrambled.seeds] == [s.val_loss for s in honest.seeds]


def test_a_run_that_blows_up_is_recorded_as_diverged_with_its_step():
    spec = dataclasses.replace(SPEC, lr_trials=(), lr=1e30, weight_decay=0.0)
    record = execute(spec, splits=_splits())
    assert record.status == "diverged" and "non-finite at step" in record.reason
    assert any(s.diverged_step is not None for s in record.seeds)


def test_run_id_hashes_the_dataset_version_without_loading_its_arrays(monkeypatch):
    monkeypatch.setattr(data, "load", lambda name: pytest.fail(f"run_id loaded {name}"))
    spec = dataclasses.replace(SPEC, dataset="listops?length=64&train=2000")
    mlp = architectures.get("mlp").version
    assert run_id(spec) == spec.run_id(arch_version=mlp, data_version=data.version(spec.dataset))
    assert run_id(spec) != run_id(dataclasses.replace(spec, dataset="listops?length=64&train=3000"))


def test_the_record_of_given_splits_carries_the_run_id_of_their_version():
    record = execute(SPEC, splits=_splits())
    assert record.run_id == run_id(SPEC, "toy-1") and record.data_version == "toy-1"


def test_run_id_of_a_built_in_dataset_is_what_it_was_before_user_files_were_known_by_content():
    """The value was computed before the change; reference results and old records keep their ids."""
    spec = RunSpec(arch="mlp", dataset="mnist1d", target_params=10_000, data_size=1000)
    assert run_id(spec) == "935011d0bb6c0048"


def test_each_model_of_the_paper_suite_trains_and_is_scored_at_its_last_step():
    import pytest

    from benchmarks.running.suite import load_suite

    splits = _splits()
    chance = 1 / splits.task.num_classes
    for paper_spec in {s.arch: s for s in load_suite("paper").run_specs()}.values():  # one per model
        spec = dataclasses.replace(paper_spec, dataset="toy", data_size=256, steps=60, eval_every=20, batch_size=32,
                                   seeds=(0,))
        record = execute(spec, splits=splits)
        assert record.status == "ok", spec.arch
        (seed,) = record.seeds
        assert seed.best_step == 60 and seed.test_acc == pytest.approx(seed.final_test_acc)
        assert seed.test_acc > chance + 0.2, (spec.arch, seed.test_acc)


def test_test_points_only_where_the_scored_checkpoint_can_be_give_the_same_figures():
    """`test_curves = "best"` evaluates the test split at each new best on validation and at each seed's last
    evaluation only; every scored and final figure is the full curves' (the training program is the same)."""
    spec = dataclasses.replace(SPEC, data_size=64, steps=200, eval_every=10, lr_trials=(3e-3, 3e-2), patience=0.25,
                               weight_decay=0.0, test_curves="full")
    full = execute(spec, splits=_splits())
    best = execute(dataclasses.replace(spec, test_curves="best"), splits=_splits())
    assert best.run_id == full.run_id  # what a run trains to is the same: the test points are what it records
    assert best.curves.val_loss == full.curves.val_loss and best.curves.train_loss == full.curves.train_loss
    for b, f in zip(best.seeds, full.seeds):
        assert (b.test_loss, b.test_acc, b.final_test_loss, b.final_test_acc) == (f.test_loss, f.test_acc,
                                                                                   f.final_test_loss, f.final_test_acc)
    for val, test, test_full in zip(best.curves.val_loss, best.curves.test_loss, full.curves.test_loss):
        ran = [v for v in val if v is not None]
        new_best = [v is not None and v < min([u for u in val[:i] if u is not None], default=np.inf)
                    for i, v in enumerate(val)]
        kept = [i for i, t in enumerate(test) if t is not None]
        assert kept == sorted({i for i, nb in enumerate(new_best) if nb} | {len(ran) - 1})
        assert all(test[i] == test_full[i] for i in kept) and len(kept) < len(ran)
