"""ListOps (Nangia & Bowman 2018; the Long Range Arena version, Tay et al. 2021):
evaluate a nested list expression such as `[MAX 2 9 [MIN 4 7 ] 0 ]` -> 9.

Operators MAX, MIN, MED (median, rounded down) and SM (sum modulo 10) take 2 to
`args` arguments, each a digit or, above the maximum nesting `depth`, another
expression with probability 1/4 (LRA's generator). The root is always an
operator. An expression is kept if its length in tokens is between
`length // 4` and `length`; it is padded with 0 to `length`. The label is its
value, 0..9.

Generated procedurally and vectorised with numpy: trees grow one level at a
time for a few thousand expressions at once, values are reduced bottom-up by
group, token positions are assigned top-down. Chunks of candidates use seeds
(seed, split, chunk), so a split of n examples is a prefix of one of m > n.

Tokens: 0 pad, 1..10 the digits 0..9, 11..14 `[MAX` `[MIN` `[MED` `[SM`, 15 `]`.

Options: `length` (default 128), `depth` (4), `args` (10), `train` (pool size,
100,000), `seed` (0). Example: `listops?length=512&depth=6&args=8`.
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import Layout, register_dataset
from benchmarks.data.quality import APPLIED_BY_LOAD
from benchmarks.spec import Splits, TaskSpec, UserError

PAD, DIGIT0, OP0, CLOSE = 0, 1, 11, 15
VOCAB_SIZE = 16
OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
OP_PROB = 0.25  # below the root, a node is an operator with this probability (LRA's 1 - VALUE_P)
CANDIDATES = 4_096  # expressions drawn per chunk, before the length filter
VAL_SIZE, TEST_SIZE = 2_000, 10_000
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2, "online": 3}  # online: the fresh examples of the online regime


def _task(length: int) -> TaskSpec:
    return TaskSpec(name="listops", input_kind="tokens", input_shape=(length,), num_classes=10, vocab_size=VOCAB_SIZE)


def _group_median(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median (rounded down, as int(np.median)) of each contiguous group of digits 0..9."""
    group = np.repeat(np.arange(len(counts)), counts)
    histogram = np.bincount(group * 10 + values, minlength=len(counts) * 10).reshape(len(counts), 10)
    below = np.cumsum(histogram, axis=1)  # below[g, d]: how many values in group g are <= d
    lower = np.argmax(below > ((counts - 1) // 2)[:, None], axis=1)
    upper = np.argmax(below > (counts // 2)[:, None], axis=1)
    return (lower + upper) // 2


def _chunk(rng: np.random.Generator, *, length: int, depth: int, args: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw CANDIDATES expressions; return the tokens_NxL and values_N of those whose length fits."""
    # Grow the trees level by level. Level 0 holds the roots; a node's children are
    # contiguous in the next level, in order, grouped by parent.
    levels = []
    example = np.arange(CANDIDATES)
    for level in range(depth + 1):
        m = len(example)
        if level == 0:
            is_op = np.ones(m, bool)
        elif level < depth:
            is_op = rng.random(m) < OP_PROB
        else:
            is_op = np.zeros(m, bool)
        n_args = np.where(is_op, rng.integers(2, args + 1, m), 0)
        node = {"example": example, "is_op": is_op, "n_args": n_args,
                "op": rng.integers(0, len(OPERATORS), m), "digit": rng.integers(0, 10, m)}
        levels.append(node)
        parent = np.repeat(np.arange(m), n_args)
        example = example[parent]
        node["children_of"] = parent

    # Values and sizes (in tokens), bottom-up.
    for level in reversed(range(depth + 1)):
        node = levels[level]
        node["value"] = node["digit"].copy()
        node["size"] = np.ones(len(node["is_op"]), np.int64)
        ops = np.flatnonzero(node["is_op"])
        if len(ops) == 0:
            continue
        child = levels[level + 1]
        counts = node["n_args"][ops]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        v = child["value"]
        results = np.stack([
            np.maximum.reduceat(v, starts),
            np.minimum.reduceat(v, starts),
            _group_median(v, counts),
            np.add.reduceat(v, starts) % 10,
        ])
        node["value"][ops] = results[node["op"][ops], np.arange(len(ops))]
        node["size"][ops] = 2 + np.add.reduceat(child["size"], starts)
        node["starts"] = starts

    total = levels[0]["size"]
    keep = (total <= length) & (total >= length // 4)
    row = np.cumsum(keep) - 1  # output row of each kept expression
    tokens = np.full((int(keep.sum()), length), PAD, np.int32)

    # Token positions, top-down: a child starts after its parent's operator token
    # and its earlier siblings.
    levels[0]["start"] = np.zeros(CANDIDATES, np.int64)
    for level, node in enumerate(levels):
        start, size, is_op = node["start"], node["size"], node["is_op"]
        kept = keep[node["example"]]
        r = row[node["example"]]
        op_at, leaf_at = kept & is_op, kept & ~is_op
        tokens[r[op_at], start[op_at]] = OP0 + node["op"][op_at]
        tokens[r[op_at], start[op_at] + size[op_at] - 1] = CLOSE
        tokens[r[leaf_at], start[leaf_at]] = DIGIT0 + node["digit"][leaf_at]
        if level + 1 < len(levels) and len(node["children_of"]):
            child = levels[level + 1]
            before = np.cumsum(child["size"]) - child["size"]  # sizes of everything earlier in the level
            first = np.repeat(before[node["starts"]], node["n_args"][is_op])
            child["start"] = start[node["children_of"]] + 1 + before - first
    return tokens, levels[0]["value"][keep].astype(np.int32)


def generate(n: int, *, length: int, depth: int, args: int, seed: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of one split: (tokens_NxL int32, labels_N int32)."""
    xs, ys, have, chunk = [], [], 0, 0
    while have < n:
        x, y = _chunk(np.random.default_rng([seed, SPLIT_STREAMS[split], chunk]), length=length, depth=depth,
                      args=args)
        xs.append(x)
        ys.append(y)
        have += len(y)
        chunk += 1
        if chunk >= 20 and (have == 0 or n / have * chunk > 2_000):  # would take minutes: say so instead
            raise UserError(f"listops expressions with depth={depth}, args={args} rarely fit in length={length} "
                            f"({have:,} of {chunk * CANDIDATES:,} did): raise length or lower depth/args")
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _check(length: int, depth: int, args: int, train: int) -> None:
    if length < 8 or depth < 1 or args < 2 or train < 1:
        raise UserError("listops needs length >= 8, depth >= 1, args >= 2, train >= 1")


def _layout(length: int, depth: int, args: int, train: int, seed: int) -> Layout:
    _check(length, depth, args, train)
    return Layout(task=_task(length), train=train, val=VAL_SIZE, test=TEST_SIZE)


def online(n: int, *, length: int, depth: int, args: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of the online stream (benchmarks/data/online.py): a split of its own."""
    return generate(n, length=length, depth=depth, args=args, seed=seed, split="online")


@register_dataset(
    "listops",
    description="ListOps (LRA): value of a nested MAX/MIN/MED/SM expression, as tokens (procedural)",
    version="1",
    layout=_layout,
    online=online,
    options={"length": 128, "depth": 4, "args": 10, "train": 100_000, "seed": 0},
    knobs=APPLIED_BY_LOAD,
)
def prepare(length: int, depth: int, args: int, train: int, seed: int) -> Splits:
    _check(length, depth, args, train)
    opts = {"length": length, "depth": depth, "args": args, "seed": seed}
    x_train, y_train = generate(train, split="train", **opts)
    x_val, y_val = generate(VAL_SIZE, split="val", **opts)
    x_test, y_test = generate(TEST_SIZE, split="test", **opts)
    return Splits(_task(length), x_train, y_train, x_val, y_val, x_test, y_test, version="")


def detokenize(tokens: np.ndarray) -> str:
    """One example as text, for reading and for tests."""
    words = {DIGIT0 + d: str(d) for d in range(10)} | {OP0 + i: op for i, op in enumerate(OPERATORS)} | {CLOSE: "]"}
    return " ".join(words[int(t)] for t in tokens if t != PAD)
