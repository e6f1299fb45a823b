"""What the report says for a next-token suite (docs/language.md): losses in nats and in bits, the loss against
the position in the context (Kaplan et al. 2020, Fig. 7 right) and where each family's loss stops improving, from
real records of a tiny next-token sweep through the command line; classification reports are left as they were."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from test_user_data import _cli  # the command line, its output as text

from benchmarks.analysis import language
from benchmarks.analysis.claims import Claim
from benchmarks.analysis.verdict_statistics.context import plateau
from benchmarks.analysis.wording import agrees, relation, say, sentence
from benchmarks.layout import plot_file
from benchmarks.running.store import ResultsStore

pytestmark = pytest.mark.slow  # 8 tiny runs and a report: about a minute on 2 loaded cores

SUITE = "tinylm"
DATASET = "pydoc?context=16"
CONTEXT = 16


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    """The bigram and the n-gram MLP x 2 sizes x 2 budgets x 3 seeds on pydoc at a context of 16, swept and
    reported through the command line."""
    root = tmp_path_factory.mktemp("lm")
    suite = root / f"{SUITE}.toml"
    suite.write_text(f"""
name = "{SUITE}"
datasets = ["{DATASET}"]
architectures = ["linear", "mlp"]
target_params = [6_000, 12_000]
data_sizes = [100, 200]
seeds = [0, 1, 2]
training = {{ epochs = 1, min_steps = 40, max_steps = 40, batch_size = 16, eval_every = 20 }}  # 40 steps a run
lr = {{ trials = [3e-2] }}
""")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARCHBENCH_CACHE", str(root / "cache"))
        results = str(root / "results")
        _cli("sweep", str(suite), "--results-dir", results, "--workers", "1")
        printed = _cli("report", SUITE, "--results-dir", results)
    folder = Path(results) / SUITE
    return {"folder": folder, "printed": printed, "records": ResultsStore(results, SUITE).records(),
            "fits": json.loads((folder / "fits.json").read_text()), "html": (folder / "report.html").read_text()}


def test_every_seed_of_a_next_token_run_records_its_loss_at_each_position(swept):
    assert len(swept["records"]) == 8 and all(r.status == "ok" for r in swept["records"])
    for r in swept["records"]:
        for s in r.seeds:
            assert len(s.test_position_loss) == CONTEXT
            assert np.mean(s.test_position_loss) == pytest.approx(s.test_loss, rel=1e-5)  # every window scores 16


def test_the_position_figure_draws_each_familys_largest_run_as_its_records_say(swept):
    assert (swept["folder"] / "plots" / plot_file(DATASET, "position")).is_file()
    assert "loss against position in the context" in swept["html"]
    curves = language.position_curves(swept["records"])
    assert [c.arch for c in curves] == ["linear", "mlp"]
    fig = language.position_figure(DATASET, curves)
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == CONTEXT]
    for c, line in zip(curves, lines, strict=True):
        (run,) = [r for r in swept["records"] if r.spec.arch == c.arch and r.spec.target_params == 12_000
                  and r.spec.data_size == 200]  # the largest size, at the largest budget
        per_seed = np.array([s.test_position_loss for s in run.seeds])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, CONTEXT + 1))
        np.testing.assert_allclose(line.get_ydata(), per_seed.mean(axis=0), rtol=1e-12)
        octave_line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith(c.arch))
        blocks = [(0, 1), (1, 2), (2, 4), (4, 8), (8, 16)]  # tokens read 1, 2, 3-4, 5-8, 9-16
        want = [per_seed[:, a:b].mean(axis=1).mean() for a, b in blocks]
        np.testing.assert_allclose(octave_line.get_ydata(), want, rtol=1e-12)
    plt.close(fig)


def test_the_verdict_says_where_each_familys_loss_stops_improving_in_words_its_interval_allows(swept):
    (ds,) = swept["fits"]["verdict"]["datasets"]
    plateaus = {p["arch"]: p for p in ds["context_plateaus"]}
    assert set(plateaus) == {"linear", "mlp"}
    claims = [Claim.from_dict(c) for c in ds["claims"] if c["quantity"] == "context plateau"]
    assert {c.subject for c in claims} == {"linear", "mlp"}
    bullets = " ".join(ds["words"]["bullets"]["families"])
    for c in claims:
        assert agrees(c, say(c))
        assert sentence(say(c))[:-1] in bullets or say(c) in bullets
        p = plateaus[c.subject]
        assert c.at["octave"] == (f"token {p['octave'][0]}" if p["octave"][0] == p["octave"][1]
                                  else f"tokens {p['octave'][0]}–{p['octave'][1]}")
        assert p["still_falling"] == (relation(c) == "below")
    # the bigram reads one byte: nothing after its first token helps it
    assert plateaus["linear"]["octave"][0] <= 2 and not plateaus["linear"]["still_falling"]


def test_next_token_tables_and_axes_say_nats_and_bits_per_byte(swept):
    page = swept["html"]
    assert "test loss (nats/byte)</th><th>bits/byte</th>" in page
    assert "Next-token losses are in nats per byte" in page
    r = next(r for r in swept["records"] if r.spec.arch == "mlp")
    nats = float(np.mean([s.test_loss for s in r.seeds]))
    assert f"{nats / math.log(2):.4g}" in page  # the leaderboard's bits beside its nats
    assert language.loss_header("mnist1d") == ["test loss"] and language.in_bits("mnist1d", 1.0) == []


# ---------------------------------------------------------------------------- the rule on planted curves


def _curve(losses_L, seed_noise: float = 0.003, seeds: int = 3) -> language.PositionCurve:
    rng = np.random.default_rng(0)
    s = np.asarray(losses_L)[None] * (1 + 0.05 * rng.standard_normal((seeds, 1)))  # each seed a level of its own
    return language.PositionCurve("f", 1000, 100, tuple(range(seeds)), s * (1 + seed_noise * rng.standard_normal(s.shape)))


def test_a_loss_that_flattens_stops_improving_at_the_first_octave_within_noise_of_the_end():
    n = np.arange(1, 33)
    found, claim = plateau(_curve(2.0 + np.maximum(0.0, 1.0 - n / 6)), "planted")
    assert language.octaves(32) == [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32)]
    assert found.octave == (9, 16) and not found.still_falling  # 5-8 still holds n = 5, above the floor
    assert relation(claim) == "within noise" and agrees(claim, say(claim))
    assert say(claim).startswith("f's loss falls no further beyond noise from tokens 9–16 of the context on")


def test_a_loss_that_falls_to_the_end_is_said_to_still_fall():
    n = np.arange(1, 33)
    found, claim = plateau(_curve(3.0 - 0.2 * np.log2(n)), "planted")
    assert found.still_falling and found.octave == (9, 16)  # the change shown from the octave before the last
    assert relation(claim) == "below" and agrees(claim, say(claim))
    assert say(claim).startswith("f's loss still falls at the end of the context")


def test_one_seed_gives_no_plateau():
    assert plateau(_curve(np.linspace(3, 2, 32), seeds=1), "planted") is None


@pytest.mark.parametrize(("estimate", "lo", "hi", "undecided", "said"), [
    (-0.4, -1.5, 0.8, False, "falls no further beyond noise from tokens 9–16"), (2.0, 0.5, 3.5, False, "it is above that by"),
    (-6.0, -8.0, -4.0, False, "still falls at the end"), (-1.0, -2.0, -0.01, True, "is undecided")])
def test_every_relation_of_a_plateau_claim_is_said_in_words_its_interval_allows(estimate, lo, hi, undecided, said):
    claim = Claim(statistic="context", quantity="context plateau", subject="gru", estimate=estimate, lo=lo, hi=hi,
                  unit="percent", null=0.0, scope="planted", undecided=undecided,
                  at={"octave": "tokens 9–16", "last": "tokens 33–64", "first_token": 9})
    assert said in say(claim) and agrees(claim, say(claim))
    held = say(dataclasses.replace(claim, lo=-1.0, hi=1.0, undecided=False))  # the words of an interval holding 0
    assert agrees(claim, held) == (lo <= 0 <= hi and not undecided)
