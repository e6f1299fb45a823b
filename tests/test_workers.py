"""Worker processes (benchmarks/running/workers.py): what each worker does."""

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.running import workers
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
steps = 60
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


def test_only_a_worker_with_several_threads_is_pinned_to_its_share_of_the_cores():
    allowed = sorted(os.sched_getaffinity(0))
    assert workers.worker_cpus(1, 1) == []
    assert workers.worker_cpus(0, 2) == allowed[:2]
