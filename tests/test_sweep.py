"""The sweep survives (benchmarks/sweep.py): SIGKILL and resume, concurrent sweeps, diverged and failed runs.

Real `archbench sweep` subprocesses on real MNIST-1D; the records of an uninterrupted sweep are the reference.
"""

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import architectures
from benchmarks.cli import main
from benchmarks.store import ResultsStore
from benchmarks.wandb_log import read_offline_run

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [200, 400]
seeds = [0, 1]
[training]
steps = 40
batch_size = 32
eval_every = 10
"""

_spec = importlib.util.spec_from_file_location("chaos_sweep", ROOT / "scripts" / "chaos_sweep.py")
chaos = sys.modules.setdefault("chaos_sweep", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(chaos)


def _sweep(suite: Path, results: Path) -> list[str]:
    return chaos.sweep_cmd(suite, results, chaos.EXTRA)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny suite and the results of an uninterrupted sweep of it."""
    root = tmp_path_factory.mktemp("reference")
    suite = root / "tiny.toml"
    suite.write_text(TINY_SUITE)
    result = subprocess.run(_sweep(suite, root / "clean"), env=chaos._env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return suite, root / "clean"


def _finished_checkpoint(store: ResultsStore) -> bool:
    root = store.dir / "checkpoints"
    return root.is_dir() and any(step.name.isdigit() for run in root.iterdir() for step in run.iterdir())


@pytest.mark.slow
def test_killed_sweep_resumes_from_its_checkpoint_to_the_same_records(reference, tmp_path):
    suite, clean = reference
    store = ResultsStore(tmp_path, "tiny")
    proc = subprocess.Popen(_sweep(suite, tmp_path), env=chaos._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not _finished_checkpoint(store) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(store.records()) < 2, "the kill should land mid-sweep"

    result = subprocess.run(_sweep(suite, tmp_path), env=chaos._env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "from its checkpoint after interval" in result.stderr
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []  # same run_ids and metrics, none duplicated
    assert chaos.leftovers(store) == [] and not (store.dir / "checkpoints").exists()


@pytest.mark.slow
def test_two_sweeps_on_one_folder_record_each_run_once(reference, tmp_path):
    suite, clean = reference
    procs = [
        subprocess.Popen(_sweep(suite, tmp_path), env=chaos._env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]
    assert all(p.wait(timeout=300) == 0 for p in procs), [p.stderr.read() for p in procs]
    store = ResultsStore(tmp_path, "tiny")
    assert len(store.records()) == 2
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []
    assert chaos.leftovers(store) == []


BROKEN_PLUGIN = '''
import jax.numpy as jnp
from flax import nnx
import architectures

class Broken(nnx.Module):
    def __init__(self, task, shape, rngs):
        self.w = nnx.Param(jnp.zeros((shape.width, shape.width)))

    def __call__(self, x):
        return x.reshape(x.shape[0], 7, -1) @ self.w  # a shape bug: fails when the run is traced

@architectures.register("broken", depth_for=lambda n: 1, hidden_ratio=1.0, min_width=2)
def build(task, shape, rngs):
    return Broken(task, shape, rngs)
'''


@pytest.fixture
def broken_plugin(tmp_path):
    path = tmp_path / "broken_family.py"
    path.write_text(BROKEN_PLUGIN)
    yield path
    architectures._REGISTRY.pop("broken", None)  # the registry is per process: leave it as found


def test_diverged_and_failed_runs_are_recorded_and_the_sweep_goes_on(tmp_path, broken_plugin, capsys):
    suite = tmp_path / "bad.toml"
    suite.write_text(
        TINY_SUITE.replace('name = "tiny"', 'name = "bad"').replace('["mlp"]', '["broken", "mlp"]')
        .replace("data_sizes = [200, 400]", "data_sizes = [200]")
        + '[lr]\nvalue = 1e30\n[logging]\nwandb = "offline"\n'
    )
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "r"), "--plugin", str(broken_plugin)]) == 0

    records = {r.spec.arch: r for r in ResultsStore(tmp_path / "r", "bad").records()}
    assert records["broken"].status == "failed" and "TypeError" in records["broken"].reason
    assert records["mlp"].status == "diverged" and "non-finite at step" in records["mlp"].reason
    assert any(s.diverged_step is not None for s in records["mlp"].seeds)
    logged = [read_offline_run(d) for d in sorted((tmp_path / "r" / "bad" / "wandb").glob("offline-run-*"))]
    assert sorted(run.summary["status"] for run in logged) == ["diverged", "failed"]
    assert {run.group for run in logged} == {"bad"}
