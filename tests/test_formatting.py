"""Numbers and tables look the same wherever archbench shows them."""

import math

from benchmarks.analysis.stats import Estimate
from benchmarks.formatting import CSS, Num, fmt_estimate, html_page, html_table, human, md_table, write_text


def test_human_counts_read_at_a_glance_and_non_finite_is_a_dash():
    assert [human(x) for x in (999, 12_345, 2_500_000, 3e9)] == ["999", "12.3k", "2.5M", "3G"]
    assert human(math.nan) == "—"


def test_estimate_reads_mean_plus_minus_half_width_and_nan_without_seeds():
    assert fmt_estimate(Estimate(0.4123, 0.3913, 0.4333)) == "0.412 ± 0.021"
    assert fmt_estimate(Estimate(0.5, 0.45, 0.55), percent=True) == "50.0 ± 5.0"
    assert fmt_estimate(Estimate(0.3, math.nan, math.nan)) == "0.300 ± nan"
    assert fmt_estimate(Estimate(math.nan, math.nan, math.nan)) == "—"


def test_markdown_table_lines_up_and_right_aligns_numbers():
    lines = md_table(["arch", "loss"], [["mlp", "0.5"], ["transformer", "12.25"]], [False, True])
    assert len({len(line) for line in lines}) == 1
    assert lines[1] == "|-------------|------:|" and lines[2] == "| mlp         |   0.5 |"


def test_html_table_marks_numbers_escapes_text_and_classes_rows():
    table = html_table(["arch", "rank", "loss"], [["<b>mlp</b>", 1, Num("0.5 ± 0.1")], ["rnn", "–", ""]],
                       classes=["tied", ""])
    assert '<tr class="tied"><td>&lt;b&gt;mlp&lt;/b&gt;</td><td class=num>1</td><td class=num>0.5 ± 0.1</td>' in table
    assert "<tr><td>rnn</td><td>–</td><td></td></tr>" in table


def test_every_page_carries_the_one_style_sheet_and_nothing_from_elsewhere():
    page = html_page("a <title>", "<p>body</p>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"<style>{CSS}</style>" in page and "<title>a &lt;title&gt;</title>" in page
    assert not any(x in page for x in ("http://", "https://", "<script", "<link"))


def test_write_text_replaces_a_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out" / "board.md"
    write_text(path, "one\n")
    write_text(path, "two\n")
    assert path.read_text() == "two\n" and [p.name for p in path.parent.iterdir()] == ["board.md"]
