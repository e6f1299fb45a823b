"""`mnist1d-fresh`: MNIST-1D drawn again from other seeds of the same generator (the same ten templates,
padding, translation, scaling, shear and noise), so no example is shared with `mnist1d`: the same task on
new data. The MNIST-1D paper carries its lottery tickets to freshly generated data this way
(`archbench tickets`, docs/tickets.md).

Seeds: test 1042, validation 1043, training chunks of 4,000 from 1044 on (`mnist1d` uses 42, 43, 44, ...).
Options: `train` (training pool size, default 8,000).
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import Layout, register_dataset
from benchmarks.data.mnist1d import CHUNK, TASK, TEST_SIZE, VAL_SIZE, _signals, make_dataset
from benchmarks.spec import Splits

SEED_OFFSET = 1000  # every seed of `mnist1d` plus this


def _layout(train: int) -> Layout:
    return Layout(task=TASK, train=train, val=VAL_SIZE, test=TEST_SIZE)


@register_dataset(
    "mnist1d-fresh",
    description="MNIST-1D generated from other seeds: the same task, no example shared with mnist1d",
    version="1",
    layout=_layout,
    options={"train": 8_000},
)
def prepare(train: int) -> Splits:
    x_test, y_test = make_dataset(seed=42 + SEED_OFFSET, num_samples=TEST_SIZE)
    x_val, y_val = make_dataset(seed=43 + SEED_OFFSET, num_samples=VAL_SIZE)
    chunks = [make_dataset(seed=44 + SEED_OFFSET + c, num_samples=CHUNK) for c in range(-(-train // CHUNK))]
    return Splits(
        task=TASK,
        x_train=_signals(np.concatenate([x for x, _ in chunks])[:train]),
        y_train=np.concatenate([y for _, y in chunks])[:train].astype(np.int32),
        x_val=_signals(x_val),
        y_val=y_val.astype(np.int32),
        x_test=_signals(x_test),
        y_test=y_test.astype(np.int32),
        version="",
    )
