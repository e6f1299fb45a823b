"""Sweeps through submitit: the same records as a local sweep, resubmission skips what is done."""

import json

import pytest

from benchmarks.cli import main
from benchmarks.running import executors
from benchmarks.running.store import ResultsStore
from benchmarks.spec import RunSpec, UserError

TINY_SUITE = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [5_000]
data_sizes = [200, 400]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 40
max_steps = 40
batch_size = 32
eval_every = 20
"""


def _results(store: ResultsStore) -> dict[str, dict]:
    """What a record says about training (not when or how fast)."""
    keep = ("run_id", "status", "params", "flops_per_example", "lr", "seeds", "curves", "shape")
    return {r.run_id: {k: v for k, v in json.loads(r.to_json()).items() if k in keep} for r in store.records()}


@pytest.mark.slow
def test_submitit_local_sweep_writes_the_same_records_as_a_local_sweep(tmp_path, capsys):
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "local"), "--workers", "1"]) == 0
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "jobs"), "--executor", "submitit-local"]) == 0
    local, jobs = ResultsStore(tmp_path / "local", "tiny"), ResultsStore(tmp_path / "jobs", "tiny")
    assert len(local.records()) == 2
    assert _results(jobs) == _results(local)
    assert list((jobs.dir / "jobs").glob("*_0_log.out"))  # one job ran, its log kept beside the records

    capsys.readouterr()
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "jobs"), "--executor", "submitit-local"]) == 0
    assert "2 already in" in capsys.readouterr().err and len(jobs.records()) == 2  # nothing resubmitted


def test_runs_of_one_family_and_size_share_a_job():
    specs = [RunSpec(arch=a, dataset="mnist1d", target_params=n, data_size=d)
             for a in ("mlp", "convnet") for n in (10_000, 30_000) for d in (1000, 2000, 4000)]
    groups = executors.group_runs(specs, runs_per_job=2)
    assert [len(g) for g in groups] == [2, 1] * 4
    assert all(len({(s.arch, s.target_params) for s in g}) == 1 for g in groups)
    assert [s for g in groups for s in g] == specs


def test_slurm_job_array_carries_partition_time_gpus_and_extra_options(tmp_path, monkeypatch):
    options = executors.JobOptions(partition="gpu", time_min=90, gpus_per_node=4, max_parallel=3,
                                   slurm_args={"account": "proj"})
    monkeypatch.setenv("PATH", str(tmp_path))  # no SLURM here: a clear error, not a traceback
    with pytest.raises(UserError, match="--executor slurm cannot start here"):
        executors.make_executor("slurm", tmp_path, options, "quick", distributed_job=False)

    (tmp_path / "srun").write_text("#!/bin/sh\n")  # submitit only checks that srun exists; nothing is submitted
    (tmp_path / "srun").chmod(0o755)
    executor = executors.make_executor("slurm", tmp_path, options, "quick", distributed_job=False)
    from submitit.slurm.slurm import _make_sbatch_string

    script = _make_sbatch_string(command="archbench-job", folder=tmp_path, map_count=5, **executor._executor.parameters)
    for line in ("--partition=gpu", "--time=90", "--gpus-per-node=4", "--array=0-4%3", "--account=proj",
                 "--ntasks-per-node=1", "--job-name=archbench-quick"):
        assert f"#SBATCH {line}" in script

    multi = executors.make_executor("slurm", tmp_path, options, "quick", distributed_job=True)
    assert multi._executor.parameters["ntasks_per_node"] == 4  # jax.distributed: one process per GPU
