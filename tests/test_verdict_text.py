"""The verdict's words: enough digits to tell an interval's ends apart, and no claim an interval does not allow."""

from __future__ import annotations

from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict import BiasComparison
from benchmarks.analysis.verdict_text import bias_paragraph, fmt_share


def test_percent_formatting_shows_enough_digits_to_tell_the_ends_apart():
    assert fmt_share(Estimate(0.0001, -0.0002, 0.0005)) == "0.01% [−0.02, 0.05]"
    assert fmt_share(Estimate(0.5, 0.45, 0.55)) == "50% [45, 55]"
    assert fmt_share(Estimate(0.01, -0.00001, 0.02)) == "1.0% [0.0, 2.0]"


def test_bias_paragraph_calls_a_change_whose_interval_includes_zero_indistinguishable():
    e = Estimate
    b = BiasComparison("mnist1d", "mnist1d-shuffled", {"conv": e(0.25, 0.2, 0.3), "mlp": e(0.003, -0.004, 0.01)},
                       "conv", {})
    text = bias_paragraph(b)
    assert "shuffling raises the loss of conv by 28" in text
    assert "for mlp (0.3% [−0.4, 1.0]) the change is indistinguishable from zero" in text
