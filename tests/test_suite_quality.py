"""A suite's `quality` axis (benchmarks/running/suite.py, benchmarks/data/levels.py): every dataset at every level,
the level in the dataset name the runs record, shown by the commands that group runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.data.levels import quality_of, with_quality
from benchmarks.running.runner import run_id
from benchmarks.running.suite import load_suite
from benchmarks.spec import UserError

TINY = """
name = "tinyq"
datasets = ["mnist1d?train=4000"]
architectures = ["mlp"]
target_params = [2_000]
data_sizes = [100, 200]
seeds = [0, 1]
{quality}
[training]
epochs = 1
min_steps = 20
max_steps = 20
eval_every = 10
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _suite(tmp_path: Path, quality: str) -> Path:
    path = tmp_path / "tinyq.toml"
    path.write_text(TINY.format(quality=quality))
    return path


def test_quality_levels_multiply_the_datasets_and_the_clean_level_keeps_the_runs_of_a_suite_without_them(tmp_path):
    plain = load_suite(str(_suite(tmp_path, ""))).run_specs()
    specs = load_suite(str(_suite(tmp_path, 'quality = ["label_noise=0", "label_noise=0.1"]'))).run_specs()
    assert sorted({s.dataset for s in specs}) == ["mnist1d?train=4000", "mnist1d?train=4000&label_noise=0.1"]
    clean = [s for s in specs if s.dataset == "mnist1d?train=4000"]
    assert [run_id(s) for s in clean] == [run_id(s) for s in plain]
    assert len(specs) == 2 * len(plain)


def test_levels_are_canonical_and_read_back_from_recorded_names():
    assert with_quality("mnist1d", "label_noise=0.10") == "mnist1d?label_noise=0.1"
    assert with_quality("listops?length=64", "diversity=0&label_noise=0.2") == "listops?length=64&label_noise=0.2"
    assert quality_of("listops?length=64&label_noise=0.2") == ("listops?length=64", "label_noise=0.2")
    assert quality_of("mnist1d?input_noise=2.0&label_noise=0.1") == ("mnist1d", "input_noise=2.0&label_noise=0.1")
    assert quality_of("mnist1d") == ("mnist1d", "")


@pytest.mark.parametrize("quality, message", [
    ('quality = ["label_noise=1.2"]', r"tinyq\.toml:8: dataset mnist1d: option label_noise=1\.2 must be a fraction"),
    ('quality = ["width=3"]', r"tinyq\.toml:8: quality level 'width=3': 'width=3' is not a quality knob"),
    ('quality = ["diversity=5000"]', r"tinyq\.toml:8: dataset mnist1d: option diversity=5000 is larger than the "
                                     r"training pool \(4,000"),
    ('quality = ["label_noise=0", "label_noise=0.0"]', r"tinyq\.toml:8: quality levels 'label_noise=0' and "
                                                        r"'label_noise=0.0' are the same dataset"),
    ('quality = ["train=100"]', r"tinyq\.toml:8: quality level 'train=100': 'train=100' is not a quality knob"),
    ("quality = []", r"tinyq\.toml:8: quality must be a non-empty list"),
])
def test_bad_quality_levels_fail_naming_file_line_dataset_and_option(tmp_path, quality, message):
    with pytest.raises(UserError, match=message):
        load_suite(str(_suite(tmp_path, quality)))


def test_a_quality_level_on_a_dataset_without_the_knob_is_refused(tmp_path):
    path = _suite(tmp_path, 'quality = ["input_noise=2"]')
    path.write_text(path.read_text().replace('["mnist1d?train=4000"]', '["recall"]'))
    with pytest.raises(UserError, match=r"tinyq\.toml:8: dataset recall has no option 'input_noise=2'"):
        load_suite(str(path))


def test_a_swept_quality_axis_is_recorded_per_run_and_shown_by_leaderboard_report_and_compare(tmp_path, capsys):
    results = tmp_path / "results"
    suite = _suite(tmp_path, 'quality = ["label_noise=0", "label_noise=0.3"]')
    assert main(["sweep", str(suite), "--results-dir", str(results)]) == 0
    records = [json.loads(line) for line in (results / "tinyq" / "runs.jsonl").read_text().splitlines()]
    assert sorted({r["spec"]["dataset"] for r in records}) == ["mnist1d?train=4000",
                                                               "mnist1d?train=4000&label_noise=0.3"]
    capsys.readouterr()
    assert main(["leaderboard", "tinyq", "--results-dir", str(results)]) == 0
    assert "mnist1d?train=4000&label_noise=0.3" in capsys.readouterr().out
    assert main(["compare", str(results), str(results), "--format", "json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert {c["dataset"] for c in compared["changes"]} == {"mnist1d?train=4000", "mnist1d?train=4000&label_noise=0.3"}
    assert main(["report", "tinyq", "--results-dir", str(results)]) == 0
    fits = json.loads((results / "tinyq" / "fits.json").read_text())
    assert "mnist1d?train=4000&label_noise=0.3" in fits["datasets"]
