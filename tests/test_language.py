"""Next-token prediction (docs/language.md): the task kind, the causal families, the byte-level text
corpus and MQAR's language-model form.

Every family's causality is a case of the architecture matrix (`arch_checks.check_causal`, run on every
registered family by tests/test_architectures.py); here, that the check fails where a family's mask is
taken away, and the harness's loss and evaluation over scored positions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax
from test_checkpoint import Killed, KilledAfter

import architectures
from architectures import layers, mixer, mlp, transformer
from benchmarks import data
from benchmarks.data import recall, text
from benchmarks.running import arch_checks, sizing, sweep
from benchmarks.running.checkpoint import RunCheckpoint
from benchmarks.running.programs import Model, TrainConfig, device_data, evaluate, loss_fn, position_losses
from benchmarks.running.runner import execute
from benchmarks.running.suite import load_suite
from benchmarks.running.train import train
from benchmarks.spec import ArchShape, RunRecord, RunSpec, TaskSpec, UserError

NEXT = arch_checks.NEXT_TOKENS


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------------------- the task kind


def test_a_next_token_task_reads_tokens_and_predicts_one_of_them():
    with pytest.raises(ValueError, match="num_classes == vocab_size"):
        TaskSpec("t", "tokens", (8,), 4, vocab_size=16, target="next_token")
    with pytest.raises(ValueError, match="num_classes == vocab_size"):
        TaskSpec("t", "signal1d", (8, 1), 16, target="next_token")
    assert not TaskSpec("t", "tokens", (8,), 4, vocab_size=16).causal  # a class per example unless said


def test_loss_and_evaluation_are_the_mean_cross_entropy_over_scored_positions():
    model = Model.create("linear", NEXT, ArchShape(0, 1, 0))
    params = model.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    x = rng.integers(0, NEXT.vocab_size, (5, 24)).astype(np.int32)
    y = rng.integers(0, NEXT.vocab_size, (5, 24)).astype(np.int32)
    y[rng.random(y.shape) < 0.5] = -1  # not scored
    cfg = TrainConfig(batch_size=2, eval_every=1, warmup_frac=0.0, weight_decay=0.0, eval_batch=2)  # the last batch padded
    logp = log_softmax(np.asarray(model.apply(params, jnp.asarray(x), "float32"), np.float64), axis=-1)
    scored = y >= 0
    losses = -np.take_along_axis(logp, np.maximum(y, 0)[..., None], -1)[..., 0]
    want = losses[scored].mean()

    loss, acc = evaluate(model, cfg, params, jnp.asarray(x), jnp.asarray(y))
    assert float(loss) == pytest.approx(want, rel=1e-5)
    assert float(acc) == pytest.approx((logp.argmax(-1) == y)[scored].mean())
    assert float(loss_fn(model, "float32", params, jnp.asarray(x), jnp.asarray(y))) == pytest.approx(want, rel=1e-5)
    per_position, count = position_losses(model, cfg, params, jnp.asarray(x), jnp.asarray(y))
    assert (np.asarray(count) == scored.sum(0)).all()
    np.testing.assert_allclose(per_position, np.where(scored, losses, 0).sum(0) / scored.sum(0), rtol=1e-5)


# ---------------------------------------------------------------------------- causal families


def _bidirectional_attention(monkeypatch):
    monkeypatch.setattr(transformer.CausalSelfAttention, "attend", staticmethod(jax.nn.dot_product_attention))


def _centred_convolutions(monkeypatch):
    original = layers.conv_patches

    def centred(x, kernel, strides, padding, dilation=None):
        return original(x, kernel, strides, "SAME" if padding == "CAUSAL" else padding, dilation)

    monkeypatch.setattr(layers, "conv_patches", centred)
    monkeypatch.setattr(mlp, "conv_patches", centred)


def _upper_triangle(monkeypatch):
    monkeypatch.setattr(mixer, "lower_triangle", lambda n: np.tril_indices(n)[::-1])


MASK_REMOVED = {"transformer": _bidirectional_attention, "convnet": _centred_convolutions,
                "mlp": _centred_convolutions, "mixer": _upper_triangle}


@pytest.mark.parametrize("arch", MASK_REMOVED)
def test_the_causality_check_fails_where_the_family_loses_its_mask(arch, monkeypatch):
    arch_checks.check_causal(arch)  # as built: causal
    MASK_REMOVED[arch](monkeypatch)
    with pytest.raises(arch_checks.CheckFailed, match="not causal"):
        arch_checks.check_causal(arch)


def test_a_family_that_cannot_be_causal_is_one_line_naming_it():
    with pytest.raises(sizing.TaskUnsupported, match=r"^bigru reads the sequence backwards too: .*\(use gru\)$"):
        sizing.solve("bigru", NEXT, 10_000)
    with pytest.raises(sizing.TaskUnsupported, match=r"^convnet\?head=dense reads every position at once"):
        sizing.solve("convnet?head=dense", NEXT, 10_000)


def test_a_context_longer_than_a_family_reads_is_refused_and_a_recurrence_takes_any():
    long = TaskSpec("long", "tokens", (1024,), 16, vocab_size=16, target="next_token")
    with pytest.raises(sizing.TaskUnsupported, match=r"^transformer reads at most 512 positions .* long asks for 1024"):
        sizing.solve("transformer", long, 100_000)
    assert abs(sizing.solve("gru", long, 10_000).deviation) <= 0.02


def test_the_mixer_counts_only_the_weights_its_causal_mixing_can_use():
    shape = ArchShape(8, 2, 16)
    token_mixing = sum(math.prod(dims) for path, dims in sizing.param_shapes("mixer", NEXT, shape) if "token_mlp" in path)
    length = NEXT.input_shape[0]
    assert token_mixing == 2 * (length * (length + 1) // 2 + length)  # per block: the lower triangle and a bias


# ---------------------------------------------------------------------------- text


DOCS = {f"doc{i}": f"text of document {i}. " * (i + 1) for i in range(30)}


def test_every_document_goes_whole_to_one_split_and_the_held_out_splits_keep_to_their_shares():
    texts = text.split_documents(DOCS)
    for body in DOCS.values():
        assert sum((body.encode() + text.END_OF_DOCUMENT) in texts[s] for s in text.SPLITS) == 1
    total = sum(map(len, texts.values()))
    for split, share in (("test", text.TEST_SHARE), ("val", text.VAL_SHARE)):
        assert share / 2 * total < len(texts[split]) <= share * total, split
    assert len(texts["train"]) >= 0.8 * total


def test_windows_predict_each_token_from_the_ones_before_it_and_nest():
    corpus = bytes(range(1, 101))
    x, y = text.windows(corpus, 8)
    assert x.shape == y.shape == (12, 8)  # (100 - 1) // 8 windows
    assert (y[:, :-1] == x[:, 1:]).all() and (y[:-1, -1] == x[1:, 0]).all()
    assert (text.windows(corpus[: 5 * 8 + 1], 8)[0] == x[:5]).all()  # 5 windows: the first 41 bytes


def test_pydoc_is_byte_text_in_its_order_and_its_version_holds_the_text_hash():
    splits = data.load("pydoc?context=64")
    assert splits.task.causal and splits.task.vocab_size == 256 and splits.task.input_shape == (64,)
    assert (splits.y_train[:, :-1] == splits.x_train[:, 1:]).all()
    assert (splits.y_train[:-1, -1] == splits.x_train[1:, 0]).all()  # the windows follow the text: nested prefixes
    assert splits.max_train_size > 4 * len(splits.y_test) > 0  # about 80% of the text trains, 10% tests
    topics = text._pydoc_topics()
    assert text.corpus_version(topics) in data.info("pydoc").version
    assert text.corpus_version({**topics, "assert": topics["assert"] + "!"}) != text.corpus_version(topics)
    assert text.bits(math.log(2)) == pytest.approx(1.0)


@pytest.mark.parametrize(("name", "pattern"), [
    ("pydoc?context=100000", r"^pydoc: a context of 100,000 tokens is longer than its (test|val) text"),
    ("pydoc?context=0", r"^pydoc: context must be at least 1 token"),
])
def test_a_corpus_too_short_for_the_context_is_one_line(name, pattern):
    with pytest.raises(UserError, match=pattern):
        data.task(name)


def _write_documents(folder, documents):
    for name, body in documents.items():
        (folder / name).write_text(body)


def test_your_text_files_are_a_corpus_split_by_file_and_known_by_their_content(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    documents = {f"{name}.txt": body for name, body in DOCS.items()}
    _write_documents(folder, documents)
    splits = data.load(f"text:{folder}?context=16")
    assert splits.task.causal and splits.task.input_shape == (16,) and len(splits.y_test) > 0
    train_text = text.split_documents(documents)["train"]
    assert bytes(splits.x_train[:3].astype(np.uint8).reshape(-1)) == train_text[:48]  # the text in its order, as bytes
    before = data.version(f"text:{folder}?context=16")
    (folder / "doc3.txt").write_text("another text")
    assert data.version(f"text:{folder}?context=16") != before


def test_a_folder_without_text_or_with_a_file_that_is_not_utf8_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"holds no \.txt file"):
        data.load(f"text:{tmp_path}")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    with pytest.raises(UserError, match=r"bad\.txt is not UTF-8 text"):
        data.load(f"text:{tmp_path}")


# ---------------------------------------------------------------------------- MQAR, language-model form


def test_recall_in_language_model_form_scores_every_answer_on_the_same_sequences():
    opts = {"pairs": 8, "queries": 4, "keys": 16, "values": 8, "seed": 0}
    x, label = recall.generate(50, split="test", **opts)
    x_all, y_all = recall.generate(50, split="test", positions="all", **opts)
    queries = np.arange(2 * opts["pairs"] + 1, x.shape[1], 2)
    assert (x_all == x).all() and len(queries) == opts["queries"]
    assert (y_all[:, queries[:-1]] == x[:, queries[:-1] + 1]).all()  # each answer is the value after its query
    assert (y_all[:, queries[-1]] == recall.KEY0 + opts["keys"] + label).all()  # the last: the classification label
    assert (np.delete(y_all, queries, axis=1) == -1).all()
    task = data.task("recall?positions=all&pairs=8&keys=16&values=8")
    assert task.causal and task.num_classes == task.vocab_size == 2 + 16 + 8


def test_recall_at_its_defaults_keeps_the_data_version_it_had_before_positions():
    assert data.version("recall") == "recall-e7a7da2072a8"  # measured on the commit before `positions`


# ---------------------------------------------------------------------------- through the harness


def test_a_next_token_run_trains_through_the_harness_and_beats_a_uniform_guess():
    spec = RunSpec(arch="linear", dataset="pydoc?context=32", target_params=65_536, data_size=400, seeds=(0,),
                   steps=100, batch_size=32, eval_every=50, lr=0.1, warmup_frac=0.1)
    record = execute(spec)
    (seed,) = record.seeds
    assert record.status == "ok" and record.params == 256 * 256  # a bigram table: a row per byte
    assert seed.test_loss < math.log(256) - 1.5  # a uniform guess is ln 256 = 5.55 nats a byte
    # the loss at each position of the context at the scored checkpoint: every window scores all 32, so their
    # mean is the test loss; a bigram reads one byte, so it is no better late in the context than early on
    assert len(seed.test_position_loss) == 32
    assert np.mean(seed.test_position_loss) == pytest.approx(seed.test_loss, rel=1e-5)
    assert max(seed.test_position_loss) - min(seed.test_position_loss) < 0.5
    assert RunRecord.from_dict(json.loads(record.to_json())).seeds == record.seeds


def test_a_classification_record_has_no_position_losses_and_keeps_its_bytes():
    lines = (Path(__file__).parents[1] / "results/reference/quick/runs.jsonl").read_text().splitlines()
    for line in lines:
        record = RunRecord.from_dict(json.loads(line))
        assert all(s.test_position_loss is None for s in record.seeds)
        assert record.to_json() == line


def _token_view(n: int = 64) -> data.TrainingView:
    """Random next-token windows of NEXT's shape: the loss at each position is any number, so the test of a
    resume below compares figures that differ across positions and members."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, NEXT.vocab_size, (3 * n, NEXT.input_shape[0])).astype(np.int32)
    y = np.roll(x, -1, axis=1)
    return data.TrainingView(NEXT, x[:n], y[:n], x[n:2 * n], y[n:2 * n], x[2 * n:], y[2 * n:])


