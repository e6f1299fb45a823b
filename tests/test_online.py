"""The online regime (benchmarks/data/online.py): every training example fresh, each seen once; the finite
regime unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from benchmarks.data import online
from benchmarks.running.programs import Model, TrainConfig, device_data, evaluate
from benchmarks.running.runner import execute, load_splits, run_id
from benchmarks.running.train import train
from benchmarks.spec import ArchShape, RunRecord, RunSpec, UserError

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
BATCH, STEPS, EVAL = 16, 30, 10


def _mean_loss(model, cfg, params, x, y) -> float:
    loss, _ = evaluate(model, cfg, params, jax.numpy.asarray(x), jax.numpy.asarray(y))
    return float(loss)


def test_an_online_member_sees_each_of_its_seeds_fresh_examples_exactly_once():
    """At learning rate 0 the parameters never move, so the mean training loss over the run is the mean loss
    over the examples it drew: it equals the mean over the seed's own n fresh examples (each counted once),
    and not the mean over any other seed's."""
    n = BATCH * STEPS
    splits = load_splits("mnist1d")
    view, offsets = online.online_view(splits, "mnist1d", n, seeds=[2, 0])
    assert offsets == [0, n] and len(view.y_train) == 2 * n
    rows = view.x_train.reshape(len(view.x_train), -1)
    assert len(np.unique(rows, axis=0)) == 2 * n  # no example repeats, within or across seeds
    model = Model.create("mlp", view.task, ArchShape(width=8, depth=2, hidden=8))
    cfg = TrainConfig(batch_size=BATCH, eval_every=EVAL, warmup_frac=0.1, weight_decay=1e-4, online=True)
    out = train(model, cfg, device_data(view, capacity=3 * n), seeds=[2, 0], lrs=[0.0, 0.0], n_train=[n, n],
                steps=STEPS, offsets=offsets)
    seen = out.curves["train_loss"].mean(axis=1)  # intervals of equal length: the mean over every example drawn
    params = [jax.tree.map(lambda p, m=m: p[m], out.state.params) for m in range(2)]
    own = [_mean_loss(model, cfg, params[m], view.x_train[o:o + n], view.y_train[o:o + n]) for m, o in enumerate(offsets)]
    other = [_mean_loss(model, cfg, params[m], view.x_train[o:o + n], view.y_train[o:o + n])
             for m, o in enumerate(offsets[::-1])]
    np.testing.assert_allclose(seen, own, rtol=1e-5)
    assert all(abs(s - o) > 1e-3 for s, o in zip(seen, other))


def test_the_online_stream_is_prefix_stable_and_shares_no_example_with_the_finite_splits():
    splits = load_splits("mnist1d")
    x, y = online.stream("mnist1d", 9_000)
    x_short, _ = online.stream("mnist1d", 5_000)
    np.testing.assert_array_equal(x[:5_000], x_short)
    assert np.bincount(y[:4_000], minlength=10).tolist() == [400] * 10  # a chunk of the package's generator
    ours = {r.tobytes() for r in x.reshape(len(x), -1)}
    assert len(ours) == len(x)
    for split in (splits.x_train, splits.x_val, splits.x_test):
        assert not ours & {r.tobytes() for r in split.reshape(len(split), -1)}


@pytest.mark.parametrize("name", ["mnist1d-shuffled", "listops?length=64&depth=3", "recall?pairs=8&keys=32"])
def test_every_procedural_dataset_streams_fresh_examples_shaped_like_its_splits(name):
    splits = load_splits(name)
    x, y = online.stream(name, 3_000)
    assert x.shape[1:] == splits.x_train.shape[1:] and x.dtype == splits.x_train.dtype
    assert y.max() < splits.task.num_classes and len(np.unique(y)) == splits.task.num_classes
    train = {r.tobytes() for r in splits.x_train[:3_000].reshape(3_000, -1)}
    fresh = [r.tobytes() not in train for r in x.reshape(len(x), -1)]
    assert np.mean(fresh) > 0.95  # token tasks can coincide by chance on short expressions, never by construction


def test_datasets_that_cannot_generate_refuse_the_online_regime():
    assert set(online.online_datasets()) >= {"mnist1d", "mnist1d-shuffled", "listops", "recall"}
    for name in ("digits", "cifar10", "parquet:/nonexistent"):
        with pytest.raises(UserError, match="cannot train online"):
            online.check_online(name)


def test_an_online_run_trains_on_fresh_examples_and_records_its_compute():
    spec = RunSpec(arch="mlp", dataset="mnist1d", target_params=2_000, data_size=BATCH * 40, steps=40, seeds=(0, 1),
                   batch_size=BATCH, eval_every=20, regime="online", lr=3e-3)
    record = execute(spec)
    assert record.status == "ok" and record.epochs == 1.0
    assert record.train_flops == pytest.approx(3 * record.flops_per_example * 40 * BATCH)
    with pytest.raises(UserError, match="steps x batch_size"):
        RunSpec(arch="mlp", dataset="mnist1d", target_params=2_000, data_size=100, steps=100, regime="online")


def test_finite_regime_records_keep_their_run_ids():
    """The field `regime` leaves the ids of finite runs as they were: every committed reference record's id is
    its spec's hash today, and an online spec hashes apart from its finite twin."""
    for suite in ("quick", "paper"):
        lines = (REFERENCE / suite / "runs.jsonl").read_text().splitlines()
        for line in lines[:: max(1, len(lines) // 12)]:
            record = RunRecord.from_dict(json.loads(line))
            assert record.spec.regime == "finite" and run_id(record.spec) == record.run_id
    finite = RunSpec(arch="mlp", dataset="mnist1d", target_params=2_000, data_size=1_280, steps=10, eval_every=10)
    assert run_id(finite) != run_id(RunSpec(**{**finite.to_dict(), "regime": "online", "seeds": (0, 1)}))
