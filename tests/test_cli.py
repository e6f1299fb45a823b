"""The command line end to end: `archbench run` and `archbench sweep` on real MNIST-1D data."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.store import ResultsStore
from benchmarks.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [200, 400, 800]
seeds = [0, 1]
[training]
steps = 40
batch_size = 32
eval_every = 20
"""


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], capture_output=True, text=True, env=env, **kw)


def test_run_writes_one_ok_record_and_prints_it_with_json(tmp_path, capsys):
    args = ["run", "--arch", "mlp", "--params", "10k", "--data-size", "300", "--steps", "40", "--eval-every", "20",
            "--results-dir", str(tmp_path), "--json"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    records = ResultsStore(tmp_path, "adhoc").records()
    assert [r.run_id for r in records] == [printed["run_id"]]
    record = records[0]
    assert record.status == "ok" and len(record.seeds) == 2
    assert abs(record.params / 10_000 - 1) <= 0.02
    assert record.flops_per_example > 0 and record.env["platform"] == "cpu"
    assert record.curves.step == [20, 40]

    assert main(args) == 0  # the same run again is not trained twice
    assert len(ResultsStore(tmp_path, "adhoc").records()) == 1


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = _cli("run", "--arch", "transfromer", "--results-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown architecture 'transfromer'" in result.stderr
    assert not (tmp_path / "adhoc" / "runs.jsonl").exists()


def test_sweep_killed_midway_resumes_only_the_missing_runs(tmp_path):
    suite_file = tmp_path / "tiny.toml"
    suite_file.write_text(TINY_SUITE)
    results = tmp_path / "results"
    runs = results / "tiny" / "runs.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.cli", "sweep", str(suite_file), "--results-dir", str(results)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not (runs.exists() and runs.read_text().count("\n") >= 1):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = ResultsStore(results, "tiny").records()
    assert 1 <= len(first) < 3, "the kill should land mid-sweep"

    result = _cli("sweep", str(suite_file), "--results-dir", str(results), timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{len(first)} already in" in result.stderr
    records = ResultsStore(results, "tiny").records()
    expected = {s for s in load_suite(str(suite_file)).run_specs()}
    assert len(records) == 3 and {r.spec for r in records} == expected
    assert len({r.run_id for r in records}) == 3
    assert all(r.status == "ok" for r in records)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_every_command_explains_itself_with_help(command):
    result = _cli(command, "--help")
    assert result.returncode == 0 and "--results-dir" in result.stdout