@pytest.mark.parametrize("test_every_eval", [True, False])
def test_position_losses_are_a_curve_per_member_that_a_resumed_run_restores(tmp_path, test_every_eval):
    model = Model.create("mlp", NEXT, ArchShape(8, 1, 16))
    cfg = TrainConfig(batch_size=8, eval_every=5, warmup_frac=0.0, weight_decay=0.0, test_every_eval=test_every_eval)
    device = device_data(_token_view())

    def run(checkpoint=None):
        return train(model, cfg, device, seeds=[0, 1], lrs=[1e-2, 3e-2], n_train=[64, 64], steps=20,
                     checkpoint=checkpoint, pack=1)

    whole = run()
    curve = whole.curves["test_position_loss"]
    assert curve.shape == (2, 4, 24)
    scored = np.isfinite(whole.curves["test_loss"])  # where the test split was evaluated
    np.testing.assert_allclose(curve[scored].mean(axis=1), whole.curves["test_loss"][scored], rtol=1e-5)
    assert np.isnan(curve[~scored]).all()
    with pytest.raises(Killed):
        run(KilledAfter(tmp_path / "ck", interval=2))
    checkpoint = RunCheckpoint(tmp_path / "ck", every_s=0.0, run_id="r")
    resumed = run(checkpoint)
    assert checkpoint.restored_from == 2
    np.testing.assert_array_equal(resumed.curves["test_position_loss"], curve)


def test_the_non_embedding_count_leaves_out_the_token_and_position_tables_alone():
    shape = ArchShape(8, 2, 16)
    tables = NEXT.vocab_size * 8 + NEXT.input_shape[0] * 8  # token embedding and learned positions, width 8
    count = sizing.count_params("transformer", NEXT, shape)
    assert sizing.non_embedding_params("transformer", NEXT, shape) == count - tables
    assert sizing.non_embedding_params("linear", NEXT, shape) == 0  # a bigram is its table


def test_the_language_suite_runs_every_causal_family_of_the_wildcard_and_the_bigram_at_3_sizes_budgets_and_seeds():
    suite = load_suite("language")
    specs = suite.run_specs()
    assert {s.arch for s in specs} == {*architectures.wildcard_names(), "linear"}
    assert (len(suite.target_params), len(suite.data_sizes), len(suite.seeds)) == (3, 3, 3)
    sweep.check(specs)  # every family sizes on the corpus, and the corpus holds every budget
    assert {s.arch for s in load_suite("language-gpu").run_specs()} == set(architectures.names()) - {"bigru"}
