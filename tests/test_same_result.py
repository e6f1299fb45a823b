"""The comparison of regenerated results with committed ones: numbers within a tolerance, the rest exactly."""

from __future__ import annotations

import pytest
from same_result import assert_same_result, differences

COMMITTED = {"share": {"value": 0.457, "lo": 0.41, "hi": 0.5}, "n": 72, "ok": True, "text": "42% [41, 50]",
             "levels": [1.0, 2.0], "none": None}


def test_floats_that_moved_in_their_last_digits_are_the_same_result():
    moved = {**COMMITTED, "share": {"value": 0.457 * (1 + 3e-13), "lo": 0.41, "hi": 0.5 - 1e-16},
             "levels": [1.0 + 1e-15, 2.0]}
    assert_same_result(moved, COMMITTED)


@pytest.mark.parametrize("edit, where", [
    ({"share": {"value": 0.4571, "lo": 0.41, "hi": 0.5}}, "$.share.value"),  # a digit a user could see
    ({"text": "42% [41, 51]"}, "$.text"),  # text compares exactly
    ({"ok": 1}, "$.ok"),  # a boolean is not the number 1
    ({"n": 72.0 + 1e-6}, "$.n"),
    ({"levels": [1.0]}, "$.levels"),
    ({"none": 0.0}, "$.none"),
])
def test_a_change_beyond_the_tolerance_or_in_the_text_is_named_by_its_path(edit, where):
    found = list(differences({**COMMITTED, **edit}, COMMITTED))
    assert found and found[0].startswith(where + ":")
    with pytest.raises(AssertionError, match=where.replace("$", r"\$").replace(".", r"\.").replace("[", r"\[")):
        assert_same_result({**COMMITTED, **edit}, COMMITTED)


def test_a_missing_key_is_a_difference():
    assert list(differences({k: v for k, v in COMMITTED.items() if k != "n"}, COMMITTED)) == [
        "$: keys [] only here, ['n'] only in the committed one"]
