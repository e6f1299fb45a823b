"""`archbench report` writes fits.json, plots and a self-contained report that a real browser renders."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from same_result import assert_same_result
from synthetic_results import Law, planted_records

from benchmarks.cli import main
from benchmarks.running.store import ResultsStore
from benchmarks.running.suite import Suite, save_contrasts
from benchmarks.spec import DatasetContrast

SUITE = "planted"
PLOT_KINDS = ("params", "data", "compute")


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Path, str]:
    """A suite with mnist1d and its shuffled twin (conv wins only with order intact), reported via the CLI."""
    results = tmp_path_factory.mktemp("results")
    store = ResultsStore(results, SUITE)
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}, gamma=0.3),
                           dataset="mnist1d", failed=1)
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}),
                               dataset="mnist1d-shuffled", rng=1)
    broken = [dataclasses.replace(r, status="failed", reason="out of memory", seeds=[])
              for r in planted_records(Law(), dataset="broken", sizes=(10_000,))]
    for r in base + shuffled + broken:  # each with the version of the data it trained on, as real records have
        store.append(dataclasses.replace(r, data_version=f"{r.spec.dataset}-0123abcd4567"))
    declared = DatasetContrast("mnist1d", "mnist1d-shuffled", "input order destroyed")
    save_contrasts(Suite(SUITE, ("mnist1d", "mnist1d-shuffled", "broken"), ("*",), (10_000,), (1_000,), (0,),
                         contrasts=(declared,)), results)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", SUITE, "--results-dir", str(results)]) == 0
    return results / SUITE, out.getvalue()


def test_report_command_prints_the_verdict_and_where_the_report_is(reported):
    folder, printed = reported
    assert "Scope: 27 runs" in printed
    assert "Contrast: mnist1d-shuffled against mnist1d (input order destroyed)" in printed
    assert printed.strip().endswith(f"wrote {folder / 'report.html'}")


def test_report_command_says_below_the_verdict_which_cells_failed(reported):
    _, printed = reported
    failed = next(line for line in printed.splitlines() if "cells (family × size × data size) failed" in line)
    assert failed.startswith("9 of ") and "conv on broken · 10k params · 1,000 train examples" in failed  # the 9 broken runs
    assert "--retry-failed" in failed


def test_fits_json_is_strict_json_with_fits_and_verdict(reported):
    folder, _ = reported
    doc = json.loads((folder / "fits.json").read_text())
    conv = doc["datasets"]["mnist1d"]["archs"]["conv"]
    # three sizes and three data sizes: below the law's threshold, every curve is a local slope (no joint law)
    assert conv["vs_params"]["1000"]["status"] == "slope" and "local_exponent" in conv["vs_data"]["10000"]
    assert "alpha" not in conv["vs_data"]["10000"] and conv["joint"]["status"] == "not enough points"
    assert [e["status"] for e in doc["datasets"]["mnist1d"]["excluded"]] == ["diverged"]
    (contrast,) = doc["verdict"]["contrasts"]
    assert contrast["leader"] == "conv" and contrast["label"] == "input order destroyed"
    assert contrast["change"]["conv"]["lo"] > 0 and contrast["gaps"]["mlp"]["change"]["hi"] < 0
    assert doc["datasets"]["mnist1d"]["frontier"][-1]["arch"] == "conv"
    pairs = doc["datasets"]["mnist1d"]["pairs"]  # architecture worth k× data, per pair of families
    assert len(pairs) == 3 and pairs[0]["stronger"] == "conv"
    for p in pairs:
        assert p["compute_multiplier"]["status"] == "not measured"  # 1,000 steps for every run
        assert p["data_multiplier"]["status"] in ("ok", "beyond range")


def test_four_readable_plots_per_dataset(reported):
    folder, _ = reported
    for ds in ("mnist1d", "mnist1d-shuffled"):
        for name in [f"{ds}-loss-vs-{kind}.png" for kind in PLOT_KINDS] + [f"{ds}-multipliers.png"]:
            image = matplotlib.image.imread(folder / "plots" / name)
            height, width = image.shape[:2]
            assert width >= 800 and height >= 400


def test_report_embeds_every_plot_so_it_stands_alone(reported):
    folder, _ = reported
    page = (folder / "report.html").read_text()
    assert len(re.findall(r'<img class="plot" alt="[^"]+" src="data:image/png;base64,', page)) == 8
    assert not re.search(r'src="(?!data:)', page)  # nothing fetched from elsewhere
    assert "archbench-leaderboard" in page  # the leaderboard is embedded too
    assert "No usable runs: every run of this dataset failed" in page
    assert "All 9 runs failed or diverged: no verdict." in page
    assert "<h3>Contrast: mnist1d-shuffled against mnist1d (input order destroyed)</h3>" in page
    assert "<section id=\"suite\"><h2>Contrasts and quality levels</h2><h3>Contrast: mnist1d-shuffled" in page
    assert "Gaps to conv, the best on mnist1d" in page


def test_report_tables_show_the_multipliers(reported):
    folder, _ = reported
    page = (folder / "report.html").read_text()
    assert "Architecture worth k× data, parameters, compute" in page


def test_a_report_of_a_line_shuffled_runs_jsonl_is_the_same_report(reported, tmp_path):
    """Records are put in a canonical order before anything is drawn: the order of the lines moves nothing."""
    folder, printed = reported
    lines = (folder / "runs.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / SUITE).mkdir()
    shutil.copy(folder / "contrasts.json", tmp_path / SUITE / "contrasts.json")
    (tmp_path / SUITE / "runs.jsonl").write_text("".join(lines[i] for i in np.random.default_rng(0).permutation(len(lines))))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", SUITE, "--results-dir", str(tmp_path)]) == 0
    assert out.getvalue().replace(str(tmp_path), "") == printed.replace(str(folder.parent), "")
    assert_same_result(json.loads((tmp_path / SUITE / "fits.json").read_text()),
                       json.loads((folder / "fits.json").read_text()))


def test_report_of_an_unknown_suite_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["report", "nosuch", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results for suite 'nosuch'" in err


# A probe appended to a copy of the page: after load it writes what the browser decoded into the DOM.
PROBE = """<script>
window.addEventListener('load', () => {
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({
    images: [...document.querySelectorAll('img.plot')].map(i => [i.naturalWidth, i.naturalHeight, i.offsetWidth]),
    verdict: [...document.querySelectorAll('.verdict h3, .verdict .headline p')].map(p => [p.offsetHeight, p.innerText]),
    firstScreen: [document.querySelector('.verdict .headline').getBoundingClientRect().top,
                  document.querySelector('img.plot').getBoundingClientRect().bottom,
                  document.querySelector('img.plot').alt],
    fitRows: document.querySelectorAll('section.dataset table tbody tr').length,
  });
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium_with_plots_and_verdict(reported, tmp_path):
    if _chromium() is None:  # CI (.ci/run) installs Chromium and sets ARCHBENCH_REQUIRE_CHROMIUM: never skipped there
        if os.environ.get("ARCHBENCH_REQUIRE_CHROMIUM"):
            pytest.fail("headless Chromium is required here (ARCHBENCH_REQUIRE_CHROMIUM) but not installed")
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    folder, _ = reported
    page = (folder / "report.html").read_text().replace("</body>", PROBE + "</body>")
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page)
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900", "--virtual-time-budget=10000",
         "--dump-dom", probe_page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page did not finish loading"
    probe = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert len(probe["images"]) == 8
    assert all(w >= 800 and h >= 400 and shown > 0 for w, h, shown in probe["images"])  # decoded and laid out
    texts = [t for height, t in probe["verdict"] if height > 0]
    assert any(t.startswith("Scope: 27 runs") for t in texts)
    assert any(t.startswith("Contrast: mnist1d-shuffled against mnist1d") for t in texts)
    headline_top, figure_bottom, figure = probe["firstScreen"]  # the answer on the first screen of 1400×900
    assert headline_top < 200 and figure_bottom <= 900 and "against training examples" in figure.lower()
    assert probe["fitRows"] > 40


def test_an_online_suite_reports_each_familys_compute_frontier_with_its_two_figures(tmp_path):
    """Runs of several lengths per size (the online regime): fits.json holds each family's frontier, its
    compute-optimal size trend and the pairwise compute multipliers; the report shows the two figures and
    the verdict says whether the frontiers converge."""
    from synthetic_results import planted_online_records

    laws = {"conv": Law(E=0.3, A=40.0, alpha=0.5, B=60.0, beta=0.4, sigma=0.01, effect={"conv": 0.0}),
            "mlp": Law(E=0.6, A=15.0, alpha=0.35, B=30.0, beta=0.35, sigma=0.01, effect={"mlp": 0.0})}
    store = ResultsStore(tmp_path, "online")
    for r in planted_online_records(laws, {"conv": 40.0, "mlp": 2.0}, dataset="mnist1d", rng=1):
        store.append(r)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "online", "--results-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "online" / "fits.json").read_text())
    frontiers = doc["datasets"]["mnist1d"]["compute_frontiers"]
    for family in frontiers["families"].values():
        assert family["status"] == "ok" and {"gamma", "a", "E", "G"} <= set(family) and family["frontier"]
    (m,) = frontiers["multipliers"]
    assert m["factor"]["lo"] > 1 and frontiers["holders"] and frontiers["convergence"][0]["trend"] != "not shown"
    assert "Compute frontiers (lowest held-out loss at each training compute" in out.getvalue()
    a = {arch: family["a"] for arch, family in frontiers["families"].items()}
    assert (f"conv's compute-optimal size grows as C^a, a = {a['conv']['value']:.2f} [{a['conv']['lo']:.2f}, "
            f"{a['conv']['hi']:.2f}]") in out.getvalue()
    page = (tmp_path / "online" / "report.html").read_text()
    for kind in ("frontiers", "optimal-size"):
        assert f"mnist1d-{kind}.png" in page
        assert matplotlib.image.imread(tmp_path / "online" / "plots" / f"mnist1d-{kind}.png").shape[1] >= 800


@pytest.mark.slow
def test_the_committed_frontier_reference_is_what_the_code_reports_from_its_records(tmp_path):
    """results/reference/frontier/fits.json is regenerated whole from the committed runs (its fits once stopped on
    a bootstrap replicate whose damped normal equations were singular: curve_fit._solve_batch)."""
    reference = Path(__file__).resolve().parent.parent / "results" / "reference" / "frontier"
    (tmp_path / "frontier").mkdir()
    shutil.copy(reference / "runs.jsonl", tmp_path / "frontier" / "runs.jsonl")
    assert main(["report", "frontier", "--results-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "frontier" / "fits.json").read_text())
    assert_same_result(doc, json.loads((reference / "fits.json").read_text()))  # floats to 1e-9, text exactly
    # its leader's frontier at the top of the compute is read past the leader's own runs, and the verdict says so
    frontiers = doc["datasets"]["mnist1d"]["compute_frontiers"]
    leader, top = frontiers["leader"], frontiers["levels"][-1]
    assert frontiers["families"][leader]["measured_compute"][1] < top
    assert f"(extrapolated there: {leader}'s runs reach" in json.dumps(doc["verdict"], ensure_ascii=False)


def test_a_report_of_the_same_runs_under_other_dataset_names_says_the_same_numbers(reported, tmp_path):
    """Nothing random depends on a dataset's name (issue 28): the records renamed (same run ids, same per-seed
    results), the contrast declared by the new names, the report is the same once the names are put back."""
    folder, printed = reported
    names = {"mnist1d-shuffled": "dsbbbtwin", "mnist1d": "dsaaamine"}
    text = (folder / "runs.jsonl").read_text()
    for old, new in names.items():
        text = text.replace(f'"dataset":"{old}"', f'"dataset":"{new}"')
    (tmp_path / SUITE).mkdir()
    (tmp_path / SUITE / "runs.jsonl").write_text(text)
    save_contrasts(Suite(SUITE, (*names.values(), "broken"), ("*",), (10_000,), (1_000,), (0,),
                         contrasts=(DatasetContrast(names["mnist1d"], names["mnist1d-shuffled"], "input order destroyed"),)),
                   tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", SUITE, "--results-dir", str(tmp_path)]) == 0
    back = (tmp_path / SUITE / "fits.json").read_text()
    said = out.getvalue().replace(str(tmp_path), str(folder.parent))
    for old, new in names.items():
        back, said = back.replace(new, old), said.replace(new, old)
    assert said == printed
    assert_same_result(json.loads(back), json.loads((folder / "fits.json").read_text()))
