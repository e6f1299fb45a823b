"""`archbench sweep --workers N` (benchmarks/running/workers.py): parallel worker processes keep the sweep's guarantees.

Real `archbench sweep` subprocesses, each starting real worker processes, on real MNIST-1D; the
records of a sweep in this process (`--workers 1`, today's path) are the reference. The families
are the MLP (XLA's own matmuls) and the ConvNet (Eigen's convolutions, which thread differently):
records must not depend on how many threads a worker has.
"""

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.running import workers
from benchmarks.running.store import Owner, ResultsStore
from benchmarks.spec import RunSpec, UserError

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp", "convnet"]
target_params = [5_000]
data_sizes = [200, 400]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 60
max_steps = 60
batch_size = 32
eval_every = 10
"""

_spec = importlib.util.spec_from_file_location("chaos_sweep", ROOT / "scripts" / "chaos_sweep.py")
chaos = sys.modules.setdefault("chaos_sweep", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(chaos)


def _sweep(suite: Path, results: Path, *extra: str) -> list[str]:
    return chaos.sweep_cmd(suite, results, [*chaos.EXTRA, *extra])


def _trained(text: str) -> int:
    """Runs a sweep's output says it trained (one line each)."""
    return text.count("test loss")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny suite and the records of a sweep of it in this process, one run at a time."""
    root = tmp_path_factory.mktemp("reference")
    suite = root / "tiny.toml"
    suite.write_text(TINY_SUITE)
    assert main(["sweep", str(suite), "--results-dir", str(root / "clean"), "--workers", "1", *chaos.EXTRA]) == 0
    return suite, root / "clean"


# ---- what each worker does ------------------------------------------------------------------------

def _specs(groups: int, per_group: int = 2) -> list[RunSpec]:
    return [RunSpec(arch="mlp", dataset="mnist1d", target_params=1000 * (g + 1), data_size=100 * (d + 1), seeds=(0,))
            for g in range(groups) for d in range(per_group)]


def test_each_worker_takes_its_own_groups_first_then_the_others_from_the_far_end():
    specs = _specs(5)
    size = lambda order: [s.target_params // 1000 for s in order]  # noqa: E731
    assert size(workers.worker_order(specs, 0, 2)) == [1, 1, 3, 3, 5, 5, 4, 4, 2, 2]
    assert size(workers.worker_order(specs, 1, 2)) == [2, 2, 4, 4, 5, 5, 3, 3, 1, 1]
    for k in range(3):  # every worker's plan holds every run once, so any one of them can finish the sweep
        assert Counter(workers.worker_order(specs, k, 3)) == Counter(specs)


def test_auto_is_one_worker_per_core_on_a_cpu_and_one_on_an_accelerator():
    assert workers.count("auto", "cpu", 8) == 8
    assert workers.count("auto", "gpu", 8) == 1
    assert workers.count("auto", "cpu", 8, multi_process_job=True) == 1
    assert workers.count("3", "gpu", 8) == 3


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_worker_count_is_a_user_error(value):
    with pytest.raises(UserError, match="--workers must be"):
        workers.count(value, "cpu", 2)


def test_a_one_thread_worker_keeps_xla_on_one_thread_and_the_users_flags():
    env = workers.thread_env(1, {"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
    assert env["XLA_FLAGS"].startswith("--xla_dump_to=/tmp/x ") and "--xla_cpu_multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert env["OMP_NUM_THREADS"] == "1"
    assert "XLA_FLAGS" not in workers.thread_env(4, {}) and workers.thread_env(4, {})["OMP_NUM_THREADS"] == "4"


def test_every_worker_is_pinned_to_its_own_share_of_the_cores():
    allowed = sorted(os.sched_getaffinity(0))
    assert [workers.worker_cpus(w, 1) for w in range(len(allowed))] == [[c] for c in allowed]
    assert workers.worker_cpus(len(allowed), 1) == [allowed[0]]  # more workers than cores share them in turn
    assert workers.worker_cpus(0, 2) == allowed[:2]


MATMUL_CPU_USE = """
import os, time
import jax, jax.numpy as jnp
x = jnp.ones((1024, 1024))
f = jax.jit(lambda a: a @ a @ a)
f(x).block_until_ready()
t, c = time.perf_counter(), os.times()
for _ in range(8):
    f(x).block_until_ready()
