"""Quality knobs of the training data: dataset options that corrupt or narrow the training pool only.

    label_noise=F   a fraction F in [0, 1) of the training pool's labels replaced by another class,
                    drawn uniformly (the validation and test splits stay clean)
    diversity=K     the training pool drawn from its first K examples alone, repeated in order
                    (0: every example distinct, the default)
    input_noise=S   mnist1d: the generator's noise scales (correlated and iid) times S, in the training
                    pool only (1: the paper's, the default; 0: no noise)

They are options like any other (`mnist1d?label_noise=0.1&diversity=500`), so they enter the cache
key and the run id; at their defaults they are left out of both, so the runs of every dataset
before these knobs existed keep their ids. `label_noise` and `diversity` are applied by
`benchmarks.data.load` to the prepared, ordered pool (any dataset that lists them in its
`quality` may take them); `input_noise` is the generator's own option.

Nested, as data sizes are: the pool is cut into blocks of `BLOCK` positions and block b has
exactly round(F * BLOCK * (b+1)) - round(F * BLOCK * b) labels replaced, at positions drawn from a
fixed seed, so every training set of n examples (n a multiple of BLOCK) has exactly round(F * n)
wrong labels, and a larger set holds the smaller one's, wrong labels included. Diversity repeats
the first K examples of that noisy pool, wrong labels included (a duplicate keeps its label).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks.spec import Splits, UserError

KNOBS: dict[str, float | int] = {"label_noise": 0.0, "diversity": 0, "input_noise": 1.0}
APPLIED_BY_LOAD = ("label_noise", "diversity")  # the others are the generator's own options
BLOCK = 100  # positions per block of label noise: every prefix of a multiple of BLOCK has the exact fraction
NOISE_SEED = 19  # the fixed seed of which labels are replaced, and by what


def at_default(key: str, value: object) -> bool:
    """A quality knob at its default: left out of the cache key (so older datasets keep their versions)."""
    return key in KNOBS and value == KNOBS[key]


def check(dataset: str, options: dict, pool: int | None) -> None:
    """Refuse a knob outside its range, naming the dataset and the option (UserError)."""
    def fail(key: str, rule: str) -> None:
        raise UserError(f"dataset {dataset}: option {key}={options[key]} {rule}")

    if "label_noise" in options and not 0 <= options["label_noise"] < 1:
        fail("label_noise", "must be a fraction in [0, 1)")
    if "input_noise" in options and not options["input_noise"] >= 0:
        fail("input_noise", "must be 0 or more (a multiple of the generator's noise scales)")
    if "diversity" in options:
        k = options["diversity"]
        if k < 0:
            fail("diversity", "must be 0 (every example distinct) or a number of distinct examples")
        if pool is not None and k > pool:
            fail("diversity", f"is larger than the training pool ({pool:,} examples)")


def _block_draws(b: int, fraction: float, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Block b's replaced positions (within the block) and the shift of each label (1..num_classes-1)."""
    count = round(fraction * BLOCK * (b + 1)) - round(fraction * BLOCK * b)
    rng = np.random.default_rng([NOISE_SEED, b])
    return np.sort(rng.permutation(BLOCK)[:count]), rng.integers(1, num_classes, count)


def noisy_labels(y: np.ndarray, fraction: float, num_classes: int) -> np.ndarray:
    """`y` with a nested `fraction` of its labels replaced by another class, uniformly (module docstring)."""
    y = y.copy()
    for b in range(-(-len(y) // BLOCK)):
        at, shift = _block_draws(b, fraction, num_classes)
        keep = b * BLOCK + at < len(y)
        at = b * BLOCK + at[keep]
        y[at] = (y[at] + shift[keep]) % num_classes
    return y


def repeated(n: int, diversity: int) -> np.ndarray:
    """Indices of a pool of n drawn from its first `diversity` examples, in order, repeated (0: all distinct)."""
    return np.arange(n) % diversity if diversity else np.arange(n)


def apply(splits: Splits, options: dict) -> Splits:
    """The training pool with `label_noise` and `diversity` applied; validation and test untouched."""
    fraction, diversity = options.get("label_noise", 0.0), options.get("diversity", 0)
    if not fraction and not diversity:
        return splits
    if fraction and splits.task.causal:
        raise UserError(f"dataset {splits.task.name}: label_noise replaces one label per example; its labels are the "
                        "next tokens at every position (leave label_noise out)")
    y = noisy_labels(splits.y_train, fraction, splits.task.num_classes) if fraction else splits.y_train
    rows = repeated(len(y), diversity)
    return dataclasses.replace(splits, x_train=splits.x_train[rows], y_train=y[rows])
