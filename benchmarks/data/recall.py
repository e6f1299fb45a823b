"""Multi-query associative recall (MQAR; Arora et al. 2023, "Zoology"), scored at
the last query so that it is a sequence classification task.

The context binds `pairs` distinct keys to values; then `queries` distinct keys
from the context are asked, each of the first `queries - 1` followed by its
value (so a model that recalls in context can check itself), and the last
one left open:

    k1 v1 k2 v2 ... kP vP | q1 a1 q2 a2 ... qQ        label: the value bound to qQ

The label is the value's index, 0..values-1. Recalling it needs content-based
lookup over the whole context, which attention does in one layer and a
fixed-size state must compress: it separates architectures that the digit
tasks do not.

Tokens: 0 pad (unused: every sequence has length 2*pairs + 2*queries), 1 the
separator `|`, 2..keys+1 the keys, keys+2..keys+values+1 the values.

Generated procedurally and vectorised with numpy in chunks seeded by
(seed, split, chunk), so a split of n examples is a prefix of one of m > n.

Language-model form (`recall?positions=all`, Zoology's own): the same sequences, scored at every
query: the labels are the next token at each query's position (its value's token, the last one
included) and -1 elsewhere, and the logits are over the whole vocabulary at every position
(a next-token task, `TaskSpec.causal`: docs/language.md). The loss is the mean over the Q answers.

Options: `pairs` (default 32), `queries` (4), `keys` (128), `values` (32),
`train` (pool size, 100,000), `seed` (0). Example: `recall?pairs=64&keys=256`.
`positions` (`last`: the classification form; `all`: the language-model form).
`distinct` (0: each pair's value drawn with replacement from the `values`; 1: a sequence's values drawn without
replacement, so no two pairs share a value, as Zoology's `multiquery_ar` draws them; needs values >= pairs). With
repeated values the most frequent one is an informative guess that binds no key (`shortcut_accuracy`); with
distinct values that guess is worth only one over the pairs not yet asked.
`answers` (`shown`: each query but the last followed by its value; `hidden`: by the pad token instead, as in
Zoology's `multiquery_ar`, so that no answer rules a pair out; the labels are the same).
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import Layout, register_dataset
from benchmarks.data.quality import APPLIED_BY_LOAD
from benchmarks.spec import Splits, TaskSpec, UserError

PAD, SEP, KEY0 = 0, 1, 2
CHUNK = 8_192  # sequences per seeded chunk (fewer for large key vocabularies, to bound memory)
VAL_SIZE, TEST_SIZE = 2_000, 10_000
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2, "online": 3}  # online: the fresh examples of the online regime


POSITIONS = ("last", "all")  # scored at the last query (a class) or at every query (next tokens)
ANSWERS = ("shown", "hidden")  # each earlier query followed by its value, or by the pad token


def _task(pairs: int, queries: int, keys: int, values: int, positions: str = "last") -> TaskSpec:
    length, vocab = 2 * pairs + 2 * queries, 2 + keys + values
    if positions == "all":
        return TaskSpec(name="recall", input_kind="tokens", input_shape=(length,), num_classes=vocab, vocab_size=vocab,
                        target="next_token")
    return TaskSpec(name="recall", input_kind="tokens", input_shape=(length,), num_classes=values, vocab_size=vocab)


def _chunk_rows(keys: int) -> int:
    return max(1, min(CHUNK, 2**21 // keys))


def _chunk(rng: np.random.Generator, n: int, *, pairs: int, queries: int, keys: int, values: int,
           distinct: int = 0) -> tuple[np.ndarray, ...]:
    key_ids = np.argsort(rng.random((n, keys)), axis=1)[:, :pairs]  # distinct keys per sequence
    if distinct:
        value_ids = np.argsort(rng.random((n, values)), axis=1)[:, :pairs]  # distinct values per sequence
    else:
        value_ids = rng.integers(0, values, (n, pairs))
    asked = np.argsort(rng.random((n, pairs)), axis=1)[:, :queries]  # distinct pairs to ask about
    rows = np.arange(n)[:, None]
    q_keys, q_values = key_ids[rows, asked], value_ids[rows, asked]

    tokens = np.empty((n, 2 * pairs + 2 * queries), np.int32)
    tokens[:, 0 : 2 * pairs : 2] = KEY0 + key_ids
    tokens[:, 1 : 2 * pairs : 2] = KEY0 + keys + value_ids
    tokens[:, 2 * pairs] = SEP
    tokens[:, 2 * pairs + 1 :: 2] = KEY0 + q_keys
    tokens[:, 2 * pairs + 2 :: 2] = KEY0 + keys + q_values[:, :-1]
    return tokens, q_values[:, -1].astype(np.int32)


def answers_at_every_query(tokens_NxL: np.ndarray, label_N: np.ndarray, *, pairs: int, keys: int) -> np.ndarray:
    """The language-model form's labels_NxL: at each query's position the token that answers it (the value
    after it; for the last query, its label's value token), -1 at every other position."""
    queries_at = np.arange(2 * pairs + 1, tokens_NxL.shape[1], 2)
    y_NxL = np.full(tokens_NxL.shape, -1, np.int32)
    y_NxL[:, queries_at[:-1]] = tokens_NxL[:, queries_at[:-1] + 1]
    y_NxL[:, queries_at[-1]] = KEY0 + keys + label_N
    return y_NxL


def generate(n: int, *, pairs: int, queries: int, keys: int, values: int, seed: int,
             split: str, positions: str = "last", distinct: int = 0,
             answers: str = "shown") -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of one split: (tokens_NxL int32, labels_N int32), or with `positions="all"` the
    same tokens and labels_NxL (`answers_at_every_query`). With `answers="hidden"` the token after each query
    is the pad token; the labels are those of the shown form."""
    rows = _chunk_rows(max(keys, values) if distinct else keys)
    chunks = [
        _chunk(np.random.default_rng([seed, SPLIT_STREAMS[split], c]), rows, pairs=pairs, queries=queries, keys=keys,
               values=values, distinct=distinct)
        for c in range(-(-n // rows))
    ]
    x, y = np.concatenate([x for x, _ in chunks])[:n], np.concatenate([y for _, y in chunks])[:n]
    if positions == "all":
        y = answers_at_every_query(x, y, pairs=pairs, keys=keys)
    if answers == "hidden":
        x[:, 2 * pairs + 2 :: 2] = PAD
    return x, y


def _layout(pairs: int, queries: int, keys: int, values: int, train: int, seed: int, positions: str,
            distinct: int = 0, answers: str = "shown") -> Layout:
    if not (1 <= queries <= pairs <= keys) or values < 2 or train < 1:
        raise UserError("recall needs 1 <= queries <= pairs <= keys, values >= 2 and train >= 1")
    if distinct not in (0, 1) or (distinct and values < pairs):
        raise UserError(f"recall: distinct must be 0 or 1, and distinct=1 needs values >= pairs; got distinct={distinct}, "
                        f"values={values}, pairs={pairs}")
    if positions not in POSITIONS:
        raise UserError(f"recall: positions must be one of {', '.join(POSITIONS)}, got {positions!r}")
    if answers not in ANSWERS:
        raise UserError(f"recall: answers must be one of {', '.join(ANSWERS)}, got {answers!r}")
    return Layout(task=_task(pairs, queries, keys, values, positions), train=train, val=VAL_SIZE, test=TEST_SIZE)


def online(n: int, *, pairs: int, queries: int, keys: int, values: int, seed: int,
           positions: str, distinct: int = 0, answers: str = "shown") -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of the online stream (benchmarks/data/online.py): a split of its own."""
    return generate(n, pairs=pairs, queries=queries, keys=keys, values=values, seed=seed, split="online",
                    positions=positions, distinct=distinct, answers=answers)


@register_dataset(
    "recall",
    description="Multi-query associative recall: value bound to the last queried key, as tokens (procedural; "
                "positions=all: every answer, next-token form)",
    version="1",
    layout=_layout,
    online=online,
    options={"pairs": 32, "queries": 4, "keys": 128, "values": 32, "train": 100_000, "seed": 0, "positions": "last",
             "distinct": 0, "answers": "shown"},
    knobs=APPLIED_BY_LOAD,
    later_options=("positions", "distinct", "answers"),
)
def prepare(pairs: int, queries: int, keys: int, values: int, train: int, seed: int, positions: str,
            distinct: int, answers: str) -> Splits:
    layout = _layout(pairs, queries, keys, values, train, seed, positions, distinct, answers)
    opts = {"pairs": pairs, "queries": queries, "keys": keys, "values": values, "seed": seed, "positions": positions,
            "distinct": distinct, "answers": answers}
    x_train, y_train = generate(train, split="train", **opts)
    x_val, y_val = generate(VAL_SIZE, split="val", **opts)
    x_test, y_test = generate(TEST_SIZE, split="test", **opts)
    return Splits(layout.task, x_train, y_train, x_val, y_val, x_test, y_test, version="")


def shortcut_accuracy(tokens_NxL: np.ndarray, labels_NxL: np.ndarray, *, pairs: int) -> float:
    """Expected accuracy over every answer (the language-model form) of a guess that binds no key to its value:
    the most frequent value among the pairs not yet asked about, ties split evenly. What a model that has only
    learnt which values are in the context, and which answers it has been shown, scores
    (docs/recall-investigation.md). With distinct values (`distinct=1`) every open value ties, so the guess is
    worth 1/(pairs not yet asked) at each query. A pair is ruled out only where its answer was shown: with
    `answers="hidden"` the guess is the most frequent value in the whole context at every query."""
    keys_NxP, values_NxP = tokens_NxL[:, 0 : 2 * pairs : 2], tokens_NxL[:, 1 : 2 * pairs : 2]
    queries_at = np.arange(2 * pairs + 1, tokens_NxL.shape[1], 2)
    total = 0.0
    for n in range(tokens_NxL.shape[0]):
        open_N = np.ones(pairs, bool)
        for t in queries_at:
            values, counts = np.unique(values_NxP[n, open_N], return_counts=True)
            best = values[counts == counts.max()]
            total += (labels_NxL[n, t] in best) / best.size
            if t + 1 < tokens_NxL.shape[1] and tokens_NxL[n, t + 1] != PAD:
                open_N &= keys_NxP[n] != tokens_NxL[n, t]
    return total / (tokens_NxL.shape[0] * queries_at.size)
