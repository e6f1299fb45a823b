"""The sweep survives (benchmarks/running/sweep.py): SIGKILL and resume, concurrent sweeps, diverged and failed runs.

Real `archbench sweep` subprocesses on real MNIST-1D; the records of an uninterrupted sweep are the reference.
The reference and the resumes run in this process (`cli.main`, the same code as the command), so they
share its compiled programs: only the processes that are killed or run concurrently pay a start-up.
"""

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wandb_offline import read_offline_run

import architectures
from benchmarks.cli import main
from benchmarks.running.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [200, 400]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 40
max_steps = 40
batch_size = 32
eval_every = 10
[lr]
trials = [1e-3, 3e-3]
extend = 1
"""

_spec = importlib.util.spec_from_file_location("chaos_sweep", ROOT / "scripts" / "chaos_sweep.py")
chaos = sys.modules.setdefault("chaos_sweep", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(chaos)


# One process, one run at a time: the path these tests are about (worker processes: tests/test_workers.py).
EXTRA = [*chaos.EXTRA, "--workers", "1"]


def _sweep(suite: Path, results: Path) -> list[str]:
    return chaos.sweep_cmd(suite, results, EXTRA)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny suite and the results of an uninterrupted sweep of it."""
    root = tmp_path_factory.mktemp("reference")
    suite = root / "tiny.toml"
    suite.write_text(TINY_SUITE)
    assert main(["sweep", str(suite), "--results-dir", str(root / "clean"), *EXTRA]) == 0
    return suite, root / "clean"


def _finished_checkpoint(store: ResultsStore) -> bool:
    root = store.dir / "checkpoints"
    return root.is_dir() and any(step.name.isdigit() for step in root.rglob("*"))  # RUN_ID/PHASE/STEP


@pytest.mark.slow
def test_killed_sweep_resumes_from_its_checkpoint_to_the_same_records(reference, tmp_path, capsys):
    suite, clean = reference
    store = ResultsStore(tmp_path, "tiny")
    proc = subprocess.Popen(_sweep(suite, tmp_path), env=chaos._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not _finished_checkpoint(store) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(store.records()) < 2, "the kill should land mid-sweep"

    capsys.readouterr()
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path), *EXTRA]) == 0  # the same command again
    assert "from its checkpoint after interval" in capsys.readouterr().err
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []  # same run_ids and metrics, none duplicated
    assert chaos.leftovers(store) == [] and not (store.dir / "checkpoints").exists()


@pytest.mark.slow
def test_two_sweeps_on_one_folder_record_each_run_once(reference, tmp_path):
    suite, clean = reference
    logs = [tmp_path / f"sweep{i}.log" for i in range(2)]
    procs = [chaos.start_sweep(suite, tmp_path, EXTRA, log) for log in logs]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [log.read_text() for log in logs]
    texts = [log.read_text() for log in logs]
    assert sum(text.count("test loss") for text in texts) == 2  # each run trained by one process only
    assert not any("recorded by another process" in text for text in texts)
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


def test_diverged_and_failed_runs_are_recorded_and_the_sweep_goes_on(reference, tmp_path, broken_plugin):
    suite = tmp_path / "bad.toml"
    suite.write_text(  # the reference's budget and sizes, so the mlp runs reuse its compiled program
        TINY_SUITE.replace('name = "tiny"', 'name = "bad"').replace('["mlp"]', '["broken", "mlp"]')
        .replace("trials = [1e-3, 3e-3]\nextend = 1\n", "value = 1e30\n") + '[logging]\nwandb = "offline"\n'
    )
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "r"), "--plugin", str(broken_plugin), "--workers", "1"]) == 0

    records = ResultsStore(tmp_path / "r", "bad").records()
    assert sorted((r.spec.arch, r.status) for r in records) == [("broken", "failed")] * 2 + [("mlp", "diverged")] * 2
    for r in records:
        if r.status == "failed":
            assert r.reason.startswith("TypeError") and "\n" not in r.reason
        else:
            assert "non-finite at step" in r.reason and any(s.diverged_step is not None for s in r.seeds)
    logged = [read_offline_run(d) for d in sorted((tmp_path / "r" / "bad" / "wandb").glob("offline-run-*"))]
    assert sorted(run.summary["status"] for run in logged) == ["diverged"] * 2 + ["failed"] * 2
    assert {run.group for run in logged} == {"bad"}


def test_a_failed_run_is_final_unless_the_sweep_is_asked_to_retry_failed_runs(tmp_path, broken_plugin, capsys):
    suite = tmp_path / "broken.toml"
    suite.write_text(TINY_SUITE.replace('name = "tiny"', 'name = "broken"').replace('["mlp"]', '["broken"]'))
    store = ResultsStore(tmp_path / "r", "broken")

    def sweep(*flags: str) -> str:
        architectures._REGISTRY.pop("broken", None)  # each sweep loads the plugin, as a new process would
        capsys.readouterr()
        assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "r"), "--plugin", str(broken_plugin),
                     "--workers", "1", *flags]) == 0
        return capsys.readouterr().out

    assert "2 of 2 cells (family × size × data size) failed" in sweep()
    sweep()
    assert len(store.path.read_text().splitlines()) == 2  # nothing trained again
    assert "--retry-failed" in sweep("--retry-failed")
    assert len(store.path.read_text().splitlines()) == 4  # both trained again, appended
    assert [r.status for r in store.records()] == ["failed"] * 2  # the retries supersede the first failures
