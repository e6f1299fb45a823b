"""The online regime: every training example fresh, never repeated (the regime of large-scale pre-training).

A procedural dataset declares `register_dataset(..., online=generate)`: `generate(n, **options)` returns
the first n examples of an endless stream of training examples drawn from the same generator as its
finite splits, with seeds of their own (so the stream shares no draws with the training pool, the
validation split or the test split), each prefix of a longer one. A run in the online regime trains seed
s on slice s of that stream, `[s·n, (s+1)·n)` with n = steps × batch size, and reads it in order, one
minibatch after the next (`benchmarks.running.programs.online_indices`): each of its examples is seen
exactly once, and a seed sees the same examples whether it trains alone or beside others.

Inputs are standardised with the statistics of the stream's first n examples (whatever the seeds), and
validated and tested on the dataset's usual validation and test splits.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

from benchmarks.data import TrainingView, names, parse, standardised
from benchmarks.spec import Splits, UserError

_STREAMS: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per dataset name: the longest prefix generated


def online_datasets() -> list[str]:
    """The registered datasets that can generate fresh training examples without end."""
    return [n for n in names() if parse(n).info.online is not None]


def check_online(name: str) -> None:
    """UserError unless the dataset can train in the online regime."""
    if parse(name).info.online is None:
        raise UserError(f"dataset {name} cannot train online: only a procedural dataset generates a fresh example "
                        f"for every step ({', '.join(online_datasets())}); use regime = \"finite\"")


def stream(name: str, n: int, at_least: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of the dataset's online stream (x_N raw, as its loader makes them; y_N int32).
    Generated once per process where it can: `at_least` examples are kept for the next calls (a sweep asks
    for its largest run's stream at once)."""
    check_online(name)
    have = _STREAMS.get(name)
    if have is None or len(have[1]) < n:
        ref = parse(name)
        accepted = set(inspect.signature(ref.info.online).parameters) - {"n"}
        options = {k: v for k, v in ref.options.items() if k in accepted}  # the pool size does not shape the stream
        other = {k: v for k, v in ref.options.items() if k not in accepted and k != "train" and v != ref.info.options[k]}
        if other:  # e.g. a quality knob: it shapes the finite pool, not the generator's stream
            raise UserError(f"dataset {name} cannot train online with {', '.join(f'{k}={v}' for k, v in other.items())}: "
                            "the online stream is the generator's own; use regime = \"finite\"")
        x, y = ref.info.online(max(n, at_least), **options)
        if len(y) < max(n, at_least):
            raise AssertionError(f"{name}: the online generator gave {len(y)} of {max(n, at_least)} examples")
        _STREAMS.clear()  # one stream at a time: they can be large
        have = _STREAMS[name] = (x, y.astype(np.int32))
    return have[0][:n], have[1][:n]


def online_view(splits: Splits, name: str, n: int, seeds: Sequence[int],
                at_least: int = 0) -> tuple[TrainingView, list[int]]:
    """What a run of these seeds trains on: each distinct seed's slice of n fresh examples, in the order
    of first appearance, with the validation and test splits of `splits`; and each seed's first row."""
    distinct = list(dict.fromkeys(seeds))
    x, y = stream(name, (max(distinct) + 1) * n, at_least)
    x_train = np.concatenate([x[s * n:(s + 1) * n] for s in distinct])
    y_train = np.concatenate([y[s * n:(s + 1) * n] for s in distinct])
    x_train, x_val, x_test = standardised(splits.task, x[:n], x_train, splits.x_val, splits.x_test)
    view = TrainingView(splits.task, x_train, y_train, x_val, splits.y_val, x_test, splits.y_test)
    return view, [distinct.index(s) * n for s in seeds]
