"""wandb logging (benchmarks/running/wandb_log.py) with the real client in offline mode, read back from its run folder."""

import time
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from wandb_offline import read_offline_run

from benchmarks.running.wandb_log import WandbLogger, log_report, resolve_mode
from benchmarks.spec import UserError
from tests.record_factory import make_record

matplotlib.use("Agg")


def test_offline_run_holds_config_per_seed_curves_and_final_metrics(tmp_path):
    record = make_record("mlp", [0.5, 0.7], [0.8, 0.6], steps=300, suite="tiny")
    logger = WandbLogger("offline", tmp_path, "tiny")
    run_dir = logger.log_record(record)

    assert run_dir.parent == tmp_path / "tiny" / "wandb" and run_dir.name.startswith("offline-run-")
    run = read_offline_run(run_dir)
    assert run.finished and run.group == "tiny" and run.project == "archbench" and run.job_type == "run"
    assert run.config["run_id"] == record.run_id and run.config["arch"] == "mlp" and run.config["data_size"] == 4000
    assert [row["step"] for row in run.history] == [100, 200, 300]
    assert [row["_step"] for row in run.history] == [100, 200, 300]
    assert [row["seed1/test_loss"] for row in run.history] == [0.7, 0.7, 0.7]
    assert run.history[0]["mean/test_acc"] == pytest.approx(0.7)
    assert run.summary["params"] == record.params and run.summary["flops_per_example"] == record.flops_per_example
    assert run.summary["seed0/test_loss"] == 0.5 and run.summary["final/test_loss"] == pytest.approx(0.6)
    assert run.summary["status"] == "ok"


def test_each_record_is_its_own_run_in_the_suite_group(tmp_path):
    logger = WandbLogger("offline", tmp_path, "tiny")
    dirs = [logger.log_record(make_record("mlp", [0.5], data_size=n, suite="tiny")) for n in (100, 200)]
    runs = [read_offline_run(d) for d in dirs]
    assert len(set(dirs)) == 2 and {r.group for r in runs} == {"tiny"}
    assert [r.config["data_size"] for r in runs] == [100, 200]


def test_disabled_logs_nothing_and_writes_nothing(tmp_path):
    assert WandbLogger("disabled", tmp_path, "tiny").log_record(make_record("mlp", [0.5])) is None
    assert not any(tmp_path.iterdir())


def test_report_tables_and_plots_are_logged(tmp_path):
    import matplotlib.pyplot as plt

    plot = tmp_path / "scaling.png"
    plt.plot([1, 2, 3], [3, 2, 1])
    plt.savefig(plot)
    plt.close()
    summary = tmp_path / "report.md"
    summary.write_text("# report\n")
    table = pd.DataFrame({"arch": ["mlp", "convnet"], "exponent": [0.31, 0.42]})

    run_dir = log_report(tmp_path / "results", "tiny", "offline", [plot, summary], {"fits": table})

    run = read_offline_run(run_dir)
    assert run.job_type == "report" and run.group == "tiny"
    (row,) = run.history
    assert row["tables/fits"]["_type"] == "table-file" and row["tables/fits"]["nrows"] == 2
    assert row["plots/scaling"]["_type"] == "image-file"
    logged = pd.read_json(run_dir / "files" / row["tables/fits"]["path"], orient="split")
    assert list(logged.columns) == ["arch", "exponent"] and logged["exponent"].tolist() == [0.31, 0.42]
    assert (run_dir / "files" / row["plots/scaling"]["path"]).stat().st_size > 0
    assert (run_dir / "files" / "report" / "report.md").read_text() == "# report\n"


def test_online_without_credentials_or_network_falls_back_to_offline_with_one_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc, no saved login
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    logger = WandbLogger("online", tmp_path, "tiny")
    t0 = time.perf_counter()
    first = logger.log_record(make_record("mlp", [0.5], data_size=100))
    second = logger.log_record(make_record("mlp", [0.5], data_size=200))
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "logging offline" in err and "wandb sync" in err
    assert logger.mode == "offline" and first.name.startswith("offline-run-") and second.name.startswith("offline-run-")
    assert read_offline_run(second).summary["status"] == "ok"
    assert elapsed < 30


def test_flag_beats_suite_setting_which_beats_the_default():
    assert resolve_mode(None, None) == "disabled"
    assert resolve_mode(None, "offline") == "offline"
    assert resolve_mode("disabled", "offline") == "disabled"
    with pytest.raises(UserError, match="accepted: online, offline, disabled"):
        resolve_mode("offlien")


def test_records_not_yet_logged_are_caught_up_once_and_half_logged_runs_removed(tmp_path):
    logger = WandbLogger("offline", tmp_path, "tiny")
    first, second = (make_record("mlp", [0.5], data_size=n, suite="tiny") for n in (100, 200))
    logger.log_record(first)
    partial = logger.wandb_dir / "offline-run-20260101_000000-killed00"  # what a kill mid-logging leaves
    partial.mkdir()
    (logger.wandb_dir / ".pending").mkdir(exist_ok=True)
    (logger.wandb_dir / ".pending" / second.run_id).write_text(str(partial))

    assert logger.catch_up([first, second]) == 1
    assert not partial.exists() and not any((logger.wandb_dir / ".pending").iterdir())
    assert logger.logged_ids() == {first.run_id, second.run_id}
    runs = [read_offline_run(d) for d in logger.wandb_dir.glob("offline-run-*")]
    assert sorted(r.config["run_id"] for r in runs) == sorted([first.run_id, second.run_id])
    assert WandbLogger("offline", tmp_path, "tiny").catch_up([first, second]) == 0


def test_report_command_logs_its_plots_leaderboard_and_files_to_wandb(tmp_path, capsys):
    from synthetic_results import Law, planted_records

    from benchmarks.cli import main
    from benchmarks.running.store import ResultsStore

    store = ResultsStore(tmp_path, "planted")
    for r in planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": 0.0}), dataset="mnist1d"):
        store.append(r)
    assert main(["report", "planted", "--results-dir", str(tmp_path), "--wandb", "offline"]) == 0
    printed = capsys.readouterr().out
    run_dir = Path(printed.split("wandb: report logged (")[1].split(")")[0])
    run = read_offline_run(run_dir)
    assert run.job_type == "report" and run.group == "planted"
    (row,) = run.history
    assert row["tables/leaderboard"]["nrows"] == 27  # 3 archs x 3 sizes x 3 data sizes
    assert {k for k in row if k.startswith("plots/")} == {
        *(f"plots/mnist1d-loss-vs-{k}" for k in ("params", "data", "compute")), "plots/mnist1d-multipliers"}
    assert {p.name for p in (run_dir / "files" / "report").iterdir()} == {"fits.json", "report.html"}
