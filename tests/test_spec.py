import dataclasses
import json

import pytest

from benchmarks.spec import Curves, RunRecord, RunSpec, SeedResult, UserError


def _spec(**kw) -> RunSpec:
    return RunSpec(arch="mlp", dataset="mnist1d", target_params=10_000, data_size=1000, **kw)


def test_run_id_is_a_deterministic_content_hash():
    a, b = _spec(), _spec()
    assert a.run_id(arch_version="1", data_version="x") == b.run_id(arch_version="1", data_version="x")
    assert len(a.run_id(arch_version="1", data_version="x")) == 16


@pytest.mark.parametrize(
    "change", [dict(steps=2000), dict(seeds=(0, 2)), dict(lr=3e-3), dict(data_size=2000), dict(scored_at="last_step"),
              dict(patience=0.25)]
)
def test_run_id_changes_with_anything_that_changes_the_result(change):
    base = _spec().run_id(arch_version="1", data_version="x")
    assert dataclasses.replace(_spec(), **change).run_id(arch_version="1", data_version="x") != base
    assert _spec().run_id(arch_version="2", data_version="x") != base
    assert _spec().run_id(arch_version="1", data_version="y") != base


def test_a_field_added_later_leaves_run_ids_unchanged_at_its_default():
    # The hash of the spec's fields before `scored_at` and `patience` existed (its value pinned on that commit).
    assert _spec().run_id(arch_version="1", data_version="d") == "795f7115c31df5f4"


def test_suite_name_does_not_change_run_id():
    assert _spec(suite="a").run_id(arch_version="1", data_version="x") == _spec(suite="b").run_id(
        arch_version="1", data_version="x"
    )


@pytest.mark.parametrize(
    "bad", [dict(steps=0), dict(steps=-5), dict(lr=0.0), dict(seeds=()), dict(seeds=(1, 1)), dict(steps=150)]
)
def test_invalid_specs_are_user_errors(bad):
    with pytest.raises(UserError):
        _spec(**bad)


def test_record_round_trips_through_json():
    record = RunRecord(
        run_id="abc", spec=_spec(), status="ok", shape={"width": 8, "depth": 2, "hidden": 8}, params=123,
        flops_per_example=4.5, lr=1e-3, lr_trials={"0.001": 0.5},
        seeds=[SeedResult(0, 0.1, 0.2, 0.9, 0.3, 0.8, None), SeedResult(1, None, None, None, None, None, 7)],
        curves=Curves(step=[100], train_loss=[[0.1]], test_loss=[[0.3]], test_acc=[[None]]),
        env={"jax": "x"},
    )
    line = record.to_json()
    assert "NaN" not in line
    assert RunRecord.from_dict(json.loads(line)) == record


def test_run_ids_of_existing_specs_do_not_move():
    """Fixed values computed before user datasets were identified by content: old records stay valid."""
    assert _spec().run_id(arch_version="1", data_version="x") == "2d34c24fcd596d9f"
    assert _spec(dataset_as_given="./mnist1d").run_id(arch_version="1", data_version="x") == "2d34c24fcd596d9f"


def test_a_dataset_identity_stands_for_the_dataset_name_in_the_run_id():
    a = dataclasses.replace(_spec(), dataset="parquet:/home/me/data")
    b = dataclasses.replace(_spec(), dataset="parquet:/mnt/copy/data")
    assert a.run_id(arch_version="1", data_version="x") != b.run_id(arch_version="1", data_version="x")
    same = [s.run_id(arch_version="1", data_version="x", dataset_identity="parquet") for s in (a, b)]
    assert same[0] == same[1]
    assert a.run_id(arch_version="1", data_version="y", dataset_identity="parquet") != same[0]
