"""A user's own data end to end, through the real command line: parquet files named by an absolute path,
an image folder named by a relative one, and a corrupted copy declared as a contrast, through
sweep -> leaderboard -> report -> compare; then the same files spelled another way train nothing new."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import PIL.Image
import pytest

from benchmarks.cli import main
from benchmarks.layout import plot_file
from benchmarks.running.store import ResultsStore

pytestmark = pytest.mark.slow  # 6 tiny runs, a report and a second sweep: about a minute on 2 cores

SUITE = "mine"
ARCHS = ("mixer", "mlp")


def _parquet(folder: Path, noise: float, seed: int = 0) -> None:
    """A 3-class 1-D task (the class shifts the first half of an 8-long signal), plus `noise` on every input."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for split, n in (("train", 150), ("test", 45)):
        y = np.arange(n) % 3
        x = rng.normal(size=(n, 8)).astype(np.float32)
        x[:, :4] += 1.5 * (y[:, None] - 1)
        x += noise * np.random.default_rng(seed + 1).normal(size=x.shape).astype(np.float32)
        pd.DataFrame({"x": x.tolist(), "label": y}).to_parquet(folder / f"{split}.parquet")


def _images(folder: Path) -> None:
    """Two classes of 6x5 RGB images: dark and bright, with noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 70), ("test", 10)):
        for cls, level in (("dark", 60), ("bright", 190)):
            (folder / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(level + 40 * rng.normal(size=(6, 5, 3)), 0, 255).astype(np.uint8)
                PIL.Image.fromarray(pixels).save(folder / split / cls / f"{i}.png")


def _suite(path: Path, datasets: list[str], contrast: tuple[str, str]) -> str:
    path.write_text(f"""
name = "{SUITE}"
datasets = {json.dumps(datasets)}
architectures = {json.dumps(list(ARCHS))}
target_params = [2_000]
data_sizes = [100]
seeds = [0, 1, 2]

[training]
epochs = 1
min_steps = 20
max_steps = 20
batch_size = 16
eval_every = 10

[lr]
trials = [3e-2]

[[contrasts]]
base = "{contrast[0]}"
variant = "{contrast[1]}"
label = "noise added to every input"
""")
    return str(path)


def _cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    """The user's files, a sweep spelling them one way, its leaderboard saved, and the report."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("ARCHBENCH_CACHE", str(root / "cache"))
        _parquet(root / "data" / "clean", noise=0.0)
        _parquet(root / "data" / "noisy", noise=3.0)
        _images(root / "pictures")
        (root / "link").symlink_to(root / "data" / "noisy")
        clean, noisy = f"parquet:{root / 'data' / 'clean'}", f"parquet:{root / 'data' / 'noisy'}"
        results = str(root / "results")
        suite = _suite(root / "first.toml", [clean, noisy, "imagefolder:pictures"], (clean, noisy))
        _cli("sweep", suite, "--results-dir", results)
        before = root / "before.json"
        _cli("leaderboard", SUITE, "--results-dir", results, "--format", "json", "-o", str(before))
        printed = _cli("report", SUITE, "--results-dir", results)
        records = ResultsStore(results, SUITE).records()
        again = _suite(root / "second.toml", ["parquet:data/clean", f"parquet:{root / 'link'}",
                                               f"imagefolder:{root / 'pictures'}"],
                       ("parquet:./data/clean", f"parquet:{root / 'link'}"))
        _cli("sweep", again, "--results-dir", results)
        compared = json.loads(_cli("compare", str(before), str(Path(results) / SUITE), "--format", "json"))
        shutil.copytree(root / "data", root / "moved")  # the same files at a new path, declared by it
        fits_before = json.loads((Path(results) / SUITE / "fits.json").read_text())
        moved = _suite(root / "third.toml", [f"parquet:{root / 'moved' / 'clean'}", f"parquet:{root / 'moved' / 'noisy'}",
                                              "imagefolder:pictures"],
                       (f"parquet:{root / 'moved' / 'clean'}", f"parquet:{root / 'moved' / 'noisy'}"))
        _cli("sweep", moved, "--results-dir", results)
        printed_moved = _cli("report", SUITE, "--results-dir", results)
        yield {"fits_before": fits_before, "printed_moved": printed_moved,
               "fits_moved": json.loads((Path(results) / SUITE / "fits.json").read_text()),
               "root": root, "results": Path(results) / SUITE, "printed": printed, "records": records,
               "after": ResultsStore(results, SUITE).records(), "compared": compared,
               "datasets": [f"parquet:{(root / 'data' / 'clean').resolve()}",
                            f"parquet:{(root / 'data' / 'noisy').resolve()}",
                            f"imagefolder:{(root / 'pictures').resolve()}"]}


