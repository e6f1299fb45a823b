"""The verdict's words: enough digits to tell an interval's ends apart, and no claim an interval does not allow;
a headline of at most 5 lines and short bullets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics.dataset_contrasts import ContrastEffect, GapChange
from benchmarks.analysis.verdict_words import BULLET_WORDS, HEADLINE_LINES, contrast_section, past_its_runs
from benchmarks.analysis.wording import share as fmt_share
from benchmarks.analysis.wording import words_in
from benchmarks.spec import DatasetContrast


def test_percent_formatting_shows_enough_digits_to_tell_the_ends_apart():
    assert fmt_share(Estimate(0.0001, -0.0002, 0.0005)) == "0.01% [−0.02, 0.05]"
    assert fmt_share(Estimate(0.5, 0.45, 0.55)) == "50% [45, 55]"
    assert fmt_share(Estimate(0.01, -0.00001, 0.02)) == "1.0% [0.0, 2.0]"


def test_a_contrast_calls_a_change_whose_interval_includes_zero_within_noise():
    e = Estimate
    zero = e(0.0, 0.0, 0.0)
    c = ContrastEffect(
        DatasetContrast("mine", "mine-corrupted", "labels of 10% of the images swapped"),
        change={"conv": e(0.25, 0.2, 0.3), "mlp": e(0.003, -0.004, 0.01)}, cells={"conv": 9, "mlp": 9},
        leader="conv", gaps={"conv": GapChange(zero, zero, zero),
                             "mlp": GapChange(e(0.3, 0.25, 0.35), e(0.05, 0.0, 0.1), e(-0.25, -0.3, -0.2))},
        shared_cells=9)
    section = contrast_section(c)
    text = section.text()
    assert text.startswith("Contrast: mine-corrupted against mine (labels of 10% of the images swapped)")
    assert section.headline[0] == "The variant raises the loss of conv; leaves unchanged mlp."
    assert "it raises conv's loss by 28" in text or "it raises the loss of conv 28" in text
    assert "mlp's loss is unchanged within noise (0.3% [−0.4, 1.0])" in text
    assert "mlp's gap to conv narrows (−22" in text
    assert len(section.headline) <= HEADLINE_LINES
    assert all(words_in(b) <= BULLET_WORDS for bs in section.bullets.values() for b in bs)


REFERENCES = sorted((Path(__file__).resolve().parent.parent / "results" / "reference").glob("*/fits.json"))


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.parent.name)
def test_every_committed_reference_reads_in_a_headline_and_short_bullets(path):
    sections = json.loads(path.read_text())["verdict"]["sections"]
    assert sections
    for s in sections:
        assert 1 <= len(s["headline"]) <= HEADLINE_LINES, s["title"]
        assert all(words_in(b) <= 50 for bs in s["bullets"].values() for b in bs), s["title"]
    if path.parent.name == "quick":  # the terminal's verdict, without --details
        shown = [w for s in sections for w in (s["title"], *s["headline"], *(b for bs in s["bullets"].values()
                                                                               for b in bs))]
        assert sum(words_in(w) for w in shown) < 300


def test_the_lottery_tickets_read_in_a_headline_and_short_bullets_from_their_claims():
    doc = json.loads((Path(__file__).resolve().parent.parent / "results" / "reference" / "tickets" / "fits.json")
                     .read_text())["tickets"]
    words = doc["words"]
    assert 1 <= len(words["headline"]) <= HEADLINE_LINES
    assert all(words_in(b) <= 50 for bs in words["bullets"].values() for b in bs)
    assert len(words["details"]) == len(doc["claims"])  # every claim said, one a line


def test_a_frontier_read_past_its_runs_says_so_only_where_the_printed_counts_differ():
    import math

    top = math.log(1.6e11)
    assert past_its_runs("gru", top, math.log(8.5e10)) == " (extrapolated there: gru's runs reach 85G FLOPs)"
    assert past_its_runs("gru", top, top - 1e-3) == ""  # 0.1% short: "runs reach 160G" at "160G" would contradict
    assert past_its_runs("gru", top, top) == ""
