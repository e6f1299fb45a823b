"""The recall task's no-binding shortcut (`benchmarks/data/recall.py`)."""

from __future__ import annotations

import pytest

from benchmarks.data.recall import generate, shortcut_accuracy


def test_the_no_binding_shortcut_scores_the_accuracies_the_investigation_states():
    """docs/recall-investigation.md: 54.4% at 4 pairs, 38.8% at 8 (32 keys, 32 values, queries = every key)."""
    for pairs, stated in ((4, 0.544), (8, 0.388)):
        x, y = generate(2000, pairs=pairs, queries=pairs, keys=32, values=32, seed=0, split="test", positions="all")
        assert shortcut_accuracy(x, y, pairs=pairs) == pytest.approx(stated, abs=0.01)