def test_every_run_of_the_users_data_is_recorded_ok_under_its_resolved_name(swept):
    records = swept["records"]
    assert len(records) == 3 * len(ARCHS) and all(r.status == "ok" for r in records)
    assert {r.spec.dataset for r in records} == set(swept["datasets"])
    assert {r.spec.dataset_as_given for r in records} == {"imagefolder:pictures", ""}  # absolute paths as given


def test_report_writes_plots_with_safe_names_and_a_page_for_datasets_named_by_paths(swept):
    """One model size and one data size: no loss plot along an axis the suite did not vary (issue 24), the
    families' multipliers per dataset where the verdict has pairs, each file named safely from its path."""
    folder = swept["results"]
    pngs = sorted((folder / "plots").glob("*.png"))
    assert pngs and not [p for p in pngs if "-loss-vs-" in p.name]
    for ds in swept["datasets"][:2]:
        assert (folder / "plots" / plot_file(ds, "multipliers")).stat().st_size > 1000
    assert all("/" not in p.name and ":" not in p.name for p in pngs)
    page = (folder / "report.html").read_text()
    assert page.count('<img class="plot"') == len(pngs) and json.loads((folder / "fits.json").read_text())["datasets"]


def test_the_declared_pair_gets_a_per_family_effect_with_intervals(swept):
    clean, noisy = swept["datasets"][:2]
    (contrast,) = json.loads((swept["results"] / "fits.json").read_text())["verdict"]["contrasts"]
    assert (contrast["base"], contrast["variant"]) == (clean, noisy)
    assert set(contrast["change"]) == set(ARCHS) and set(contrast["gaps"]) == set(ARCHS)
    for arch in ARCHS:
        change = contrast["change"][arch]
        assert change["cells"] == 1 and change["lo"] <= change["value"] <= change["hi"]
        assert change["lo"] > 0  # noise three times the signal's spread costs every family
    assert f"Contrast: {noisy} against {clean} (noise added to every input)" in swept["printed"]
    assert "Gaps to" in (swept["results"] / "report.html").read_text()


def test_the_same_files_spelled_another_way_train_nothing_and_compare_sees_the_same_cells(swept):
    assert [r.run_id for r in swept["after"]] == [r.run_id for r in swept["records"]]
    counts = swept["compared"]["counts"]
    assert counts["unchanged"] == len(swept["records"]) and counts["added"] == counts["removed"] == 0


def test_a_contrast_declared_on_the_same_files_at_a_new_path_binds_to_their_records_by_content(swept):
    """Copies of the two folders at a new path, swept under the same suite: their runs are the records already
    there, and the contrast, declared by the new paths, still binds to them (by the data version the records
    were trained on) with the very same numbers: nothing random depends on a dataset's name or path."""
    clean, noisy = swept["datasets"][:2]
    (before,) = swept["fits_before"]["verdict"]["contrasts"]
    (after,) = swept["fits_moved"]["verdict"]["contrasts"]
    assert (after["base"], after["variant"]) == (clean, noisy)
    assert after == before and "unmatched_contrasts" not in swept["fits_moved"]["verdict"]
    assert f"Contrast: {noisy} against {clean}" in swept["printed_moved"]


def test_a_contrast_that_no_records_answer_is_said_in_one_line_not_dropped(swept):
    from benchmarks.analysis.verdict import verdict
    from benchmarks.analysis.verdict_words import verdict_text
    from benchmarks.spec import DatasetContrast

    clean = swept["datasets"][0]
    gone = str(swept["root"] / "never-swept")
    v = verdict(swept["records"], n_boot=50, contrasts=[DatasetContrast(clean, f"parquet:{gone}")])
    assert not v.contrasts and [u.missing for u in v.unmatched] == [(f"parquet:{gone}",)]
    text = verdict_text(v)
    line = f"Not reported: no records of parquet:{gone}, by name or by content."
    assert text.count(line) == 1 and f"Contrast: parquet:{gone} against {clean}" in text
    assert v.to_dict()["unmatched_contrasts"][0]["missing"] == [f"parquet:{gone}"]
