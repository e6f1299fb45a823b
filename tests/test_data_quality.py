"""benchmarks/data/quality.py: label noise, diversity and input noise as dataset options of the training pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import data
from benchmarks.cli import main
from benchmarks.running.runner import run_id
from benchmarks.spec import RunRecord, UserError

ROOT = Path(__file__).resolve().parents[1]
SMALL = "mnist1d?train=4000"  # the paper's pool alone: quick to prepare


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_label_noise_replaces_the_stated_fraction_of_training_labels_only_nested_across_data_sizes():
    clean, noisy = data.load(SMALL), data.load(SMALL + "&label_noise=0.15")
    np.testing.assert_array_equal(noisy.x_train, clean.x_train)  # the same examples, in the same order
    for split in ("val", "test"):  # held-out labels stay clean
        np.testing.assert_array_equal(getattr(noisy, "y_" + split), getattr(clean, "y_" + split))
        np.testing.assert_array_equal(getattr(noisy, "x_" + split), getattr(clean, "x_" + split))
    wrong = noisy.y_train != clean.y_train  # a replaced label is always another class
    for n in (100, 400, 1000, 2300, 4000):
        assert wrong[:n].sum() == round(0.15 * n), n
        view = data.training_view(noisy, n)  # a data size is a prefix of the noisy pool: smaller sets nest
        np.testing.assert_array_equal(view.y_train, noisy.y_train[:n])
    replaced = np.bincount(noisy.y_train[wrong], minlength=10)
    assert replaced.min() > 0  # spread over the classes, not one


def test_label_noise_positions_do_not_depend_on_the_pool_size():
    small = data.load(SMALL + "&label_noise=0.3")
    large = data.load("mnist1d?train=8000&label_noise=0.3")
    np.testing.assert_array_equal(small.y_train, large.y_train[:4000])


def test_diversity_draws_the_training_pool_from_its_first_k_examples():
    clean, narrow = data.load(SMALL), data.load(SMALL + "&diversity=500")
    np.testing.assert_array_equal(narrow.x_train[:500], clean.x_train[:500])
    for n in (200, 500, 2000):
        distinct = np.unique(data.training_view(narrow, n).x_train.reshape(n, -1), axis=0)
        assert len(distinct) == min(n, 500)
    np.testing.assert_array_equal(narrow.y_train[1500:2000], clean.y_train[:500])
    assert np.bincount(narrow.y_train[:2000]).min() >= 180  # still close to class-balanced


def test_input_noise_scales_the_generators_noise_in_the_training_pool_only():
    clean, quiet = data.load(SMALL), data.load(SMALL + "&input_noise=0")
    loud = data.load(SMALL + "&input_noise=3")
    np.testing.assert_array_equal(quiet.y_train, clean.y_train)  # the same examples
    np.testing.assert_array_equal(quiet.x_test, clean.x_test)
    np.testing.assert_array_equal(loud.x_val, clean.x_val)

    def roughness(x: np.ndarray) -> float:  # the mean squared step between neighbouring positions
        return float(np.mean(np.diff(x[..., 0], axis=1) ** 2))

    assert roughness(quiet.x_train) < roughness(clean.x_train) < roughness(loud.x_train)


def test_quality_options_at_their_defaults_leave_versions_and_reference_run_ids_unchanged():
    assert data.version("mnist1d?label_noise=0&diversity=0&input_noise=1") == data.version("mnist1d")
    assert data.version("listops?label_noise=0.0") == data.version("listops")
    assert data.version("mnist1d?label_noise=0.1") != data.version("mnist1d")
    for suite in ("quick", "paper"):
        lines = (ROOT / "results" / "reference" / suite / "runs.jsonl").read_text().splitlines()
        for line in lines:
            record = RunRecord.from_dict(json.loads(line))
            assert run_id(record.spec) == record.run_id
            assert data.version(record.spec.dataset) == record.data_version


@pytest.mark.parametrize("name, words", [
    ("mnist1d?label_noise=1", "dataset mnist1d: option label_noise=1.0 must be a fraction in [0, 1)"),
    ("listops?label_noise=-0.1", "dataset listops: option label_noise=-0.1 must be a fraction in [0, 1)"),
    ("mnist1d?diversity=30000", "dataset mnist1d: option diversity=30000 is larger than the training pool (20,000"),
    ("recall?train=500&diversity=501", "dataset recall: option diversity=501 is larger than the training pool (500"),
    ("mnist1d?input_noise=-1", "dataset mnist1d: option input_noise=-1.0 must be 0 or more"),
    ("recall?input_noise=2", "dataset recall has no option 'input_noise=2'"),
    ("cifar10?label_noise=0.1", "dataset cifar10 has no option 'label_noise=0.1'"),
])
def test_a_quality_option_out_of_range_or_on_a_dataset_without_it_is_a_user_error(name, words):
    with pytest.raises(UserError) as e:
        data.parse(name)
    assert words in str(e.value)


def test_cli_run_with_a_bad_quality_option_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    args = ["run", "--arch", "mlp", "--params", "2k", "--data-size", "300", "--steps", "20", "--eval-every", "10",
            "--dataset", "mnist1d?label_noise=1.5", "--results-dir", str(tmp_path / "results")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["archbench: error: dataset mnist1d: option label_noise=1.5 must be a fraction in [0, 1)"]
    assert not (tmp_path / "results").exists()
