"""Text for next-token prediction: byte-level corpora, split by document, cut into windows.

A corpus is a set of named documents. Each document goes whole to one split: in the order of
the SHA-256 of their names, a document goes to the test split if it still fits in `TEST_SHARE` of
the corpus's bytes, else to the validation split if it fits in `VAL_SHARE`, else to the training
text (so each held-out split holds at most its share, and a large document trains).
No window of held-out text comes from a document the model trained on.

Each split's documents are joined in that order, each followed by byte 0 (end of document: it
never occurs in text), and cut into windows of `context` tokens: example i holds tokens
[i·L, (i+1)·L) as input and the same shifted by one, [i·L + 1, (i+1)·L], as its labels (L =
context), so every token of the text is predicted once, from the tokens before it in its window.
The training set of n examples is the first n·L + 1 tokens of the training text: data sizes are
nested prefixes of the text, and a run's training tokens are data_size × context.

Tokens are the bytes of the UTF-8 text (vocabulary 256), so a loss per token is a loss per byte:
bits per byte = nats / ln 2 (`bits`), bits per character for ASCII text.

`pydoc`: the standard library's `pydoc_data.topics`, the text of `help()`'s topics from the
Python documentation (79 documents under Python 3.11, about 465k characters of English prose with
code examples), offline and with no package to install. Its text differs between Python versions:
the SHA-256 of the corpus enters the dataset's version, so another Python's text is another data
version (other run ids), never a silent change.

`text:PATH`: your own text, every `*.txt` file under the folder PATH a document (UTF-8), split and
cut the same way; as for any files of yours, their content is in the data version
(`benchmarks.data.content`). A corpus saved from the hub (tiny_shakespeare, TinyStories, wikitext)
is read this way once its documents are written out as text files.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmarks.data import Layout, register_dataset
from benchmarks.spec import Splits, TaskSpec, UserError

VOCAB = 256  # bytes
END_OF_DOCUMENT = b"\x00"
TEST_SHARE, VAL_SHARE = 0.1, 0.1  # of the corpus's bytes, whole documents each
SPLITS = ("train", "val", "test")


def bits(nats: float) -> float:
    """A cross-entropy in nats as bits (per token: per byte here)."""
    return nats / math.log(2)


def split_documents(documents: Mapping[str, str], shares: Sequence[tuple[str, float]] = (("test", TEST_SHARE),
                    ("val", VAL_SHARE)), rest: str = "train") -> dict[str, bytes]:
    """The text of each split, whole documents each (module docstring): in the order of the SHA-256 of their names,
    a document goes to the first split of `shares` that it keeps within its share of the bytes, else to `rest`.
    By default {"train", "val", "test"} -> bytes."""
    order = sorted(documents, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    encoded = {name: documents[name].encode() + END_OF_DOCUMENT for name in order}
    total = sum(map(len, encoded.values()))
    parts: dict[str, list[bytes]] = {split: [] for split in (rest, *(s for s, _ in shares))}
    held = dict.fromkeys(parts, 0)
    for name in order:
        size = len(encoded[name])
        fits = [s for s, share in shares if held[s] + size <= share * total]
        split = fits[0] if fits else rest
        parts[split].append(encoded[name])
        held[split] += size
    return {split: b"".join(texts) for split, texts in parts.items()}


def windows(text: bytes, context: int) -> tuple[np.ndarray, np.ndarray]:
    """(x_NxL, y_NxL) int32: the N = (len(text) - 1) // L windows of L = context tokens, y = x shifted by one."""
    ids = np.frombuffer(text, np.uint8).astype(np.int32)
    n = max(0, (len(ids) - 1) // context)
    return ids[: n * context].reshape(n, context), ids[1 : n * context + 1].reshape(n, context)


def corpus_version(documents: Mapping[str, str]) -> str:
    """The first 12 hex digits of the SHA-256 of the corpus (documents in name order, names included)."""
    digest = hashlib.sha256()
    for name in sorted(documents):
        digest.update(name.encode() + END_OF_DOCUMENT + documents[name].encode() + END_OF_DOCUMENT)
    return digest.hexdigest()[:12]


def text_task(name: str, context: int) -> TaskSpec:
    return TaskSpec(name=name, input_kind="tokens", input_shape=(context,), num_classes=VOCAB, vocab_size=VOCAB,
                    target="next_token")


def text_layout(name: str, texts: Mapping[str, bytes], context: int) -> Layout:
    """The windows each split holds at `context`; a context that leaves a split without one is a UserError."""
    if context < 1:
        raise UserError(f"{name}: context must be at least 1 token, got {context}")
    counts = {split: max(0, (len(texts[split]) - 1) // context) for split in SPLITS}
    short = [split for split in SPLITS if counts[split] < 1]
    if short:
        raise UserError(f"{name}: a context of {context:,} tokens is longer than its {short[0]} text "
                        f"({len(texts[short[0]]):,} tokens)")
    return Layout(task=text_task(name, context), train=counts["train"], val=counts["val"], test=counts["test"])


def text_splits(name: str, texts: Mapping[str, bytes], context: int) -> Splits:
    layout = text_layout(name, texts, context)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (windows(texts[s], context) for s in SPLITS)
    return Splits(layout.task, x_train, y_train, x_val, y_val, x_test, y_test, version="")


# ---------------------------------------------------------------------------- pydoc


@functools.cache
def _pydoc_topics() -> dict[str, str]:
    from pydoc_data.topics import topics

    return dict(topics)


@functools.cache
def _pydoc_texts() -> dict[str, bytes]:
    return split_documents(_pydoc_topics())


@register_dataset(
    "pydoc",
    description="Python's help() topics (stdlib pydoc_data): English prose as bytes, next-token prediction, "
                "split by topic",
    version=f"2-{corpus_version(_pydoc_topics())}",  # the text differs between Python versions
    layout=lambda context: text_layout("pydoc", _pydoc_texts(), context),
    options={"context": 128},
)
def prepare(context: int) -> Splits:
    return text_splits("pydoc", _pydoc_texts(), context)


# ---------------------------------------------------------------------------- your text files


def read_documents(path: str) -> dict[str, str]:
    """Every `*.txt` under the folder `path`, each a document named by its path inside the folder."""
    root = Path(path)
    files = sorted(root.rglob("*.txt")) if root.is_dir() else []
    if not files:
        raise UserError(f"text:{path} holds no .txt file (a folder of UTF-8 text files, one document each)")
    documents = {}
    for file in files:
        try:
            documents[file.relative_to(root).as_posix()] = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise UserError(f"text:{path}: {file.relative_to(root)} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return documents


@register_dataset(
    "text",
    description="your text: every PATH/**/*.txt a document, as bytes, next-token prediction, split by document",
    takes_path=True,
    options={"context": 128},
)
def prepare_files(path: str, context: int) -> Splits:
    return text_splits(f"text:{path}", split_documents(read_documents(path)), context)
