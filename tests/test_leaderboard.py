import csv
import io
import json
import math
import re

import pytest
from record_factory import ARCHS, SUITE, grid_records, make_record

from benchmarks import cli
from benchmarks.analysis.leaderboard import (
    build_leaderboard,
    from_json,
    summary_markdown,
    to_csv,
    to_html,
    to_json,
    to_markdown,
)
from benchmarks.running.store import ResultsStore


def ranks(cell) -> list[tuple[str, int | None, bool]]:
    return [(e.arch, e.rank, e.tied) for e in cell.entries]


def write_store(results_dir, records, suite=SUITE):
    store = ResultsStore(results_dir, suite)
    for r in records:
        store.append(r)
    return results_dir


def test_cells_rank_architectures_by_mean_held_out_loss():
    lb = build_leaderboard(grid_records())
    assert [c.key for c in lb.cells] == [
        ("mnist1d", 10_000, 1000), ("mnist1d", 10_000, 4000), ("mnist1d", 40_000, 1000), ("mnist1d", 40_000, 4000),
    ]  # fmt: skip
    for cell in lb.cells:
        assert ranks(cell) == [(arch, i, False) for i, arch in enumerate(ARCHS, start=1)]
    best = lb.cells[1].entries[0]
    assert best.test_loss.mean == pytest.approx(0.42)
    assert best.test_loss.lo < 0.42 < best.test_loss.hi and best.n_seeds == 3


def test_entries_whose_interval_overlaps_the_leaders_tie_with_it():
    lb = build_leaderboard([
        make_record("convnet", [0.40, 0.42, 0.44]),
        make_record("transformer", [0.43, 0.45, 0.47]),  # overlaps [0.37, 0.47]
        make_record("mlp", [0.90, 0.91, 0.93]),
    ])  # fmt: skip
    assert ranks(lb.cells[0]) == [("convnet", 1, True), ("transformer", 1, True), ("mlp", 3, False)]


def test_a_single_seed_never_beats_anyone():
    lb = build_leaderboard([
        make_record("mixer", [0.30]),  # lowest loss, but one seed: no interval
        make_record("convnet", [0.40, 0.41, 0.42]),
        make_record("mlp", [0.90, 0.91, 0.93]),
    ])  # fmt: skip
    cell = lb.cells[0]
    assert [e.rank for e in cell.entries] == [1, 1, 1]
    mixer = cell.entries[0]
    assert math.isnan(mixer.test_loss.lo) and "0.300 ± nan" in to_markdown(lb)


def test_newest_record_of_a_cell_and_arch_counts():
    newer = make_record("rnn", [0.30, 0.31, 0.32], created_at="2026-11-24T09:00:00+00:00")
    older = make_record("rnn", [0.80, 0.81, 0.82], created_at="2026-11-23T09:00:00+00:00")
    lb = build_leaderboard([newer, older, make_record("mlp", [0.90, 0.91, 0.93])])
    assert [(e.arch, round(e.test_loss.mean, 2)) for e in lb.cells[0].entries] == [("rnn", 0.31), ("mlp", 0.91)]


def test_diverged_and_failed_runs_are_listed_unranked_at_the_bottom():
    lb = build_leaderboard([
        make_record("rnn", [math.nan] * 3, status="diverged", reason="loss not finite at step 120"),
        make_record("mixer", [0.5, 0.5, 0.5], status="failed", reason="XlaRuntimeError: out of memory"),
        make_record("convnet", [0.40, 0.41, 0.42]),
    ])  # fmt: skip
    cell = lb.cells[0]
    assert [(e.arch, e.status, e.rank) for e in cell.entries] == [
        ("convnet", "ok", 1), ("mixer", "failed", None), ("rnn", "diverged", None),
    ]  # fmt: skip
    text = to_markdown(lb)
    assert "diverged: loss not finite at step 120" in text and "failed: XlaRuntimeError" in text
    assert {o.arch: o.not_ok for o in lb.overall} == {"convnet": 0, "mixer": 1, "rnn": 1}


def test_an_ok_record_without_finite_losses_is_shown_as_failed_not_dropped():
    lb = build_leaderboard([make_record("mixer", [math.nan, math.nan]), make_record("mlp", [0.9, 0.91])])
    assert [(e.arch, e.status, e.rank) for e in lb.cells[0].entries] == [("mlp", "ok", 1), ("mixer", "failed", None)]


