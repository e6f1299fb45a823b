"""Hub text corpora (`benchmarks/data/hub_text.py`): the Hub's splits read through `datasets.load_dataset` from
parquet files the tests write (the format the Hub's repositories hold), whole documents per split, nested
training prefixes, the pinned revision in the data version, and one line offline."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from benchmarks import data
from benchmarks.data import hub_text
from benchmarks.data.text import END_OF_DOCUMENT
from benchmarks.spec import UserError


def write_parquet(root, splits: dict[str, list[str]]) -> str:
    for split, rows in splits.items():
        datasets.Dataset.from_dict({"text": rows}).to_parquet(str(root / f"{split}-00000-of-00001.parquet"))
    return str(root)


def decoded(x_NxL, y_NxL) -> bytes:
    """The text a split's windows hold: every window's tokens, then the last label."""
    return bytes(np.concatenate([x_NxL.reshape(-1), y_NxL[-1:, -1]]).astype(np.uint8).tolist())


def test_tiny_shakespeare_reads_the_hubs_three_splits_each_one_document(tmp_path):
    text = {"train": "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20,
            "validation": "MENENIUS:\nEither you must confess yourselves wondrous malicious.\n" * 3,
            "test": "ROMEO:\nIs the day so young?\n" * 5}
    root = write_parquet(tmp_path, {s: [t] for s, t in text.items()})
    corpus = hub_text.CORPORA["tiny_shakespeare"]
    splits = hub_text.prepare_corpus(corpus, context=16, max_train_bytes=0, revision=corpus.revision, data_dir=root)
    assert splits.task.target == "next_token" and splits.task.vocab_size == 256
    for split, name in (("train", "train"), ("val", "validation"), ("test", "test")):
        x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
        whole = (text[name].encode() + END_OF_DOCUMENT)
        assert decoded(x, y) == whole[: len(x) * 16 + 1]  # its own text, in order, cut into windows
        assert np.array_equal(y[:, :-1], x[:, 1:])  # labels are the next byte


def test_training_sets_are_nested_prefixes_and_max_train_bytes_keeps_the_first_bytes(tmp_path):
    train = [f"line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(200)]
    root = write_parquet(tmp_path, {"train": ["".join(train)], "validation": ["held out " * 20],
                                    "test": ["tested " * 20]})
    corpus = hub_text.CORPORA["tiny_shakespeare"]
    whole = hub_text.prepare_corpus(corpus, context=32, max_train_bytes=0, revision="r", data_dir=root)
    capped = hub_text.prepare_corpus(corpus, context=32, max_train_bytes=2_000, revision="r", data_dir=root)
    assert len(capped.x_train) == (2_000 - 1) // 32 < len(whole.x_train)
    assert np.array_equal(capped.x_train, whole.x_train[: len(capped.x_train)])
    assert np.array_equal(capped.x_test, whole.x_test)  # held-out text is whole


def test_wikitext_documents_are_articles_from_each_top_level_heading():
    lines = ["", " = Valkyria Chronicles = \n", "", " Senjō no Valkyria is a game . \n", " = = Gameplay = = \n",
             " It is tactical . \n", " = Tower Building = \n", " The building is tall . \n"]
    docs = hub_text.documents_of(lines, "article")
    assert [d.splitlines()[1 if d.startswith("\n") else 0].strip() for d in docs] == [
        "= Valkyria Chronicles =", "= Tower Building ="]
    assert "Gameplay" in docs[0] and "tall" in docs[1]  # a subsection stays in its article


def test_wikitext_splits_hold_the_hubs_articles_each_ended_by_byte_0(tmp_path):
    article = lambda t, n: [f" = {t} = \n", *[f" {t} sentence {i} . \n" for i in range(n)]]
    root = write_parquet(tmp_path, {"train": article("A", 30) + article("B", 30), "validation": article("C", 10),
                                    "test": article("D", 10) + article("E", 10)})
    splits = hub_text.prepare_corpus(hub_text.CORPORA["wikitext2"], context=8, max_train_bytes=0, revision="r",
                                     data_dir=root)
    test = decoded(splits.x_test, splits.y_test)
    assert test.count(END_OF_DOCUMENT) == 1 and test.startswith(b" = D = \n")  # the last window ends before E's end
    assert b"C sentence" in decoded(splits.x_val, splits.y_val) and b"C sentence" not in test


def test_tinystories_cuts_its_validation_split_into_validation_and_test_by_story(tmp_path):
    stories = [f"Once upon a time story {i} had a cat named {i}." for i in range(40)]
    root = write_parquet(tmp_path, {"train": stories * 3, "validation": stories})
    texts = hub_text.corpus_texts(datasets.load_dataset("parquet", data_dir=root), hub_text.CORPORA["tinystories"],
                                  max_train_bytes=0)
    val = set(texts["val"].split(END_OF_DOCUMENT)) - {b""}
    test = set(texts["test"].split(END_OF_DOCUMENT)) - {b""}
    assert not val & test and val | test == {s.encode() for s in stories}  # whole stories, none in both
    assert len(texts["test"]) <= (len(texts["val"]) + len(texts["test"])) / 2


def test_a_corpus_without_the_splits_it_needs_is_a_user_error(tmp_path):
    root = write_parquet(tmp_path, {"train": ["only training text"]})
    with pytest.raises(UserError, match="tiny_shakespeare: needs splits train, validation, test"):
        hub_text.prepare_corpus(hub_text.CORPORA["tiny_shakespeare"], context=4, max_train_bytes=0, revision="r",
                                data_dir=root)


def test_the_pinned_revision_and_the_options_are_in_the_data_version():
    pinned = data.version("tiny_shakespeare")
    assert data.version("tiny_shakespeare?revision=main") != pinned
    assert data.version("tiny_shakespeare?context=64") != pinned
    assert data.info("tiny_shakespeare").options["revision"] == hub_text.CORPORA["tiny_shakespeare"].revision


def test_offline_a_corpus_in_no_cache_is_one_line_saying_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "archbench"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    with pytest.raises(UserError) as e:
        data.load("wikitext2?context=64")
    assert "archbench datasets --download wikitext2" in str(e.value) and "\n" not in str(e.value)


def test_the_listing_estimates_windows_before_a_download(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    d = data.describe("tinystories?context=64")
    assert (d["source"], d["available_offline"], d["target"], d["input_shape"]) == ("hub", False, "next_token", [64])
    assert d["max_train_size"] == (50_000_000 - 1) // 64 and d["val_size"] > 0 and d["test_size"] > 0


def test_one_configuration_in_the_cache_does_not_make_another_available(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    (tmp_path / "hf" / "Salesforce___wikitext" / "wikitext-2-raw-v1" / "0.0.0" / "abc").mkdir(parents=True)
    assert data.describe("wikitext2")["available_offline"]
    assert not data.describe("wikitext103")["available_offline"]
