"""Text corpora from the Hugging Face Hub for next-token prediction, through `datasets.load_dataset`.

    tiny_shakespeare  karpathy/tiny_shakespeare                 about 1.1 MB: Shakespeare's plays, one text
    wikitext2         Salesforce/wikitext, wikitext-2-raw-v1    about 13 MB: Wikipedia good and featured articles
    wikitext103       Salesforce/wikitext, wikitext-103-raw-v1  about 540 MB (the first 100 MB train by default)
    tinystories       roneneldan/TinyStories                    about 1.9 GB of short stories (the first 50 MB)

Each is read as `pydoc` is (`benchmarks.data.text`): bytes of the UTF-8 text (vocabulary 256),
byte 0 after each document, windows of `context` bytes (option, default 128), and a training set
of n windows is the first n·context + 1 bytes of the training text (nested prefixes, in the
Hub's order). The splits are the Hub's own, whole documents each:

- `tiny_shakespeare`: the Hub's train, validation and test splits, each one row holding a
  contiguous part of the text (90/5/5%, cut by the dataset's authors): each split is one document.
- `wikitext2`, `wikitext103`: the Hub's train, validation and test splits, whose articles are
  apart by construction; the rows are lines, and a document is an article: it starts at a
  top-level heading line (` = Title = `).
- `tinystories`: each row is a story, a document. The Hub has train and validation splits only:
  training text is its train split; its validation split is cut in two by story, in the order of
  the SHA-256 of each story's index, into validation and test (half of its bytes each at most).

`max_train_bytes` (option) keeps the first that many bytes of training text (0: all of it); the
held-out splits are whole.

Pinned: each corpus loads one commit of its Hub repository (`revision`, an option: a branch name
such as `main` is not a pin), and its data version holds that commit and the options. Preparing
prints the SHA-256 of the text it made (every split, in order) and `datasets`' fingerprint of each
split, so two machines can check they hold the same bytes. Offline, a corpus in neither cache is
one line that says how to get it (`hub.load_from_hub`), like every hub dataset.

Before a download the window counts are estimates from the corpus's published sizes; once
prepared, `archbench datasets` shows the prepared counts.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.data import Layout
from benchmarks.data.hub import _load_dataset, load_from_hub, register_hub
from benchmarks.data.text import END_OF_DOCUMENT, SPLITS, split_documents, text_splits, text_task
from benchmarks.spec import Splits, UserError

DOCUMENTS = ("split", "article", "row")  # what a document is: a split's whole text, an article of lines, a row
ARTICLE = re.compile(r"^ = [^=].* = \s*$")  # a top-level heading of WikiText


@dataclass(frozen=True)
class HubCorpus:
    name: str
    hub_id: str
    revision: str  # the commit loaded (pinned)
    documents: str  # one of DOCUMENTS
    split_bytes: tuple[int, int, int]  # published bytes of train, validation, test (0: none; the layout's estimate)
    description: str
    config: str | None = None  # the `datasets` configuration
    data_files: Mapping[str, str] = field(default_factory=dict)  # split -> files in the repository, where needed
    max_train_bytes: int = 0  # default cap of the training text (0: all)

    @property
    def has_test(self) -> bool:
        """Whether the Hub gives a test split (else its validation split is cut in two: the module docstring)."""
        return self.split_bytes[2] > 0


CORPORA = {
    c.name: c
    for c in [
        HubCorpus("tiny_shakespeare", "karpathy/tiny_shakespeare", "54795ddc6936bb3fc688edc4427abea2006bfab2",
                  "split", (1_003_854, 55_770, 55_770),
                  "Tiny Shakespeare (karpathy/tiny_shakespeare): bytes, next-token prediction, the Hub's splits"),
        HubCorpus("wikitext2", "Salesforce/wikitext", "b08601e04326c79dfdd32d625aee71d232d685c3", "article",
                  (11_061_717, 1_159_288, 1_305_088),
                  "WikiText-2 raw (Salesforce/wikitext): bytes, next-token prediction, the Hub's splits by article",
                  config="wikitext-2-raw-v1"),
        HubCorpus("wikitext103", "Salesforce/wikitext", "b08601e04326c79dfdd32d625aee71d232d685c3", "article",
                  (546_500_949, 1_159_288, 1_305_088),
                  "WikiText-103 raw (Salesforce/wikitext): bytes, next-token prediction, the Hub's splits by article",
                  config="wikitext-103-raw-v1", max_train_bytes=100_000_000),
        HubCorpus("tinystories", "roneneldan/TinyStories", "f54c09fd23315a6f9c86f9dc80f725de7d8f9c64", "row",
                  (1_920_000_000, 19_400_000, 0),
                  "TinyStories (roneneldan/TinyStories): bytes, next-token prediction, split by story",
                  data_files={"train": "data/train-*.parquet", "validation": "data/validation-*.parquet"},
                  max_train_bytes=50_000_000),
    ]
}


def documents_of(lines: Sequence[str], documents: str) -> list[str]:
    """A split's rows as documents: all of them as one (`split`), articles from each top-level heading line on
    (`article`; lines before the first go with it), or each non-empty row (`row`)."""
    if documents == "split":
        return ["".join(lines)]
    if documents == "row":
        return [line for line in lines if line.strip()]
    out: list[list[str]] = [[]]
    for line in lines:
        if ARTICLE.match(line) and any(x.strip() for x in out[-1]):
            out.append([])
        out[-1].append(line)
    return ["".join(doc) for doc in out if any(x.strip() for x in doc)]


def joined(documents: Iterable[str]) -> bytes:
    return b"".join(doc.encode() + END_OF_DOCUMENT for doc in documents)


def corpus_texts(dd, corpus: HubCorpus, max_train_bytes: int) -> dict[str, bytes]:
    """The text of each split ({"train", "val", "test"} -> bytes) from the DatasetDict `dd` of the corpus."""
    need = ["train", "validation"] + (["test"] if corpus.has_test else [])
    missing = [s for s in need if s not in dd]
    if missing or "text" not in dd["train"].column_names:
        found = "; ".join(f"{s}: {' '.join(dd[s].column_names)}" for s in dd) or "none"
        raise UserError(f"{corpus.name}: needs splits {', '.join(need)} with a text column; found {found}")
    docs = {s: documents_of(dd[s]["text"], corpus.documents) for s in need}
    if corpus.has_test:
        held_out = {"val": joined(docs["validation"]), "test": joined(docs["test"])}
    else:  # the validation split cut in two by story, documents named by their index (module docstring)
        held_out = split_documents({str(i): doc for i, doc in enumerate(docs["validation"])},
                                   shares=(("test", 0.5),), rest="val")
    train = joined(docs["train"])
    return {"train": train[:max_train_bytes] if max_train_bytes > 0 else train, **held_out}


def pin_line(corpus: HubCorpus, revision: str, texts: Mapping[str, bytes], dd) -> str:
    """One line: the commit read, each split's `datasets` fingerprint, and the SHA-256 of the text made."""
    digest = hashlib.sha256(b"".join(texts[s] for s in SPLITS)).hexdigest()
    prints = ", ".join(f"{s} {getattr(dd[s], '_fingerprint', '?')}" for s in dd)
    sizes = ", ".join(f"{s} {len(texts[s]):,}" for s in SPLITS)
    return (f"{corpus.name}: {corpus.hub_id}{f' {corpus.config}' if corpus.config else ''} at {revision}; "
            f"datasets fingerprints {prints}; text SHA-256 {digest} (bytes: {sizes})")


