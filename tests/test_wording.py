"""The one wording rule: every claim of every committed reference and of planted results is said in words
that agree with its interval (`wording.agrees`, decided from the numbers, not from `wording.relation`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.analysis.claims import Claim
from benchmarks.analysis.wording import (
    TEMPLATES,
    agrees,
    detection,
    kept_order,
    number,
    relation,
    reversal,
    say,
    say_many,
    words_in,
)

REFERENCES = sorted((Path(__file__).resolve().parent.parent / "results" / "reference").glob("*/fits.json"))
NAN = math.nan


def _claims_in(doc: object) -> list[dict]:
    """Every claim stored anywhere in a fits.json (datasets, contrasts, quality levels)."""
    if isinstance(doc, dict):
        found = [c for c in doc.get("claims", []) if isinstance(c, dict) and "quantity" in c]
        return found + [c for k, v in doc.items() if k != "claims" for c in _claims_in(v)]
    if isinstance(doc, list):
        return [c for v in doc for c in _claims_in(v)]
    return []


def reference_claims() -> list[tuple[str, Claim]]:
    return [(p.parent.name, Claim.from_dict(c)) for p in REFERENCES for c in _claims_in(json.loads(p.read_text()))]


def planted() -> list[Claim]:
    """Claims at the edges of the rule: intervals just past, at and around the null, bounds on either side,
    a sign change, an undecided end, tests either side of their level."""
    base = dict(statistic="planted", subject="mlp", reference="convnet", scope="planted")
    return [
        Claim(quantity="pair", estimate=12.0, lo=0.01, hi=20.0, unit="percent", null=0.0, **base),
        Claim(quantity="pair", estimate=12.0, lo=0.0, hi=20.0, unit="percent", null=0.0, **base),
        Claim(quantity="gap", estimate=-3.0, lo=-9.0, hi=-0.2, unit="percent", null=0.0, **base),
        Claim(quantity="gap", estimate=1.0, lo=-9.0, hi=5.0, unit="percent", null=0.0, **base),
        Claim(quantity="gap trend", estimate=0.64, lo=0.44, hi=0.89, unit="ratio", null=1.0, **base),
        Claim(quantity="gap trend", estimate=0.9, lo=0.7, hi=1.1, unit="ratio", null=1.0, **base),
        Claim(quantity="gap trend", estimate=0.5, lo=0.3, hi=0.8, unit="ratio", null=1.0, sign_change=True, **base),
        Claim(quantity="frontier gap trend", estimate=-16.0, lo=-29.0, hi=-0.01, unit="percent", null=0.0,
              undecided=True, **base),
        Claim(quantity="factor", estimate=4.3, lo=2.9, hi=6.4, unit="factor of data", null=1.0,
              measured_range=(0.1, 10.0), **base),
        Claim(quantity="factor", estimate=1.2, lo=0.8, hi=1.9, unit="factor of data", null=1.0,
              measured_range=(0.1, 10.0), **base),
        Claim(quantity="factor", estimate=NAN, lo=NAN, hi=NAN, unit="factor of compute", null=1.0, kind="bounded",
              side="above", bound=10.0, measured_range=(0.1, 10.0), **base),
        Claim(quantity="factor", estimate=NAN, lo=NAN, hi=NAN, unit="factor of params", null=1.0, kind="bounded",
              side="below", bound=0.25, measured_range=(0.25, 4.0), **base),
        Claim(quantity="change", estimate=30.0, lo=10.0, hi=50.0, unit="percent", null=0.0, **base),
        Claim(quantity="spread change", estimate=-18.0, lo=-22.0, hi=-14.0, unit="percent", null=0.0, **base),
        Claim(quantity="rank correlation", estimate=0.83, lo=0.1, hi=1.0, unit="correlation", null=0.0, **base),
        Claim(quantity="rank correlation", estimate=-0.6, lo=-1.0, hi=-0.2, unit="correlation", null=0.0, **base),
        Claim(quantity="rank correlation", estimate=0.4, lo=-0.3, hi=0.9, unit="correlation", null=0.0, **base),
        Claim(quantity="rank correlation", estimate=0.4, lo=0.01, hi=0.9, unit="correlation", null=0.0,
              undecided=True, **base),
        Claim(quantity="equal exponents", estimate=0.0013, lo=NAN, hi=NAN, unit="p", null=0.05, kind="test",
              at={"axis": "parameters"}, **base),
        Claim(quantity="equal exponents", estimate=0.2, lo=NAN, hi=NAN, unit="p", null=0.05, kind="test",
              at={"axis": "parameters"}, **base),
        *counts(),
    ]


def counts() -> list[Claim]:
    """Counts whose arithmetic holds: a full grid, part of one, the other pairs, decisions changed and lost."""
    base = dict(statistic="planted", subject="the runs", scope="planted", lo=NAN, hi=NAN, unit="count", null=None)
    return [
        Claim(quantity="runs", estimate=72.0, at={"families": 6, "sizes": 3, "data_sizes": 4}, **base),
        Claim(quantity="runs", estimate=4.0, at={"families": 4, "sizes": 4, "data_sizes": 1}, **base),
        Claim(quantity="pairs apart", estimate=6.0, at={"pairs": 15, "with_leader": 5, "families": 6}, **base),
        Claim(quantity="decisions changed", estimate=2.0, at={"pairs": 15, "lost": 0, "families": 6}, **base),
        Claim(quantity="decisions changed", estimate=1.0, at={"pairs": 15, "lost": 14, "families": 6}, **base),
        Claim(quantity="decisions changed", estimate=0.0, at={"pairs": 6, "lost": 0, "families": 4}, **base),
        Claim(quantity="runs to read with care", estimate=5.0, at={"runs": 72, "at_edge": 0}, **base),
        Claim(quantity="runs to read with care", estimate=0.0, at={"runs": 18, "at_edge": 4}, **base),
        Claim(quantity="runs to read with care", estimate=1.0, at={"runs": 24, "at_edge": 1}, **base),
    ]


def test_every_reference_has_claims():
    got = {name for name, _ in reference_claims()}
    assert {"quick", "frontier", "quality"} <= got


@pytest.mark.parametrize("claim", [c for _, c in reference_claims()] + planted(),
                         ids=lambda c: f"{c.statistic}-{c.quantity}-{c.subject}-{c.reference}")
def test_every_claim_is_said_in_words_its_interval_allows(claim):
    text = say(claim)
    assert agrees(claim, text), f"{text!r} against {claim}"
    zero = claim.unit == "count" and claim.estimate == 0  # "every pair keeps its decision"
    assert number(claim) in text or claim.kind == "bounded" or zero  # one estimate, one interval, everywhere


def test_a_planted_claim_whose_words_disagree_with_its_interval_fails():
    within, apart = planted()[1], planted()[0]  # the interval holds the null; the interval excludes it
    assert not agrees(within, say(apart).replace("12% [0.01", "12% [0"))
    assert not agrees(within, f"mlp above convnet by {number(within)}")
    assert not agrees(apart, f"mlp and convnet within noise ({number(apart)})")
    crossing = planted()[6]
    assert not agrees(crossing, "mlp's gap to convnet narrows, ×0.50 [0.30, 0.80] per tenfold data")
    bound = planted()[10]
    assert not agrees(bound, "mlp needs more than 0.3× the compute of convnet")


def test_counts_are_said_as_the_arithmetic_of_their_claim():
    full, part, apart, changed, lost, kept, unconverged, edge, both = (say(c) for c in counts())
    assert full == "72 runs (6 families × 3 sizes × 4 data sizes)"
    assert part == "4 runs (of the 16 cells of 4 families × 4 sizes × 1 data size)"
    assert apart == "6 of the other 10 pairs separated beyond noise"
    assert changed == "without them decisions change for 2 of the 15 pairs"
    assert lost == "without them decisions change for 1 of the 15 pairs and 14 cannot be compared"
    assert kept == "without them every pair keeps its decision"
    assert unconverged == "5 of 72 runs had not converged"
    assert edge == "4 of 18 runs chose a learning rate at an edge of the search"
    assert both == "1 of 24 runs had not converged and 1 chose a learning rate at an edge of the search"


@pytest.mark.parametrize(("quantity", "estimate", "at"), [
    ("runs", 80.0, {"families": 6, "sizes": 3, "data_sizes": 4}),  # more runs than cells
    ("runs", 71.5, {"families": 6, "sizes": 3, "data_sizes": 4}),  # not a whole number
    ("pairs apart", 11.0, {"pairs": 15, "with_leader": 5, "families": 6}),  # more apart than there are others
    ("pairs apart", 6.0, {"pairs": 16, "with_leader": 5, "families": 6}),  # more pairs than 6 families make
    ("pairs apart", 6.0, {"pairs": 15, "with_leader": 6, "families": 6}),  # the leader is in 5 pairs at most
    ("decisions changed", 10.0, {"pairs": 15, "lost": 6, "families": 6}),  # more changed and lost than pairs
    ("runs to read with care", 80.0, {"runs": 72, "at_edge": 0}),  # more unconverged than runs
    ("runs to read with care", 0.0, {"runs": 72, "at_edge": 0}),  # none to read with care, said as some
])
def test_a_planted_count_whose_arithmetic_disagrees_fails(quantity, estimate, at):
    c = Claim(statistic="planted", quantity=quantity, subject="the runs", estimate=estimate, lo=NAN, hi=NAN,
              unit="count", null=None, scope="planted", at=at)
    assert not agrees(c, say(c))


def test_a_count_said_with_other_numbers_than_its_claims_fails():
    full, part, apart, *_ = counts()
    assert not agrees(full, "72 runs (6 families × 3 sizes × 5 data sizes)")
    assert not agrees(part, "4 runs (4 families × 4 sizes × 1 data size)")  # not a full grid
    assert not agrees(apart, "6 of the other 11 pairs separated beyond noise")


def test_a_bound_below_one_is_never_stated_as_needing_more():
    for c in planted():
        if c.kind == "bounded":
            assert ("more than" in say(c)) == (c.side == "above")


def test_an_undecided_end_gets_no_threshold_word():
    c = planted()[7]
    assert relation(c) == "undecided" and "converges" not in say(c)


def test_several_claims_together_keep_each_claims_words():
    claims = [c for c in planted() if c.quantity == "factor"]
    for text in say_many(claims):
        assert words_in(text) <= 50


def test_every_quantity_has_words_for_every_relation_it_can_take():
    quantities = {q for q, _ in TEMPLATES}
    for q in quantities:
        rels = {r for qq, r in TEMPLATES if qq == q}
        counts = {"grid", "part of grid", "kept", "changed", "lost", "changed and lost", "unconverged", "at edge",
                  "both"}  # `count_relation`'s
        assert "*" in rels or {"above", "within noise"} <= rels or rels & {"rejected", "more than"} or rels <= counts


@pytest.mark.parametrize(("base_lo", "base_hi", "variant_lo", "variant_hi"), [
    (5, 20, -30, -2), (-20, -5, 2, 30), (5, 20, -30, 1), (-1, 20, -30, -2), (5, 20, 2, 30), (-1, 1, -1, 1)])
def test_a_swap_of_places_is_said_exactly_where_both_gaps_exclude_zero_with_opposite_signs(
        base_lo, base_hi, variant_lo, variant_hi):
    gap = lambda lo, hi: Claim(statistic="dataset contrast", quantity="gap", subject="mlp", reference="convnet",
                               estimate=(lo + hi) / 2, lo=lo, hi=hi, unit="percent", null=0.0, scope="")
    on_base, on_variant = gap(base_lo, base_hi), gap(variant_lo, variant_hi)
    text = reversal(on_base, on_variant, "mnist1d", "permuted")
    opposite = (base_lo > 0 and variant_hi < 0) or (base_hi < 0 and variant_lo > 0)
    assert bool(text) == opposite
    if text:  # each side's word is the one its own interval allows
        first, second = ("above", "below") if base_lo > 0 else ("below", "above")
        assert text == f"mlp and convnet swap places: mlp {first} convnet on mnist1d, {second} it on permuted"


@pytest.mark.parametrize(("first_lo", "first_hi", "second_lo", "second_hi"), [
    (5, 20, 2, 30), (-20, -5, -30, -2), (5, 20, -30, -2), (-1, 20, 2, 30), (5, 20, -1, 30), (-1, 1, -1, 1)])
def test_a_kept_order_is_said_exactly_where_both_differences_exclude_zero_with_the_same_sign(
        first_lo, first_hi, second_lo, second_hi):
    pair = lambda lo, hi: Claim(statistic="modalities", quantity="pair", subject="mlp", reference="convnet",
                                estimate=(lo + hi) / 2, lo=lo, hi=hi, unit="percent", null=0.0, scope="")
    text = kept_order(pair(first_lo, first_hi), pair(second_lo, second_hi), "mnist1d", "pydoc")
    same = (first_lo > 0 and second_lo > 0) or (first_hi < 0 and second_hi < 0)
    assert bool(text) == same
    if text:
        word = "above" if first_lo > 0 else "below"
        assert text == f"mlp and convnet keep their order: mlp {word} convnet on mnist1d and on pydoc"


@pytest.mark.parametrize(("verdict", "log_size"), [
    ("within noise", math.log(1.24)), ("unchanged", 0.05), ("regression", 0.3), ("improvement", 0.3),
    ("within noise", math.nan)])
def test_compare_says_what_a_family_test_can_detect_with_its_own_number(verdict, log_size):
    text = detection("convnet", verdict, log_size, 0.8)
    if math.isnan(log_size):
        assert text == "no test for convnet (one seed on a side)"
        return
    size = f"{float(f'{100 * math.expm1(log_size):.2g}'):g}%"
    assert size in text and ("regression beyond noise" in text) == (verdict == "regression")
    assert text.startswith("no regression") == (verdict != "regression")
    if verdict in ("within noise", "unchanged"):
        assert text == f"no regression larger than {size} for convnet"