c2 = os.times()
print((c2.user - c.user + c2.system - c.system) / (time.perf_counter() - t))
"""


def test_a_one_thread_worker_runs_its_matmuls_on_one_core():
    """A worker's environment and affinity, as `run_workers` gives them: the process's CPU time over the wall time
    of large matmuls stays at one core (the XLA flags alone let it reach 1.6)."""
    env = workers.thread_env(1, {**os.environ, "PYTHONPATH": os.getcwd()})
    cpus = workers.worker_cpus(0, 1)
    script = f"import os; os.sched_setaffinity(0, {cpus!r})\n" + MATMUL_CPU_USE
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert float(out.stdout.split()[-1]) <= 1.05


def test_a_bad_worker_count_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, capsys):
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path / "r"), "--workers", "none"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "archbench: error: --workers must be a positive number or 'auto', got 'none'")
    assert not (tmp_path / "r").exists()


def test_a_worker_writing_to_the_closed_pipe_of_a_gone_sweep_is_interrupted_not_failed():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the sweep is gone
    stream = os.fdopen(write_end, "w", buffering=1)
    with pytest.raises(workers.SweepGone) as gone:
        workers.Channel(stream).write('{"event": "progress"}\n')
    assert isinstance(gone.value, KeyboardInterrupt)  # so sweep.run_one does not record the run as failed
    with contextlib.suppress(BrokenPipeError):
        stream.close()


# ---- the sweep's guarantees, with workers --------------------------------------------------------

@pytest.mark.slow
def test_records_are_the_same_with_one_worker_or_two(reference, tmp_path):
    suite, clean = reference
    done = subprocess.run(_sweep(suite, tmp_path, "--workers", "2"), env=chaos._env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 worker processes, 1 thread each" in done.stderr and _trained(done.stderr) == 4
    assert "## Leaderboard" in done.stdout
    store = ResultsStore(tmp_path, "tiny")
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []  # same run_ids and metrics, none duplicated
    assert chaos.leftovers(store) == []


def _claims(store: ResultsStore) -> dict[str, Owner]:
    owners = {}
    for path in (store.dir / "claims").glob("*.json"):
        try:
            owners[path.stem] = Owner(**json.loads(path.read_text()))
        except (OSError, ValueError):
            pass  # being written or removed
    return owners


def _wait_for(condition, proc: subprocess.Popen, timeout_s: float = 240):
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened (sweep exit code {proc.poll()})")


@pytest.mark.slow
def test_a_killed_worker_loses_only_its_run_in_hand_and_a_rerun_trains_what_is_missing(reference, tmp_path, capsys):
    suite, clean = reference
    store = ResultsStore(tmp_path, "tiny")
    log = tmp_path / "sweep.log"
    sweep = chaos.start_sweep(suite, tmp_path, [*chaos.EXTRA, "--workers", "2"], log)

    def worker_with_a_checkpoint() -> Owner | None:  # a worker mid-run, with an interval saved
        for run_id, owner in _claims(store).items():
            if owner.pid != sweep.pid and (store.dir / "checkpoints" / run_id).is_dir():
                return owner
        return None

    victim = _wait_for(worker_with_a_checkpoint, sweep)
    os.kill(victim.pid, signal.SIGKILL)
    assert sweep.wait(timeout=300) == 1  # the sweep goes on without it, then says a worker failed
    assert f"(pid {victim.pid}) killed by signal 9" in log.read_text()
    recorded = store.records()
    assert len({r.run_id for r in recorded}) == len(recorded)  # nothing duplicated

    capsys.readouterr()
    assert main(["sweep", str(suite), "--results-dir", str(tmp_path), *chaos.EXTRA]) == 0
    assert _trained(capsys.readouterr().err) == 4 - len(recorded)  # only what was missing
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []
    assert chaos.leftovers(store) == []


@pytest.mark.slow
def test_two_sweeps_with_workers_on_one_folder_record_each_run_once(reference, tmp_path):
    suite, clean = reference
    logs = [tmp_path / f"sweep{i}.log" for i in range(2)]
    procs = [chaos.start_sweep(suite, tmp_path, [*chaos.EXTRA, "--workers", "2"], log) for log in logs]
    assert [p.wait(timeout=400) for p in procs] == [0, 0], [log.read_text()[-2000:] for log in logs]
    texts = [log.read_text() for log in logs]
    assert sum(_trained(text) for text in texts) == 4  # each run trained by one worker of one sweep only
    assert not any("recorded by another process" in text for text in texts)
    store = ResultsStore(tmp_path, "tiny")
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []
    assert chaos.leftovers(store) == []


@pytest.mark.slow
def test_sigterm_to_the_sweep_stops_its_workers_and_frees_their_runs(reference, tmp_path, capsys):
    suite, clean = reference
    store = ResultsStore(tmp_path, "tiny")
    sweep = subprocess.Popen(_sweep(suite, tmp_path, "--workers", "2"), env=chaos._env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    owners = _wait_for(lambda: [o for o in _claims(store).values() if o.pid != sweep.pid], sweep)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert not any(owner.alive() for owner in owners)  # the workers are gone...
    assert _claims(store) == {}  # ...and released their runs

    assert main(["sweep", str(suite), "--results-dir", str(tmp_path), "--workers", "1", *chaos.EXTRA]) == 0
    assert chaos.compare(ResultsStore(clean, "tiny"), store) == []
    assert chaos.leftovers(store) == []


@pytest.mark.slow
def test_a_sweep_killed_as_its_workers_checkpoint_leaves_no_failed_run_and_resumes_to_the_clean_records(reference, tmp_path):
    """scripts/chaos_sweep.py at its smallest: SIGKILL to the sweep as soon as a run has saved a checkpoint step.

    The other worker is mid-interval or mid-save. The kill closes the workers' pipes and Linux stops
    them (PR_SET_PDEATHSIG); neither may record its run in hand `failed` (compare checks the status).
    The next sweep resumes them from their checkpoints to the clean sweep's records.
    """
    suite, clean = reference
    result = chaos.run_chaos(suite, clean, tmp_path, kills=1, max_delay_s=240, kinds=(("sweep", signal.SIGKILL),),
                             at_checkpoint=True, log=lambda line: None)
    assert result.problems == []
    assert result.kills == result.kills_with_checkpoint == 1 and result.resumes >= 1
