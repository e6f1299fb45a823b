"""The recall task's no-binding shortcut (`benchmarks/data/recall.py`)."""

from __future__ import annotations

import pytest

from benchmarks import data
from benchmarks.data.recall import generate, shortcut_accuracy
from benchmarks.spec import UserError


def test_the_no_binding_shortcut_scores_the_accuracies_the_investigation_states():
    """docs/recall-investigation.md: 54.4% at 4 pairs, 38.8% at 8 (32 keys, 32 values, queries = every key)."""
    for pairs, stated in ((4, 0.544), (8, 0.388)):
        x, y = generate(2000, pairs=pairs, queries=pairs, keys=32, values=32, seed=0, split="test", positions="all")
        assert shortcut_accuracy(x, y, pairs=pairs) == pytest.approx(stated, abs=0.01)


def test_distinct_values_never_repeat_in_a_sequence_and_leave_only_the_elimination_guess():
    """distinct=1 draws a sequence's values without replacement (Zoology's multiquery_ar): no two pairs share a
    value, so the no-binding guess is worth 1/(pairs not yet asked) at each query, (1 + 1/2 + ... + 1/P) / P."""
    pairs = 8
    x, y = generate(500, pairs=pairs, queries=pairs, keys=64, values=64, seed=0, split="test", positions="all",
                    distinct=1)
    values_NxP = x[:, 1 : 2 * pairs : 2]
    assert all(len(set(row)) == pairs for row in values_NxP)
    assert shortcut_accuracy(x, y, pairs=pairs) == pytest.approx(sum(1 / k for k in range(1, pairs + 1)) / pairs)
    x_rep, _ = generate(500, pairs=pairs, queries=pairs, keys=64, values=8, seed=0, split="test", positions="all")
    assert any(len(set(row)) < pairs for row in x_rep[:, 1 : 2 * pairs : 2])  # the default repeats them


def test_distinct_values_change_the_data_version_and_the_default_keeps_it():
    assert data.version("recall") == data.version("recall?distinct=0") == "recall-e7a7da2072a8"
    assert data.version("recall?distinct=1&values=64") != data.version("recall?values=64")
    with pytest.raises(UserError, match="distinct=1 needs values >= pairs"):
        data.task("recall?distinct=1&pairs=8&values=4")


def test_hidden_answers_pad_the_token_after_each_query_and_leave_nothing_to_rule_out():
    """answers=hidden (Zoology's form): the same labels, the pad token after each query, and the no-binding
    guess can rule no pair out: with distinct values it is worth 1/pairs at every query."""
    opts = {"pairs": 4, "queries": 4, "keys": 32, "values": 32, "seed": 0, "split": "test", "positions": "all",
            "distinct": 1}
    x, y = generate(300, **opts)
    x_hidden, y_hidden = generate(300, answers="hidden", **opts)
    assert (y_hidden == y).all() and (x_hidden[:, :9] == x[:, :9]).all()
    assert (x_hidden[:, 10::2] == 0).all() and (x[:, 10::2] != 0).all()
    assert shortcut_accuracy(x_hidden, y_hidden, pairs=4) == pytest.approx(0.25)