def test_overall_table_is_the_mean_rank_over_the_cells_each_arch_ran_in():
    records = grid_records()
    # rnn diverges in one cell: ranked in the other three only, and mlp moves up to 4th there.
    records[-2] = make_record("rnn", [math.nan] * 3, status="diverged", target_params=40_000, data_size=4000)
    lb = build_leaderboard(records)
    overall = {o.arch: (o.mean_rank, o.cells, o.wins, o.not_ok) for o in lb.overall}
    assert overall["convnet"] == (1.0, 4, 4, 0)
    assert overall["rnn"] == (4.0, 3, 0, 1)
    assert overall["mlp"] == (pytest.approx((5 + 5 + 5 + 4) / 4), 4, 0, 0)
    assert [o.arch for o in lb.overall] == ["convnet", "transformer", "mixer", "rnn", "mlp"]


def test_cell_mixing_budgets_is_flagged_as_unfair():
    lb = build_leaderboard([make_record("convnet", [0.4, 0.41]), make_record("mlp", [0.9, 0.91], steps=800)])
    text = to_markdown(lb)
    assert "400 / 800 steps" in text and "entries differ in steps" in text


def test_json_round_trips_and_holds_mean_interval_params_and_flops_per_entry():
    records = grid_records() + [make_record("mixer", [0.3], target_params=40_000, data_size=1000,
                                            created_at="2026-11-24T00:00:00+00:00")]  # fmt: skip
    text = to_json(build_leaderboard(records))
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    entry = doc["cells"][0]["entries"][0]
    assert set(entry) >= {"arch", "rank", "tied", "test_loss", "test_acc", "params", "flops_per_example"}
    assert set(entry["test_loss"]) >= {"mean", "lo", "hi"} and entry["test_loss"]["lo"] < entry["test_loss"]["hi"]
    single = next(e for c in doc["cells"] for e in c["entries"] if e["n_seeds"] == 1)
    assert single["test_loss"]["lo"] is None  # undefined interval: null, not NaN
    assert to_json(from_json(text)) == text


def test_summary_fits_a_100_column_terminal():
    records = grid_records() + [make_record("rnn", [math.nan] * 3, status="diverged", reason="x" * 200)]
    lines = summary_markdown(build_leaderboard(records)).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any("40k params" in line for line in lines) and not any("1,000 train" in line for line in lines)


def test_summary_of_no_records_is_a_table_without_rows():
    """A sweep whose every worker failed before recording anything still ends with its summary."""
    assert summary_markdown(build_leaderboard([]))


def test_html_page_is_self_contained_and_escaped():
    records = grid_records() + [make_record("rnn", [math.nan] * 2, status="failed", reason="<script>boom</script>",
                                            data_size=123)]  # fmt: skip
    lb = build_leaderboard(records)
    page = to_html(lb)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for external in ("http://", "https://", "src=", "<link", "<script"):
        assert external not in page
    assert "&lt;script&gt;boom" in page and all(arch in page for arch in ARCHS)
    fragment = to_html(lb, full_page=False)
    assert fragment.startswith("<section") and "<html" not in fragment


def test_csv_has_one_row_per_entry():
    lb = build_leaderboard(grid_records())
    rows = list(csv.DictReader(io.StringIO(to_csv(lb))))
    assert len(rows) == 4 * len(ARCHS)
    assert [r["arch"] for r in rows[:5]] == list(ARCHS) and rows[0]["rank"] == "1"
    assert float(rows[0]["test_loss_lo"]) < float(rows[0]["test_loss_mean"]) < float(rows[0]["test_loss_hi"])


def test_leaderboard_command_renders_every_format_from_a_results_folder(tmp_path, capsys):
    results = write_store(tmp_path / "results", grid_records())
    outputs = {}
    for fmt in ("md", "csv", "html", "json"):
        assert cli.main(["leaderboard", "--results-dir", str(results), SUITE, "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    assert re.search(r"^\|\s+1 \| convnet ", outputs["md"], re.MULTILINE)
    assert outputs["csv"].startswith("suite,dataset,target_params")
    assert "<table>" in outputs["html"]
    doc = json.loads(outputs["json"])
    assert len(doc["cells"]) == 4 and [e["arch"] for e in doc["cells"][0]["entries"]] == list(ARCHS)


def test_leaderboard_command_picks_the_only_suite_and_writes_a_file(tmp_path, capsys):
    results = write_store(tmp_path / "results", grid_records())
    out = tmp_path / "board" / "leaderboard.html"
    assert cli.main(["leaderboard", "--results-dir", str(results), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_leaderboard_of_an_unknown_suite_is_a_one_line_error(tmp_path, capsys):
    results = write_store(tmp_path / "results", grid_records())
    assert cli.main(["leaderboard", "--results-dir", str(results), "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nosuch" in err and SUITE in err
