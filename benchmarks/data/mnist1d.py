"""MNIST-1D (Greydanus 2020): ten 1-D digit templates under random padding, translation,
scaling, shear and noise; and `mnist1d-shuffled`, the same data with one fixed
permutation of the 40 positions (it destroys spatial structure, so it tells
architectures that exploit locality from those that do not).

`make_dataset` is the `mnist1d` package's generator with its per-example loop
vectorised: it draws the package's random numbers in the package's order from
its own `RandomState`, then transforms every example at once, so its output
equals the package's (to rounding) in milliseconds instead of seconds.

The first 4,000 training examples and the 1,000 test examples are the
package's default dataset (seed 42), the one the paper's figures use. The
validation split (seed 43) and more training examples (chunks of 4,000, seeds
44, 45, ...) come from the same generator, so a larger `train` option extends
the pool without changing what comes before.

The online regime (benchmarks/data/online.py) reads an endless stream of fresh training examples from
the same generator: chunks of 4,000 with seeds 1,000,000, 1,000,001, ... (none of the seeds above).

Options: `train` (training pool size, default 20,000); the quality knobs of the training pool
(`benchmarks.data.quality`): `label_noise`, `diversity`, and `input_noise` (the generator's
correlated and iid noise scales times this factor in the training pool; validation and test keep
the paper's scales; 1 = the paper's). The online regime takes the default quality only.
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import Layout, load, register_dataset
from benchmarks.data.quality import APPLIED_BY_LOAD
from benchmarks.spec import Splits, TaskSpec, UserError

DEFAULT_TRAIN = 4_000  # the package's default training set (first 80% of 5,000, seed 42)
CHUNK = 4_000  # training examples per extra seed
VAL_SIZE = 1_000
TEST_SIZE = 1_000
LENGTH = 40
TASK = TaskSpec(name="mnist1d", input_kind="signal1d", input_shape=(LENGTH, 1), num_classes=10)
SHUFFLE_SEED = 1234  # the fixed permutation of positions of mnist1d-shuffled
ONLINE_SEED = 1_000_000  # seed of the online stream's first chunk (the finite pool's chunks count up from 44)


def make_dataset(seed: int, num_samples: int, noise_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """`mnist1d.data.make_dataset` with the default arguments: (x_NxL float64 standardised, y_N); its noise
    scales times `noise_scale` (the same draws: the same examples, noisier or cleaner)."""
    from mnist1d.data import get_dataset_args, get_templates
    from scipy.interpolate import interp1d
    from scipy.ndimage import gaussian_filter1d

    args = get_dataset_args()
    templates = get_templates()
    low, high = args.padding
    dilated = args.template_len + high  # every example is stretched to this length, then subsampled
    per_class = num_samples // len(templates["y"])
    n = per_class * len(templates["y"])
    y = np.repeat(templates["y"], per_class)

    # The package's draws, in its order: pad, scale, translate, correlated noise, iid noise, shear.
    rs = np.random.RandomState(seed)
    pad = np.empty(n, np.int64)
    scale, shift, shear = np.empty(n), np.empty(n, np.int64), np.empty(n)
    corr, iid = np.empty((n, dilated)), np.empty((n, dilated))
    for i in range(n):
        pad[i] = low + int(rs.rand() * (high - low + 1))
        scale[i] = 1 + args.scale_coeff * (rs.rand() - 0.5)
        shift[i] = rs.choice(args.max_translation)
        corr[i] = args.corr_noise_scale * rs.randn(dilated)
        iid[i] = args.iid_noise_scale * rs.randn(dilated)
        shear[i] = args.shear_scale * (rs.rand() - 0.5)
    batch_shuffle = rs.permutation(n)
    corr, iid = corr * noise_scale, iid * noise_scale

    x = np.empty((n, dilated))
    for p in np.unique(pad):  # pad and dilate, one interpolation per padding length
        rows = np.flatnonzero(pad == p)
        padded = np.concatenate([templates["x"][y[rows]] + 1e-8, np.zeros((len(rows), p))], axis=1)
        grid = np.linspace(0, 1, padded.shape[1])
        x[rows] = interp1d(grid, padded, axis=1, kind="linear")(np.linspace(0, 1, dilated))
    x *= scale[:, None]
    cols = (np.arange(dilated)[None, :] - shift[:, None]) % dilated  # translate: roll each row right by shift
    x = np.take_along_axis(x, cols, axis=1)
    mask = x != 0
    x = mask * x + (1 - mask) * gaussian_filter1d(corr, 2, axis=1)
    x = x + iid
    x = x - shear[:, None] * np.linspace(-0.5, 0.5, dilated)[None, :]
    x = interp1d(np.linspace(0, 1, dilated), x, axis=1, kind="linear")(np.linspace(0, 1, args.final_seq_length))

    x, y = x[batch_shuffle], y[batch_shuffle]
    return (x - x.mean()) / x.std(), y


def _layout(train: int, input_noise: float = 1.0) -> Layout:
    if train < DEFAULT_TRAIN:
        raise UserError(f"mnist1d?train= must be at least {DEFAULT_TRAIN:,} (the paper's set); take smaller "
                        "training sets with data_size instead")
    return Layout(task=TASK, train=train, val=VAL_SIZE, test=TEST_SIZE)


def _signals(x: np.ndarray) -> np.ndarray:
    return x[..., None].astype(np.float32)


def online(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of the online stream: chunks of CHUNK fresh examples, seeds ONLINE_SEED, +1, ..."""
    chunks = [make_dataset(seed=ONLINE_SEED + k, num_samples=CHUNK) for k in range(-(-n // CHUNK))]
    return _signals(np.concatenate([x for x, _ in chunks])[:n]), np.concatenate([y for _, y in chunks])[:n]


def online_shuffled(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The online stream of mnist1d-shuffled: mnist1d's, its positions in the fixed order."""
    x, y = online(n)
    return x[:, position_permutation()], y


@register_dataset(
    "mnist1d",
    description="MNIST-1D: 1-D digit signals, length 40, 10 classes (procedural; first 4,000 = the paper's set)",
    version="2",
    layout=_layout,
    options={"train": 20_000, "input_noise": 1.0},
    fixed_prefixes=(DEFAULT_TRAIN,),
    knobs=APPLIED_BY_LOAD,
    online=online,
)
def prepare(train: int, input_noise: float) -> Splits:
    _layout(train)
    x, y = make_dataset(seed=42, num_samples=DEFAULT_TRAIN + TEST_SIZE)
    x_val, y_val = make_dataset(seed=43, num_samples=VAL_SIZE)
    x_train = x if input_noise == 1 else make_dataset(seed=42, num_samples=DEFAULT_TRAIN + TEST_SIZE,
                                                      noise_scale=input_noise)[0]
    xs, ys = [x_train[:DEFAULT_TRAIN]], [y[:DEFAULT_TRAIN]]
    for chunk in range(-(-(train - DEFAULT_TRAIN) // CHUNK)):
        x_extra, y_extra = make_dataset(seed=44 + chunk, num_samples=CHUNK, noise_scale=input_noise)
        xs.append(x_extra)
        ys.append(y_extra)
    return Splits(
        task=TASK,
        x_train=_signals(np.concatenate(xs)[:train]),
        y_train=np.concatenate(ys)[:train].astype(np.int32),
        x_val=_signals(x_val),
        y_val=y_val.astype(np.int32),
        x_test=_signals(x[DEFAULT_TRAIN:]),
        y_test=y[DEFAULT_TRAIN:].astype(np.int32),
        version="",
    )


def position_permutation() -> np.ndarray:
    """The fixed permutation of the 40 positions that mnist1d-shuffled applies."""
    return np.random.default_rng(SHUFFLE_SEED).permutation(LENGTH)


@register_dataset(
    "mnist1d-shuffled",
    description="MNIST-1D with its 40 positions in one fixed random order (no spatial structure)",
    version="1",
    layout=_layout,
    options={"train": 20_000},
    fixed_prefixes=(DEFAULT_TRAIN,),
    knobs=APPLIED_BY_LOAD,
    online=online_shuffled,
)
def prepare_shuffled(train: int) -> Splits:
    base = load(f"mnist1d?train={train}")  # ordered already; load() re-balances stably, which keeps this order
    perm = position_permutation()
    return Splits(
        task=TASK,
        x_train=base.x_train[:, perm],
        y_train=base.y_train,
        x_val=base.x_val[:, perm],
        y_val=base.y_val,
        x_test=base.x_test[:, perm],
        y_test=base.y_test,
        version="",
    )
