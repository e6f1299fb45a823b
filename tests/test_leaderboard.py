import json
import math
import re

import pytest
from record_factory import ARCHS, SUITE, grid_records, make_record

from benchmarks import cli
from benchmarks.analysis.leaderboard import build_leaderboard
from benchmarks.analysis.leaderboard_formats import summary_markdown, to_html, to_markdown
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
    assert best.test_loss.value == pytest.approx(0.42)
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
    # mixer ties with both; convnet is better than mlp beyond noise, so mlp has one entry above it
    assert [(e.arch, e.rank) for e in cell.entries] == [("mixer", 1), ("convnet", 1), ("mlp", 2)]
    mixer = cell.entries[0]
    assert math.isnan(mixer.test_loss.lo) and "0.300 ± nan" in to_markdown(lb)
    assert not any(e.separated for e in cell.entries)


def test_newest_record_of_a_cell_and_arch_counts():
    newer = make_record("rnn", [0.30, 0.31, 0.32], created_at="2026-11-24T09:00:00+00:00")
    older = make_record("rnn", [0.80, 0.81, 0.82], created_at="2026-11-23T09:00:00+00:00")
    lb = build_leaderboard([newer, older, make_record("mlp", [0.90, 0.91, 0.93])])
    assert [(e.arch, round(e.test_loss.value, 2)) for e in lb.cells[0].entries] == [("rnn", 0.31), ("mlp", 0.91)]


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


def test_failed_cells_are_counted_and_named_under_the_overall_table_in_every_text_format():
    failed = make_record("mixer", [0.5, 0.5], status="failed", reason="XlaRuntimeError: out of memory", data_size=8000)
    records = [make_record("convnet", [0.40, 0.41]), make_record("mixer", [0.45, 0.46]), failed,
               make_record("convnet", [0.30, 0.31], data_size=8000)]
    lb = build_leaderboard(records)
    line = "1 of 4 cells (family × size × data size) failed, nothing measured: mixer on mnist1d · 10k params · 8,000"
    for text in (to_markdown(lb), summary_markdown(lb), to_html(lb)):
        assert line in text and "--retry-failed" in text
    assert "cells (family" not in to_markdown(build_leaderboard(records[:2]))


def test_an_ok_record_without_finite_losses_is_shown_as_failed_not_dropped():
    lb = build_leaderboard([make_record("mixer", [math.nan, math.nan]), make_record("mlp", [0.9, 0.91])])
    assert [(e.arch, e.status, e.rank) for e in lb.cells[0].entries] == [("mlp", "ok", 1), ("mixer", "failed", None)]


def test_overall_table_is_the_mean_rank_over_the_cells_where_every_family_ran():
    records = grid_records()
    # rnn diverges in one cell: that cell is not complete, so no family's mean rank counts it
    # (mlp would otherwise move up to 4th there by rnn's failure alone).
    records[-2] = make_record("rnn", [math.nan] * 3, status="diverged", target_params=40_000, data_size=4000)
    lb = build_leaderboard(records)
    overall = {o.arch: (o.mean_rank, o.cells, o.wins, o.not_ok) for o in lb.overall}
    assert overall["convnet"] == (1.0, 4, 4, 0)
    assert overall["rnn"] == (4.0, 3, 0, 1)
    assert overall["mlp"] == (5.0, 4, 0, 0)
    assert [o.arch for o in lb.overall] == ["convnet", "transformer", "mixer", "rnn", "mlp"]
    assert lb.friedman.cells == 3 and lb.friedman.families == 5


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


def test_unconverged_runs_and_rates_on_an_edge_are_marked():
    import dataclasses

    from benchmarks.analysis.leaderboard_formats import from_json, summary_markdown, to_json

    slow = dataclasses.replace(make_record("gru", [0.9, 0.91]), converged=False)
    edgy = dataclasses.replace(make_record("convnet", [0.4, 0.41]), converged=True, lr_at_edge=True)
    lb = build_leaderboard([slow, edgy])
    md = to_markdown(lb)
    assert "| gru ~ " in md and "| convnet ^ " in md
    assert "1 of 2 runs had not converged" in summary_markdown(lb)
    back = from_json(to_json(lb))
    assert {e.arch: (e.converged, e.lr_at_edge) for e in back.cells[0].entries} == {"gru": (False, False), "convnet": (True, True)}


