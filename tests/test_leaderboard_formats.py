"""A leaderboard written out: Markdown, CSV, HTML and JSON, each readable and faithful."""

import csv
import io
import json
import math

import pytest
from record_factory import ARCHS, grid_records, make_record

from benchmarks.analysis.leaderboard import build_leaderboard
from benchmarks.analysis.leaderboard_formats import from_json, summary_markdown, to_csv, to_html, to_json, to_markdown


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


def test_summary_of_no_records_is_a_table_without_rows():
    """A sweep whose every worker failed before recording anything still ends with its summary."""
    assert summary_markdown(build_leaderboard([]))
