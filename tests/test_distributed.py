"""Many devices, many hosts: the sharded program trains the same curve as one device.

Fake CPU devices need XLA_FLAGS before jax starts, and a multi-host job needs
processes, so each case runs in fresh subprocesses.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.running.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]

# Trains the toy task (tests/conftest.py) and prints curves, device count and how the program was split.
TRAIN_TOY = """
import json, sys
sys.path.insert(0, "tests")
import jax
from conftest import make_view
from benchmarks.running import distributed
from benchmarks.spec import ArchShape, UserError
from benchmarks.running.programs import Members, Model, TrainConfig, compiled_run, device_data
from benchmarks.running.train import train

view = make_view()
model = Model.create("mlp", view.task, ArchShape(16, 2, 16))
out = {"devices": jax.device_count()}
for shard in (False, True):
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4, shard_params=shard)
    data = device_data(view)
    run = train(model, cfg, data, seeds=[0, 1], lrs=[3e-3, 3e-3], n_train=[256, 256], steps=40)
    hlo = compiled_run(model, cfg, run.state, Members.of([3e-3] * 2, [256] * 2, [40] * 2), data)
    out["sharded" if shard else "replicated"] = {
        "curves": {k: v.tolist() for k, v in run.curves.items()},
        "all_reduce": "all-reduce" in hlo.as_text(),
        "split_params": sum(any(leaf.sharding.spec) for leaf in jax.tree.leaves(run.state.params)
                            if hasattr(leaf.sharding, "spec")),
    }
    if jax.device_count() == 1:
        break  # one device: shard_params changes nothing
try:
    train(model, TrainConfig(18, 20, 0.1, 1e-4), device_data(view), seeds=[0], lrs=[1e-3], n_train=[256], steps=20)
except UserError as e:
    out["odd_batch_error"] = str(e)
print(json.dumps(out))
"""


def _start(code: str, devices: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_four_devices_train_the_same_curve_as_one():
    one, four = (_result(p) for p in [_start(TRAIN_TOY, 1), _start(TRAIN_TOY, 4)])  # side by side
    assert (one["devices"], four["devices"]) == (1, 4)
    for placement in ("replicated", "sharded"):
        for metric, curve in one["replicated"]["curves"].items():
            np.testing.assert_allclose(four[placement]["curves"][metric], curve, rtol=1e-5, atol=1e-6)
    # On four devices the batch really is split (gradients are summed across devices)...
    assert four["replicated"]["all_reduce"] and not one["replicated"]["all_reduce"]
    # ...parameters are whole on every device, or split along the data axis with shard_params.
    assert four["replicated"]["split_params"] == 0 and four["sharded"]["split_params"] > 0
    assert "batch size 18 does not split evenly over 4 devices" in four["odd_batch_error"]
    assert "odd_batch_error" not in one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_job_trains_like_one_process_and_only_process_zero_writes(tmp_path):
    args = ["run", "--arch", "mlp", "--params", "5k", "--data-size", "300", "--steps", "40", "--eval-every", "20",
            "--batch-size", "32", "--seeds", "0", "--no-compile-cache", "--json"]
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLA_FLAGS": ""}

    def cli(*extra: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "benchmarks.cli", *args, *extra], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    job = [cli("--results-dir", str(tmp_path / "job"), "--distributed", "--coordinator", f"localhost:{port}",
               "--num-processes", "2", "--process-id", str(i)) for i in range(2)]
    assert main([*args, "--results-dir", str(tmp_path / "alone")]) == 0  # meanwhile, the same run in one process
    outs = [p.communicate(timeout=300) for p in job]
    for p, (_, err) in zip(job, outs):
        assert p.returncode == 0, err[-3000:]
    printed = [[line for line in out.splitlines() if line.startswith("{")] for out, _ in outs]
    assert len(printed[0]) == 1 and printed[1] == []  # only process 0 prints the record...
    records = ResultsStore(tmp_path / "job", "adhoc").records()
    assert len(records) == 1  # ...and writes it, once
    assert (records[0].env["device_count"], records[0].env["process_count"]) == ("2", "2")

    single = ResultsStore(tmp_path / "alone", "adhoc").records()[0]
    assert records[0].run_id == single.run_id
    np.testing.assert_allclose(records[0].curves.test_loss, single.curves.test_loss, rtol=1e-5)
