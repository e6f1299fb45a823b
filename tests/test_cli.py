"""The command line end to end: `archbench run` and `archbench sweep` on real MNIST-1D data."""

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.running.runner import run_id
from benchmarks.running.store import Owner, ResultsStore, _process_start
from benchmarks.spec import RunSpec

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], capture_output=True, text=True, env=env, **kw)


def test_run_writes_one_ok_record_and_prints_it_with_json(tmp_path, capsys):
    args = ["run", "--arch", "mlp", "--params", "10k", "--data-size", "300", "--steps", "40", "--eval-every", "20",
            "--results-dir", str(tmp_path), "--json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    printed = json.loads(out)
    records = ResultsStore(tmp_path, "adhoc").records()
    assert [r.run_id for r in records] == [printed["run_id"]]
    record = records[0]
    assert record.status == "ok" and len(record.seeds) == 2
    assert abs(record.params / 10_000 - 1) <= 0.02
    assert record.flops_per_example > 0 and record.env["platform"] == "cpu"
    assert record.curves.step == [20, 40]
    converged = "converged (every seed)" if record.converged else "not converged (seed"
    best = ", ".join(str(r.best_step) for r in record.seeds)
    assert f"{converged}" in err and f"best step {best} of 40; record {record.run_id} in {tmp_path}" in err

    assert main(args) == 0  # the same run again is not trained twice
    assert len(ResultsStore(tmp_path, "adhoc").records()) == 1
    assert f"already recorded as {record.run_id}" in capsys.readouterr().err


def test_run_of_a_run_another_process_trains_is_one_line_exit_2_and_trains_nothing(tmp_path, capsys):
    args = ["run", "--arch", "mlp", "--params", "10k", "--data-size", "300", "--steps", "40", "--eval-every", "20",
            "--results-dir", str(tmp_path)]
    spec = RunSpec(arch="mlp", dataset="mnist1d", target_params=10_000, data_size=300, steps=40, eval_every=20,
                   suite="adhoc")
    store = ResultsStore(tmp_path, "adhoc")
    owner = subprocess.Popen(["sleep", "60"])  # a live process on this host holds the run
    try:
        path = store.claim_path(run_id(spec))
        path.parent.mkdir(parents=True)
        held = Owner(owner.pid, socket.gethostname(), _process_start(owner.pid), "2026-01-01T00:00:00+00:00")
        path.write_text(json.dumps(dataclasses.asdict(held)))
        assert main(args) == 2
    finally:
        owner.kill()
        owner.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is being trained right now by pid {owner.pid}" in err
    assert store.records() == []


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = _cli("run", "--arch", "transfromer", "--results-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown architecture 'transfromer'" in result.stderr
    assert not (tmp_path / "adhoc" / "runs.jsonl").exists()


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_every_command_explains_itself_with_help(command):
    result = _cli(command, "--help")
    assert result.returncode == 0 and "--results-dir" in result.stdout


GOOD = 'name = "x"\ndatasets = ["mnist1d"]\narchitectures = ["mlp"]\ntarget_params = [10_000]\ndata_sizes = [200]\nseeds = [0]\n'
BAD_SUITES = {
    "malformed": ('name = "x"\ndatasets = ["mnist1d"\n', r"bad\.toml:2: malformed TOML: Unclosed array"),
    "unknown key": (GOOD + "[training]\nstepz = 10\n", r"bad\.toml:8: unknown key 'stepz' in \[training\] \(accepted: .*max_steps"),
    "unknown dataset": (GOOD.replace('["mnist1d"]', '["mnist1"]'), r"bad\.toml:2: unknown dataset 'mnist1'; did you mean mnist1d"),
    "unknown arch": (GOOD.replace('["mlp"]', '["mlpp"]'), r"bad\.toml:3: unknown architecture 'mlpp'; did you mean mlp"),
    "zero budget": (GOOD + "[training]\nepochs = 0\n", r"bad\.toml:8: \[training\] epochs must be positive"),
    "negative size": (GOOD.replace("[10_000]", "[-10]"), r"bad\.toml:4: target_params must be positive"),
    "impossible size": (GOOD.replace("[10_000]", "[10]"), r"mlp cannot be as small as 10 parameters .*nearest feasible target"),
    "too much data": (GOOD.replace("[200]", "[1_000_000]") + "[training]\nmax_steps = 10_000\n",
                      r"data_size 1,000,000 is more than mnist1d holds"),
    "wrong type": (GOOD + "[training]\nmin_steps = \"many\"\n", r"bad\.toml:8: \[training\] min_steps must be an integer"),
    "wandb mode": (GOOD + '[logging]\nwandb = "sometimes"\n', r"bad\.toml:8: .*accepted: online, offline, disabled"),
    "online hub data": (GOOD.replace('["mnist1d"]', '["cifar10"]').replace("data_sizes = [200]\n", "")
                        + 'regime = "online"\nbudgets = [400]\n',
                        r"bad\.toml:2: dataset cifar10 cannot train online: only a procedural dataset"),
}
BAD_RUNS = {
    "unknown arch": (["--arch", "mlpp"], r"unknown architecture 'mlpp'; did you mean mlp"),
    "unknown dataset": (["--arch", "mlp", "--dataset", "mnist1"], r"unknown dataset 'mnist1'; did you mean mnist1d"),
    "impossible size": (["--arch", "mlp", "--params", "10"], r"cannot be as small as 10 parameters"),
    "zero budget": (["--arch", "mlp", "--steps", "0"], r"steps must be positive"),
    "negative budget": (["--arch", "mlp", "--steps", "-40"], r"steps must be positive"),
    "bad size flag": (["--arch", "mlp", "--params", "-5"], r"argument --params: .*see `archbench run --help`"),
    "checkpoint interval": (["--arch", "mlp", "--checkpoint-every-s", "-1"], r"--checkpoint-every-s must be 0"),
    "wandb mode": (["--arch", "mlp", "--wandb", "sometimes"], r"argument --wandb: invalid choice"),
    "plugin fails": (["--arch", "mlp", "--plugin", "PLUGIN"], r"plugin .*failed to import: RuntimeError: needs a GPU"),
    "plugin missing": (["--arch", "mlp", "--plugin", "missing.py"], r"plugin file missing\.py does not exist"),
    "not causal": (["--arch", "bigru", "--dataset", "pydoc", "--data-size", "100"], r"bigru reads the sequence backwards too"),
    "context too long": (["--arch", "transformer", "--dataset", "pydoc?context=1024", "--data-size", "100"],
                         r"transformer reads at most 512 positions of context"),
    "corpus too short": (["--arch", "gru", "--dataset", "pydoc?context=100000"], r"pydoc: a context of 100,000 tokens"),
    "too much text": (["--arch", "linear", "--dataset", "pydoc", "--data-size", "1000000"],
                      r"data_size 1,000,000 is more than pydoc holds"),
}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def results(tmp_path) -> Path:
    """A results folder that already holds records (which bad input must leave untouched)."""
    from tests.record_factory import make_record

    for suite in ("x", "adhoc"):
        store = ResultsStore(tmp_path / "results", suite)
        store.append(make_record("mlp", [0.5, 0.6], suite=suite))
    return tmp_path / "results"


def _one_line_error(capsys, code: int, pattern: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "error:" in err, err
    assert re.search(pattern, err), err


@pytest.mark.parametrize("case", BAD_SUITES)
def test_bad_suite_is_one_line_exit_2_and_leaves_results_alone(case, results, tmp_path, capsys):
    text, pattern = BAD_SUITES[case]
    (tmp_path / "bad.toml").write_text(text)
    before = _tree(results)
    _one_line_error(capsys, _main(["sweep", str(tmp_path / "bad.toml"), "--results-dir", str(results)]), pattern)
    assert _tree(results) == before


@pytest.mark.parametrize("case", BAD_RUNS)
def test_bad_run_is_one_line_exit_2_and_leaves_results_alone(case, results, tmp_path, capsys):
    argv, pattern = BAD_RUNS[case]
    plugin = tmp_path / "needs_gpu.py"
    plugin.write_text('raise RuntimeError("needs a GPU\\nsee the docs")\n')
    argv = [str(plugin) if a == "PLUGIN" else a for a in argv]
    before = _tree(results)
    _one_line_error(capsys, _main(["run", *argv, "--results-dir", str(results)]), pattern)
    assert _tree(results) == before


def test_unwritable_results_folder_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    code = _main(["run", "--arch", "mlp", "--results-dir", str(tmp_path / "a-file" / "results")])
    _one_line_error(capsys, code, r"results folder .* is not writable .*pass --results-dir a folder you can write to")


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_damaged_record_in_the_middle_refuses_with_file_and_line(command, results, tmp_path, capsys):
    from tests.record_factory import make_record

    suite = "x" if command == "sweep" else "adhoc"
    store = ResultsStore(results, suite)
    with open(store.path, "a") as f:
        f.write('{"run_id": "half a record"\n')
    store.append(make_record("mlp", [0.5], suite=suite, data_size=100))
    (tmp_path / "x.toml").write_text(GOOD)
    before = _tree(results)
    argv = ["sweep", str(tmp_path / "x.toml")] if command == "sweep" else ["run", "--arch", "mlp", "--params", "10k"]
    _one_line_error(capsys, _main([*argv, "--results-dir", str(results)]), r"runs\.jsonl:2: not a valid run record .*line 2")
    assert _tree(results) == before


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own errors
        return int(e.code)


def test_every_option_with_a_default_shows_it_in_help():
    import argparse

    from benchmarks.cli import build_parser, has_default

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, command in sub.choices.items():
        formatter = command.formatter_class(prog=command.prog)
        for action in command._actions:
            if has_default(action) and (not action.help or "default" not in formatter._expand_help(action)):
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, f"options whose help hides their default: {', '.join(missing)}"
    assert "(default: 128)" in " ".join(sub.choices["run"].format_help().split())


def test_building_the_parser_imports_neither_jax_nor_flax_nor_the_analysis():
    code = ("import sys; from benchmarks.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('jax', 'flax', 'optax', 'scipy', 'pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.strip() == "[]"


def test_help_texts_show_percent_signs_and_defaults_as_typed():
    from benchmarks.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices
    texts = {name: p.format_help() for name, p in sub.items()}
    assert not [name for name, text in texts.items() if "%%" in text]
    assert "(0, 1)" not in texts["run"] and "default: 0,1" in texts["run"]


def test_run_progress_counts_every_rate_trial_against_its_own_total(tmp_path, capsys):
    args = ["run", "--arch", "mlp", "--params", "10k", "--data-size", "300", "--steps", "40", "--eval-every", "20",
            "--lr-trials", "1e-3,3e-3", "--lr-extend", "1", "--seeds", "0", "--results-dir", str(tmp_path)]
    assert main(args) == 0
    err = capsys.readouterr().err
    done = re.findall(r"(\d+)/(\d+)", err)
    assert done and all(int(a) <= int(b) for a, b in done) and done[-1][0] == done[-1][1]