def prepare_corpus(corpus: HubCorpus, *, context: int, max_train_bytes: int, revision: str,
                   data_dir: str | None = None) -> Splits:
    """Load the corpus from the Hub at `revision` (or, with `data_dir`, from local parquet files named by split,
    as the Hub's repositories hold them) and cut it into windows, as `pydoc` is."""
    if data_dir is not None:
        if not any(Path(data_dir).rglob("*.parquet")):
            raise UserError(f"{corpus.name}: {data_dir} holds no .parquet files (train*, validation*, test*)")
        dd = _load_dataset("parquet", data_dir=data_dir)
    else:
        kwargs = {"revision": revision} | ({"data_files": dict(corpus.data_files)} if corpus.data_files else {})
        dd = load_from_hub(corpus.name, corpus.hub_id, **({"name": corpus.config} if corpus.config else {}), **kwargs)
    texts = corpus_texts(dd, corpus, max_train_bytes)
    print(f"archbench: {pin_line(corpus, revision if data_dir is None else data_dir, texts, dd)}", file=sys.stderr)
    return text_splits(corpus.name, texts, context)


def estimated_layout(corpus: HubCorpus, context: int, max_train_bytes: int) -> Layout:
    """The windows of each split from the corpus's published sizes (before it is downloaded)."""
    if context < 1:
        raise UserError(f"{corpus.name}: context must be at least 1 token, got {context}")
    train, val, test = corpus.split_bytes
    if not corpus.has_test:
        val, test = val - val // 2, val // 2
    train = min(train, max_train_bytes) if max_train_bytes > 0 else train
    windows = lambda n: max(0, (n - 1) // context)
    return Layout(task=text_task(corpus.name, context), train=windows(train), val=windows(val), test=windows(test))


def _register(corpus: HubCorpus) -> None:
    register_hub(corpus.name, corpus.hub_id, corpus.description,
                 {"context": 128, "max_train_bytes": corpus.max_train_bytes, "revision": corpus.revision},
                 lambda context, max_train_bytes, revision: estimated_layout(corpus, context, max_train_bytes),
                 lambda **options: prepare_corpus(corpus, **options), corpus.config)


for _corpus in CORPORA.values():
    _register(_corpus)
