"""Checkpoints (benchmarks/running/checkpoint.py, real orbax): a run stopped mid-way resumes to the same result."""

import jax
import numpy as np

from benchmarks.running.checkpoint import RunCheckpoint, remove_stale
from benchmarks.running.programs import Model, TrainConfig, device_data
from benchmarks.running.train import train
from benchmarks.spec import ArchShape

CFG = TrainConfig(batch_size=16, eval_every=10, warmup_frac=0.1, weight_decay=1e-4)
STEPS = 60
SHAPE = ArchShape(width=16, depth=2, hidden=16)
MEMBERS = dict(seeds=[0, 1], lrs=[3e-3, 3e-3], n_train=[256, 200])


class Killed(Exception):
    """Stands for the process dying right after a checkpoint was written."""


class KilledAfter(RunCheckpoint):
    def __init__(self, directory, interval: int):
        super().__init__(directory, every_s=0.0, run_id="r")
        self.interval = interval

    def on_interval(self, done, total, state, history, train_s):
        super().on_interval(done, total, state, history, train_s)
        if done == self.interval:
            raise Killed


def _leaves(out) -> list[np.ndarray]:
    leaves = jax.tree.leaves(out.state)
    return [np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x) for x in leaves]


def _train(toy_view, checkpoint=None):
    model = Model.create("mlp", toy_view.task, SHAPE)
    return train(model, CFG, device_data(toy_view), **MEMBERS, steps=STEPS, checkpoint=checkpoint)


def test_run_resumed_from_a_checkpoint_ends_bitwise_equal_to_an_uninterrupted_run(toy_view, tmp_path):
    uninterrupted = _train(toy_view)

    first = KilledAfter(tmp_path / "ck", interval=3)
    try:
        _train(toy_view, first)
        raise AssertionError("the run should have been stopped after interval 3")
    except Killed:
        first.close()
    assert first.saves == 3

    second = RunCheckpoint(tmp_path / "ck", every_s=0.0, run_id="r")
    resumed = _train(toy_view, second)
    assert second.restored_from == 3
    assert second.saves == 2  # intervals 4 and 5; never after the last one

    for key in uninterrupted.curves:
        np.testing.assert_array_equal(resumed.curves[key], uninterrupted.curves[key])
    for a, b in zip(_leaves(resumed), _leaves(uninterrupted), strict=True):  # params, optimiser state, step, data key
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.diverged_step, uninterrupted.diverged_step)
    assert resumed.train_s > 0


def test_checkpoint_of_another_run_is_ignored_and_training_starts_over(toy_view, tmp_path, capsys):
    first = KilledAfter(tmp_path / "ck", interval=2)
    try:
        _train(toy_view, first)
    except Killed:
        first.close()
    other = RunCheckpoint(tmp_path / "ck", every_s=1e9, run_id="another-run")
    out = _train(toy_view, other)
    assert other.restored_from is None
    assert "ignoring checkpoint" in capsys.readouterr().err
    assert out.curves["test_loss"].shape == (2, 6)


def test_no_checkpoint_is_written_before_the_interval_has_passed(toy_view, tmp_path):
    ck = RunCheckpoint(tmp_path / "ck", every_s=3600.0, run_id="r")
    _train(toy_view, ck)
    assert ck.saves == 0 and not (tmp_path / "ck").exists()


def test_checkpoints_of_recorded_runs_are_removed(tmp_path):
    for rid in ("done1", "running"):
        (tmp_path / "checkpoints" / rid / "3").mkdir(parents=True)
    assert remove_stale(tmp_path, {"done1", "other"}) == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["running"]


def _history(out) -> list[dict[str, np.ndarray]]:
    return [{k: v[:, i] for k, v in out.curves.items()} for i in range(len(out.steps))]


def test_a_resumed_run_saving_a_step_its_killed_attempt_wrote_reuses_that_step(toy_view, tmp_path):
    first = RunCheckpoint(tmp_path / "ck", every_s=1e9, run_id="r")  # a finished phase, saved at its end, then killed
    done = _train(toy_view, first)
    first.save(6, 6, done.state, _history(done), done.train_s)
    first.close()

    second = RunCheckpoint(tmp_path / "ck", every_s=1e9, run_id="r")
    resumed = _train(toy_view, second)
    second.save(6, 6, resumed.state, _history(resumed), resumed.train_s)  # orbax alone: StepAlreadyExistsError
    assert second.restored_from == 6 and second.manager().all_steps() == [6]
    np.testing.assert_array_equal(RunCheckpoint(tmp_path / "ck", run_id="r").restore(resumed.state).history[-1]["test_loss"],
                                  done.curves["test_loss"][:, -1])
