"""The verdict's words: enough digits to tell an interval's ends apart, and no claim an interval does not allow."""

from __future__ import annotations

from benchmarks.analysis.contrast import ContrastEffect, GapChange
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_text import contrast_paragraph, fmt_share
from benchmarks.spec import DatasetContrast


def test_percent_formatting_shows_enough_digits_to_tell_the_ends_apart():
    assert fmt_share(Estimate(0.0001, -0.0002, 0.0005)) == "0.01% [−0.02, 0.05]"
    assert fmt_share(Estimate(0.5, 0.45, 0.55)) == "50% [45, 55]"
    assert fmt_share(Estimate(0.01, -0.00001, 0.02)) == "1.0% [0.0, 2.0]"


def test_contrast_paragraph_calls_a_change_whose_interval_includes_zero_indistinguishable():
    e = Estimate
    zero = e(0.0, 0.0, 0.0)
    c = ContrastEffect(
        DatasetContrast("mine", "mine-corrupted", "labels of 10% of the images swapped"),
        change={"conv": e(0.25, 0.2, 0.3), "mlp": e(0.003, -0.004, 0.01)}, cells={"conv": 9, "mlp": 9},
        leader="conv", gaps={"conv": GapChange(zero, zero, zero),
                             "mlp": GapChange(e(0.3, 0.25, 0.35), e(0.05, 0.0, 0.1), e(-0.25, -0.3, -0.2))},
        shared_cells=9)
    text = contrast_paragraph(c)
    assert text.startswith("Contrast: mine-corrupted against mine (labels of 10% of the images swapped)")
    assert "the variant raises the loss of conv by 28" in text
    assert "for mlp (0.3% [−0.4, 1.0]) the change is indistinguishable from zero" in text
    assert "Against conv, the best on mine (over the 9 sizes every family ran on both): mlp is 35" in text
    assert "a gap that narrows (−22" in text
