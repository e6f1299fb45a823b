"""The commands that read results take a suite as `sweep` does, and never rewrite a committed reference."""

import dataclasses
import json
import subprocess

import pytest
from record_factory import grid_records

from benchmarks.cli import main
from benchmarks.running.store import ResultsStore
from benchmarks.running.suite import SUITES_DIR
from benchmarks.spec import UserError


def _results(root, suite="quick"):
    store = ResultsStore(root, suite)
    for record in grid_records(suite=suite):
        store.append(record)
    return root


def test_leaderboard_takes_a_suite_toml_path_as_sweep_does(tmp_path, capsys):
    results = _results(tmp_path / "results")
    assert main(["leaderboard", str(_suite_file(tmp_path)), "--results-dir", str(results)]) == 0
    assert "mlp" in capsys.readouterr().out



def _suite_file(tmp_path):
    toml = tmp_path / "elsewhere" / "my-copy.toml"  # a suite file outside the repo, named by path
    toml.parent.mkdir(exist_ok=True)
    toml.write_text((SUITES_DIR / "quick.toml").read_text())
    return toml


def test_compare_and_report_take_a_suite_toml_path_as_sweep_does(tmp_path, capsys):
    a, b = _results(tmp_path / "a"), _results(tmp_path / "b")
    assert main(["compare", str(a), str(b), "--suite", str(_suite_file(tmp_path)), "--format", "json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["counts"]["unchanged"] > 0 and {c["suite"] for c in compared["changes"]} == {"quick"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "a"], cwd=tmp_path, check=True)
    assert main(["report", str(_suite_file(tmp_path)), "--results-dir", str(a)]) == 2  # resolved to quick, refused
    assert f"{a / 'quick'} is tracked by git" in capsys.readouterr().err

def test_a_suite_folder_given_as_results_dir_is_named_as_such(tmp_path, capsys):
    results = _results(tmp_path / "results")
    for named in (["quick"], []):  # with the suite named, and without
        assert main(["leaderboard", *named, "--results-dir", str(results / "quick")]) == 2
        err = capsys.readouterr().err
        assert "is the results folder of one suite" in err and f"--results-dir {results} quick" in err


def test_a_misspelt_suite_gets_a_case_insensitive_suggestion(tmp_path, capsys):
    results = _results(tmp_path / "results")
    assert main(["leaderboard", "Quik", "--results-dir", str(results)]) == 2
    assert "did you mean quick?" in capsys.readouterr().err


def test_report_refuses_a_results_folder_tracked_by_git_and_leaves_it_unchanged(tmp_path, capsys):
    results = _results(tmp_path / "results")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "results"], cwd=tmp_path, check=True)
    assert main(["report", "quick", "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tracked by git" in err and "cp -r" in err
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "report.html" not in status and not (results / "quick" / "report.html").exists()


def test_a_wrong_case_family_gets_a_suggestion(tmp_path, capsys):
    assert main(["archs", "--arch", "MLP", "--params", "10k", "--results-dir", str(tmp_path)]) == 2
    assert "did you mean mlp?" in capsys.readouterr().err


def test_a_misspelt_command_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["swep", "quick"])
    assert exit_.value.code == 2 and "did you mean sweep?" in capsys.readouterr().err


def test_a_misspelt_suite_file_and_a_wrong_case_dataset_get_suggestions(tmp_path, capsys):
    assert main(["sweep", "Quik", "--results-dir", str(tmp_path)]) == 2
    assert "did you mean quick?" in capsys.readouterr().err
    assert main(["archs", "--dataset", "MNIST1D", "--params", "10k", "--arch", "mlp"]) == 2
    assert "did you mean mnist1d?" in capsys.readouterr().err


def _run_args(*argv):
    from benchmarks.cli import build_parser

    return build_parser().parse_args(["run", "--arch", "mlp", *argv])


def test_run_like_a_suite_trains_the_suites_own_cell():
    from benchmarks.cli.run import like_suite
    from benchmarks.running.suite import load_suite

    spec = like_suite(_run_args("--like", "quick", "--params", "5k", "--data-size", "1000"))
    (theirs,) = [s for s in load_suite("quick").run_specs()
                 if (s.arch, s.target_params, s.data_size) == ("mlp", 5000, 1000)]
    assert spec == dataclasses.replace(theirs, suite="adhoc")  # budget, early stop, rate search and seeds alike
    first = like_suite(_run_args("--like", "quick", "--arch", "gru"))  # defaults: the suite's first cell
    assert (first.arch, first.dataset, first.target_params, first.data_size) == ("gru", "mnist1d", 2500, 400)


def test_run_like_a_suite_refuses_protocol_flags_beside_it():
    from benchmarks.cli.run import like_suite

    with pytest.raises(UserError, match="--steps, --lr: --like quick takes the protocol from the suite"):
        like_suite(_run_args("--like", "quick", "--steps", "50", "--lr", "0.01"))
