"""The verdict across modalities (`verdict_statistics/modalities.py`): per dataset which factor explains the most,
and whether the families rank alike on datasets of different task kinds, with words that agree with the intervals."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_statistics.modalities import (
    modality_of,
    modality_tables,
    pair_order,
    rho_interval,
    spearman,
)
from benchmarks.analysis.verdict_words import modality_section, sections
from benchmarks.analysis.wording import agrees, relation, say
from tests.synthetic_results import Law, planted_records

ORDER = {"conv": 0.0, "gru": 0.15, "mlp": 0.3, "transformer": 0.45}  # log-loss effects: conv best, transformer worst
REVERSED = {a: 0.45 - e for a, e in ORDER.items()}
DESIGN = dict(sizes=(10_000, 20_000), data_sizes=(1_000, 4_000))
TEXT = "pydoc?context=64"


@pytest.fixture(scope="module")
def planted():
    """Signals and images with one order of the families, text with the order reversed; on text the families
    differ little, so data size explains the most there."""
    records = (planted_records(Law(effect=ORDER, sigma=0.03), dataset="mnist1d", **DESIGN)
               + planted_records(Law(effect=ORDER, sigma=0.03), dataset="digits", rng=1, **DESIGN)
               + planted_records(Law(effect={a: e / 3 for a, e in REVERSED.items()}, sigma=0.01, B=200.0),
                                 dataset=TEXT, rng=2, **DESIGN))
    return verdict(records, n_boot=100)


def claims_of(v, quantity):
    return [c for c in v.statistics["modalities"].claims if c.quantity == quantity]


def test_a_dataset_s_modality_is_its_task_kind():
    assert [modality_of(d) for d in ("mnist1d", "digits", TEXT, "recall", "no-such-dataset")] == [
        "signal classification", "image classification", "next-token prediction", "sequence classification", ""]


def test_spearman_is_one_for_the_same_order_and_minus_one_for_the_reverse():
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert spearman(x, x * 10)[0] == pytest.approx(1.0)
    assert spearman(x, -x)[0] == pytest.approx(-1.0)
    assert spearman(x, np.array([[2.0, 1.0, 3.0, 4.0]]))[0] == pytest.approx(0.8)


def test_rho_s_interval_is_its_replicates_central_95_percent_not_re_centred():
    """A near-tie pulls the replicates' ρ below the data's 0.8 (to 0.5 on average): the interval is where the
    replicates lie, not moved up by their shortfall; a ρ beyond every replicate is still inside its interval."""
    replicates = np.random.default_rng(0).choice([0.2, 0.5, 0.8], size=1000)
    e = rho_interval(0.8, replicates)
    assert (e.value, e.lo, e.hi) == (0.8, 0.2, 0.8)
    assert rho_interval(1.0, replicates).hi == 1.0
    assert np.isnan(rho_interval(0.3, np.array([np.nan])).lo)


def test_the_same_order_is_found_alike_and_the_reversed_one_opposite(planted):
    rho = {(c.subject, c.reference): c for c in claims_of(planted, "rank correlation")}
    assert set(rho) == {("digits", "mnist1d"), ("digits", TEXT), ("mnist1d", TEXT)}
    assert relation(rho["digits", "mnist1d"]) == "above"
    assert relation(rho["digits", TEXT]) == relation(rho["mnist1d", TEXT]) == "below"
    pairs = {(c.at["dataset"], c.subject, c.reference): c for c in claims_of(planted, "pair")}
    assert len(pairs) == 3 * 6  # every pair of the 4 families on each dataset
    for a, b in [("conv", "mlp"), ("conv", "transformer"), ("gru", "transformer")]:
        assert pair_order(pairs["mnist1d", a, b], pairs["digits", a, b]) == "kept"
        assert pair_order(pairs["mnist1d", a, b], pairs[TEXT, a, b]) == "swapped"


def test_each_modality_says_which_factor_explains_the_most(planted):
    lead = {c.at["dataset"]: c for c in claims_of(planted, "share lead")}
    assert lead["mnist1d"].subject == lead["digits"].subject == "architecture"
    assert lead[TEXT].subject == "data size"
    assert all(relation(c) == "above" for c in lead.values())


def test_every_claim_across_modalities_is_said_as_its_interval_allows(planted):
    claims = planted.statistics["modalities"].claims
    assert claims and all(agrees(c, say(c)) for c in claims)


def test_the_section_says_the_reversal_and_the_kept_orders_from_the_claims(planted):
    section = modality_section(planted.statistics["modalities"].claims)
    assert section in sections(planted)
    text = section.text()
    assert "the families' orders on digits and mnist1d agree beyond noise" in text.lower()
    assert "conv and transformer swap places: conv below transformer on mnist1d, above it on pydoc?context=64" in text
    assert "conv and transformer keep their order: conv below transformer on digits and on mnist1d" in text
    assert "On pydoc?context=64 (next-token prediction): data size" in text


def test_the_table_marks_each_pair_kept_or_swapped(planted):
    tables = modality_tables(planted.statistics["modalities"].claims)
    by_title = {t.title.split(":")[0]: t for t in tables}
    assert {row[-1] for row in by_title["Family order, digits against mnist1d"].rows} == {"kept"}
    reversed_rows = {row[0]: row[-1] for row in by_title[f"Family order, mnist1d against {TEXT}"].rows}
    assert reversed_rows["conv against transformer"] == "swapped" and "kept" not in reversed_rows.values()


def test_datasets_of_one_task_kind_say_nothing_across_modalities():
    records = (planted_records(Law(effect=ORDER), dataset="mnist1d", **DESIGN)
               + planted_records(Law(effect=REVERSED), dataset="mnist1d-shuffled", rng=1, **DESIGN))
    v = verdict(records, n_boot=20)
    assert v.statistics["modalities"].claims == () and "modalities" not in v.to_dict()
    assert all(s.title != "Across modalities" for s in sections(v))


def test_the_committed_reference_states_the_cross_modality_answer_in_its_report():
    import json
    from html import unescape
    from pathlib import Path

    reference = Path(__file__).resolve().parent.parent / "results" / "reference" / "modalities"
    doc = json.loads((reference / "fits.json").read_text())
    (section,) = [s for s in doc["verdict"]["sections"] if s["title"] == "Across modalities"]
    claims = doc["verdict"]["modalities"]["orders"]
    assert [(o["first"], o["second"]) for o in claims] == [("mnist1d", "pydoc?context=64")]
    assert any(line.startswith("On mnist1d (signal classification)") for line in section["headline"])
    assert any("rank correlation" in line for line in section["headline"])
    html = unescape((reference / "report.html").read_text())
    assert all(line in html for line in section["headline"])