def planted_suite(effect: dict[str, float], rng: int = 0):
    """The quick suite's design (3 sizes × 4 data sizes × 3 seeds) with an init shared across data sizes."""
    from synthetic_results import Law, planted_records

    law = Law(effect=effect, sigma=0.02, tau=0.03)
    return planted_records(law, sizes=(2_500, 5_000, 10_000), data_sizes=(400, 1_000, 2_000, 4_000), rng=rng)


def test_three_seeds_rank_apart_what_overlapping_t_intervals_would_tie():
    """8% apart with 3 seeds: each entry's own Student-t interval (t with 2 df) overlaps the other's, but the family's
    noise pooled over its 12 cells separates them."""
    lb = build_leaderboard(planted_suite({"conv": 0.0, "mlp": 0.08}))
    from benchmarks.analysis.stats import intervals_overlap, mean_ci

    apart = 0
    for cell in lb.cells:
        conv, mlp = (next(e for e in cell.entries if e.arch == a) for a in ("conv", "mlp"))
        own = [mean_ci(e.test_loss.values)[1:] for e in (conv, mlp)]
        apart += (conv.rank, mlp.rank) == (1, 2) and intervals_overlap(*own)
    assert apart >= 6  # at least half the cells: ranked apart where the old rule tied them


def test_no_difference_is_rarely_ranked_apart():
    """No planted difference between 6 families: Holm over each cell's 15 pairs keeps cells with any separation rare."""
    cells = separated = 0
    for rng in range(12):
        lb = build_leaderboard(planted_suite(dict.fromkeys(("a", "b", "c", "d", "e", "f"), 0.0), rng=rng))
        for cell in lb.cells:
            cells += 1
            separated += any(e.rank > 1 for e in cell.ranked)
    # at most 5% of cells in expectation (100 such suites: 4.5%); 144 cells of 12 suites scatter by about ±2%
    assert separated / cells <= 0.08


def test_wins_count_only_entries_separated_from_every_other_entry():
    records = [
        make_record("convnet", [0.40, 0.41, 0.42], data_size=1000),  # alone at the top: a win
        make_record("mlp", [0.90, 0.91, 0.93], data_size=1000),
        make_record("convnet", [0.40, 0.41, 0.42], data_size=2000),  # tied at the top: no win
        make_record("transformer", [0.40, 0.42, 0.41], data_size=2000),
        make_record("mlp", [0.90, 0.91, 0.93], data_size=2000),
        make_record("convnet", [0.40, 0.41, 0.42], data_size=4000),  # alone in its cell: no win
    ]
    lb = build_leaderboard(records)
    wins = {o.arch: o.wins for o in lb.overall}
    assert wins == {"convnet": 1, "transformer": 0, "mlp": 0}
    tied = lb.cells[1]
    assert {(e.arch, e.rank, e.tied) for e in tied.entries[:2]} == {("convnet", 1, True), ("transformer", 1, True)}


def test_accuracy_intervals_never_leave_0_to_100_percent():
    lb = build_leaderboard([make_record("convnet", [0.05, 0.06, 0.30], [1.0, 1.0, 0.90]),
                            make_record("mlp", [2.2, 2.3, 2.1], [0.0, 0.0, 0.12])])
    for e in lb.cells[0].entries:
        assert 0.0 <= e.test_acc.lo <= e.test_acc.value <= e.test_acc.hi <= 1.0


def test_overall_mean_ranks_carry_friedman_nemenyi_intervals():
    lb = build_leaderboard(planted_suite({"conv": 0.0, "mlp": 0.3, "transformer": 0.1}))
    f = lb.friedman
    assert f.cells == 12 and f.families == 3 and f.p < 0.001
    rows = {o.arch: o for o in lb.overall}
    assert [o.arch for o in lb.overall] == ["conv", "transformer", "mlp"]
    assert rows["conv"].mean_rank == 1.0 and rows["conv"].rank_hi < rows["mlp"].rank_lo  # apart by Nemenyi
    assert all(1.0 <= o.rank_lo <= o.mean_rank <= o.rank_hi <= 3.0 for o in lb.overall)
    assert "Friedman test over 12 cells × 3 families" in to_markdown(lb)
