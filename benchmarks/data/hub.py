"""Datasets read through Hugging Face `datasets.load_dataset`: image and text
classification sets from the Hub, and your own files.

Hub datasets (downloaded once into the Hugging Face cache, then prepared into
archbench's Arrow cache):

    mnist          ylecun/mnist                    images (28, 28, 1), 10 classes
    fashion_mnist  zalando-datasets/fashion_mnist  images (28, 28, 1), 10 classes
    cifar10        uoft-cs/cifar10                 images (32, 32, 3), 10 classes
    imdb           stanfordnlp/imdb                bytes, length 512 (option), 2 classes
    sst2           stanfordnlp/sst2                bytes, length 128 (option), 2 classes (test = its validation split)

Text corpora for next-token prediction (tiny_shakespeare, wikitext2, wikitext103,
tinystories) are read from the Hub the same way: benchmarks/data/hub_text.py.

Offline, a hub dataset that is in neither cache fails at once with one line
that says how to get it: huggingface.co is probed with a 2 s connect first
(HF_HUB_OFFLINE=1 skips the probe), and a dataset already in the Hugging Face
cache is then read with the Hub switched off, so nothing waits on the network.

Your own files, with the same loader (`load_dataset("parquet"|"imagefolder", data_dir=PATH)`):

    parquet:PATH       PATH holds train*.parquet and test*.parquet (optionally
                       validation*.parquet; the split is named by the file name,
                       or by a train/ test/ folder holding the files), with
      - one input column: `image` (images: the Hugging Face Image feature,
        encoded image bytes / file paths, or arrays (H, W) or (H, W, C)), `x`
        (a fixed-shape array per row: (L,) or (L, C) is a 1-D signal, (H, W, C)
        an image) or `text` (a string, byte-tokenised). Preparing the files
        says in one line how they were read, e.g. "a signal of 8 positions x 8
        channels; to read it as an image 8x8x1, name the column 'image'";
      - a `label` column: integers 0..K-1, a ClassLabel, or strings (sorted
        names become 0..K-1).
      `img` and `sentence` are accepted for `image` and `text`.
    imagefolder:PATH   PATH/train/<class>/<image> and PATH/test/<class>/<image>
                       (optionally PATH/validation/...); labels are the sorted
                       class folder names. All images must have the same size.

Options: text sets take `length` (`imdb?length=1024`, `parquet:PATH?length=256`).

Splits: the test split is the one the files (or the Hub) provide. The
validation split is the provided one if there is one, else 10% of the
provided training split (at most 5,000), taken after one fixed shuffle
(seed 0) so that a class-sorted file or folder still gives a mixed
validation set; the rest is the training pool.

Text is tokenised by `encode_bytes`: UTF-8 bytes + 1 (0 is padding), cut or
padded to `length`; vocabulary 257. Nothing is downloaded for it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from benchmarks.data import Layout, cache_root, register_dataset
from benchmarks.spec import InputKind, Splits, TaskSpec, UserError

BYTE_VOCAB = 257  # 0 padding, 1..256 the bytes 0..255
VAL_FRACTION, VAL_MAX = 0.1, 5_000
PROBE_TIMEOUT_S = 2.0
IMAGE_COLUMNS, TEXT_COLUMNS, ARRAY_COLUMNS = ("image", "img"), ("text", "sentence"), ("x",)


@dataclass(frozen=True)
class HubDataset:
    name: str
    hub_id: str
    input_kind: InputKind  # "image" or "tokens" (text)
    image_shape: tuple[int, int, int] | None  # (H, W, C) for images
    num_classes: int
    train_rows: int  # rows of the Hub's training split (the validation split is carved from it)
    test_rows: int
    test_split: str
    description: str
    length: int = 0  # default text length in bytes


HUB = {
    ds.name: ds
    for ds in [
        HubDataset("mnist", "ylecun/mnist", "image", (28, 28, 1), 10, 60_000, 10_000, "test",
                   "MNIST handwritten digits, images (28, 28, 1), 10 classes (Hugging Face Hub)"),
        HubDataset("fashion_mnist", "zalando-datasets/fashion_mnist", "image", (28, 28, 1), 10, 60_000, 10_000, "test",
                   "Fashion-MNIST clothing, images (28, 28, 1), 10 classes (Hugging Face Hub)"),
        HubDataset("cifar10", "uoft-cs/cifar10", "image", (32, 32, 3), 10, 50_000, 10_000, "test",
                   "CIFAR-10 objects, images (32, 32, 3), 10 classes (Hugging Face Hub)"),
        HubDataset("imdb", "stanfordnlp/imdb", "tokens", None, 2, 25_000, 25_000, "test",
                   "IMDB movie-review sentiment, UTF-8 bytes, 2 classes (Hugging Face Hub)", length=512),
        HubDataset("sst2", "stanfordnlp/sst2", "tokens", None, 2, 67_349, 872, "validation",
                   "SST-2 sentence sentiment, UTF-8 bytes, 2 classes (Hugging Face Hub)", length=128),
    ]
}


def val_size(train_rows: int) -> int:
    """Validation examples carved from a provided training split of this many rows."""
    return min(VAL_MAX, max(1, int(train_rows * VAL_FRACTION)))


def encode_bytes(texts: Sequence[str], length: int) -> np.ndarray:
    """Byte-level tokens_NxL: UTF-8 bytes + 1, truncated or padded with 0 to `length`."""
    tokens = np.zeros((len(texts), length), np.int32)
    for i, text in enumerate(texts):
        b = np.frombuffer(text.encode("utf-8")[:length], np.uint8)
        tokens[i, : len(b)] = b.astype(np.int32) + 1
    return tokens


# -- network and cache checks ---------------------------------------------------------------------------------------


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_address() -> tuple[str, int]:
    """Where a connection to the Hub goes first: the HTTPS proxy if one is set, else the endpoint."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlparse(proxy or os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """False when offline mode is set, or a TCP connect to the Hub fails within `timeout_s` (DNS included)."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("HF_DATASETS_OFFLINE"):
        return False
    host, port = _hub_address()
    answer: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # a thread, because name lookup ignores the timeout
    thread.start()
    thread.join(timeout_s + 0.5)
    return bool(answer and answer[0])


def in_hf_cache(hub_id: str, config: str | None = None) -> bool:
    """Whether `datasets` has prepared `hub_id` (its configuration `config`, else any) in its cache
    (HF_DATASETS_CACHE) already."""
    import datasets

    root = Path(datasets.config.HF_DATASETS_CACHE) / hub_id.replace("/", "___")
    return any(p.is_dir() for p in root.glob(f"{config or '*'}/*/*"))


@contextlib.contextmanager
def _hub_switched_off() -> Iterator[None]:
    """Read from the Hugging Face cache only (as HF_HUB_OFFLINE=1 would), without a network round trip."""
    import datasets
    from huggingface_hub import constants

    saved = datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = saved


def _is_network_error(e: BaseException) -> bool:
    """A failure of the connection (lost mid-download, refused, timed out), not a bug or bad data."""
    return isinstance(e, ConnectionError | TimeoutError) or type(e).__module__.split(".")[0] in {"httpx", "requests"}


def _load_dataset(path: str, **kwargs):
    """`datasets.load_dataset` without progress bars or chatter; returns a DatasetDict."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets.load_dataset(path, **kwargs)


def load_from_hub(dataset: str, hub_id: str, **kwargs):
    """`datasets.load_dataset(hub_id, **kwargs)` for the archbench dataset `dataset`, offline as the module says: a
    dataset in neither cache with the Hub unreachable, or a download cut, is one UserError that says how to get it."""
    reachable = hub_reachable()
    if not reachable and not in_hf_cache(hub_id, kwargs.get("name")):
        host = _hub_address()[0]
        raise UserError(
            f"{dataset} is not in the Hugging Face cache and {host} is unreachable; run "
            f"`archbench datasets --download {dataset}` on a machine with network "
            f"(or set HF_DATASETS_CACHE to a cache that holds {hub_id})"
        )
    try:
        with contextlib.nullcontext() if reachable else _hub_switched_off():
            return _load_dataset(hub_id, **kwargs)
    except Exception as e:
        if not _is_network_error(e):
            raise
        raise UserError(f"{dataset}: could not download {hub_id} ({type(e).__name__}); try again, or run "
                        f"`archbench datasets --download {dataset}` on a machine with network") from None


# -- DatasetDict -> Splits ------------------------------------------------------------------------------------------


def _column(ds, names: Sequence[str]) -> str | None:
    return next((c for c in names if c in ds.column_names), None)


def _labels(dd, splits: Sequence[str], source: str) -> tuple[dict[str, np.ndarray], int]:
    """Integer labels per split and the number of classes (ClassLabel, integers or sorted strings)."""
    import datasets

    feature = dd[splits[0]].features["label"]
    raw = {s: dd[s].select_columns(["label"]).with_format("numpy")[:]["label"] for s in splits}  # inputs not decoded
    if isinstance(feature, datasets.ClassLabel):
        num_classes = feature.num_classes
        ids = {s: v.astype(np.int64) for s, v in raw.items()}
    elif all(v.dtype.kind in "iu" for v in raw.values()):
        ids = {s: v.astype(np.int64) for s, v in raw.items()}
        num_classes = int(max(v.max(initial=0) for v in ids.values())) + 1
    else:
        names = sorted({str(v) for v in raw[splits[0]]})
        index = {n: i for i, n in enumerate(names)}
        missing = {str(v) for s in splits for v in raw[s]} - set(index)
        if missing:
            raise UserError(f"{source}: labels {sorted(missing)[:5]} appear outside the training split")
        ids = {s: np.array([index[str(v)] for v in raw[s]], np.int64) for s in splits}
        num_classes = len(names)
    for s, v in ids.items():
        if v.size and v.min() < 0:
            raise UserError(f"{source}: split {s} has negative labels (unlabelled data?); labels must be 0..K-1")
    if num_classes < 2:
        raise UserError(f"{source}: needs at least 2 classes, found {num_classes}")
    return {s: v.astype(np.int32) for s, v in ids.items()}, num_classes


def _inputs(dd, split: str, column: str, kind: str, length: int, source: str) -> np.ndarray:
    import datasets

    ds = dd[split]
    if kind == "tokens":
        return encode_bytes([str(t) for t in ds[column]], length)
    if kind == "image" and not isinstance(ds.features[column], datasets.Image) and not _holds_arrays(ds, column):
        ds = ds.cast_column(column, datasets.Image())  # encoded bytes or file paths (arrays are pixels already)
    x = ds.with_format("numpy")[:][column]
    if not isinstance(x, np.ndarray) or x.dtype == object:
        raise UserError(f"{source}: every example of column {column!r} must have the same shape (images the same "
                        "size and mode)")
    if kind == "image" and x.ndim == 3:
        x = x[..., None]  # grayscale: one channel
    return x


def _task_for(x: np.ndarray, column: str, kind: str, num_classes: int, name: str, source: str) -> TaskSpec:
    if kind == "tokens":
        return TaskSpec(name, "tokens", (x.shape[1],), num_classes, vocab_size=BYTE_VOCAB)
    shape = x.shape[1:]
    if kind == "image" and len(shape) == 3:
        return TaskSpec(name, "image", shape, num_classes)
    if len(shape) in (1, 2):
        return TaskSpec(name, "signal1d", shape if len(shape) == 2 else (*shape, 1), num_classes)
    if len(shape) == 3:
        return TaskSpec(name, "image", shape, num_classes)
    raise UserError(f"{source}: column {column!r} has examples of shape {shape}; need (L,), (L, C) or (H, W, C)")


def _holds_arrays(ds, column: str) -> bool:
    """Whether a column holds arrays of numbers (pixels or samples), not encoded images or text."""
    import datasets

    return isinstance(ds.features[column], datasets.Sequence | datasets.List | datasets.Array2D | datasets.Array3D)


def reading(task: TaskSpec, column: str, source: str, arrays: bool = True) -> str:
    """One line: how the files' inputs were read (kind and shape), and how to declare the other reading
    (an image of arrays as a signal: `x`; a 2-D `x` as an image: `image`)."""
    if task.input_kind == "tokens":
        return f"{source}: read column {column!r} as text: {task.input_shape[0]} byte tokens (option length)"
    if task.input_kind == "image":
        h, w, c = task.input_shape
        as_signal = arrays and c == 1  # pixels given as arrays (H, W): a signal of H positions x W channels too
        other = f"; to read it as a signal of {h} positions x {w} channels, name the column 'x'" if as_signal else ""
        return f"{source}: read column {column!r} as an image {h}x{w}x{c}{other}"
    length, channels = task.input_shape
    other = f"; to read it as an image {length}x{channels}x1, name the column 'image'" if channels > 1 else ""
    return f"{source}: read column {column!r} as a signal of {length} positions x {channels} channels{other}"


def splits_from_hf(dd, *, name: str, source: str, test_split: str = "test", length: int = 256) -> Splits:
    """Splits from a DatasetDict with an input column (image/x/text, per the convention) and a `label` column."""
    if "train" not in dd or test_split not in dd:
        raise UserError(f"{source}: needs a train and a {test_split} split, found {', '.join(dd) or 'none'} "
                        "(name files train*/test* or put them in train/ and test/ folders)")
    train = dd["train"]
    found = {kind: _column(train, names) for kind, names in
             (("image", IMAGE_COLUMNS), ("signal1d", ARRAY_COLUMNS), ("tokens", TEXT_COLUMNS))}
    found = {k: c for k, c in found.items() if c}
    if len(found) != 1 or "label" not in train.column_names:
        raise UserError(f"{source}: needs one input column (image, x or text) and a label column; "
                        f"found {', '.join(train.column_names)}")
    (kind, column), = found.items()
    val_split = "validation" if "validation" in dd and test_split != "validation" else None
    splits = ["train", test_split] + ([val_split] if val_split else [])
    labels, num_classes = _labels(dd, splits, source)
    x = {s: _inputs(dd, s, column, kind, length, source) for s in splits}
    task = _task_for(x["train"], column, kind, num_classes, name, source)
    # Said once, when the files are prepared (later loads read archbench's cache).
    print(f"archbench: {reading(task, column, source, _holds_arrays(train, column))}", file=sys.stderr)
    shape = x["train"].shape[1:]
    for s in splits:
        if x[s].shape[1:] != shape:
            raise UserError(f"{source}: split {s} has examples of shape {x[s].shape[1:]}, train {shape}")
        x[s] = x[s].reshape(len(x[s]), *task.input_shape)  # (L,) signals get their channel axis

    x_train, y_train = x["train"], labels["train"]
    if val_split:
        x_val, y_val = x[val_split], labels[val_split]
    else:
        order = np.random.default_rng(0).permutation(len(y_train))
        n_val = val_size(len(y_train))
        if len(y_train) - n_val < 1:
            raise UserError(f"{source}: needs at least 2 training examples")
        pool, val = order[:-n_val], order[-n_val:]
        x_train, y_train, x_val, y_val = x_train[pool], y_train[pool], x_train[val], y_train[val]
    dtype = np.int32 if kind == "tokens" else (np.uint8 if x_train.dtype == np.uint8 else np.float32)
    return Splits(
        task=task,
        x_train=x_train.astype(dtype), y_train=y_train,
        x_val=x_val.astype(dtype), y_val=y_val,
        x_test=x[test_split].astype(dtype), y_test=labels[test_split],
        version="",
    )


# -- hub datasets ---------------------------------------------------------------------------------------------------


def prepare_hub(ds: HubDataset, *, length: int = 0, data_dir: str | None = None) -> Splits:
    """Load `ds` from the Hub (or, with `data_dir`, from local parquet files or an image folder holding the
    same columns) and convert it with the one path every `datasets` source takes."""
    length = length or ds.length
    if data_dir is not None:
        builder = "parquet" if any(Path(data_dir).rglob("*.parquet")) else "imagefolder"
        splits = _prepare_files(builder, data_dir, length, name=ds.name, test_split=ds.test_split)
    else:
        dd = load_from_hub(ds.name, ds.hub_id)
        splits = splits_from_hf(dd, name=ds.name, source=ds.hub_id, test_split=ds.test_split, length=length)
    want = (ds.num_classes, ds.image_shape or (length,))
    if (splits.task.num_classes, splits.task.input_shape) != want:
        raise UserError(f"{ds.name}: the data has {splits.task.num_classes} classes and inputs "
                        f"{splits.task.input_shape}, expected {want[0]} and {want[1]}")
    return splits


def _hub_layout(ds: HubDataset, length: int = 0) -> Layout:
    if ds.input_kind == "tokens":
        if length < 1:
            raise UserError(f"{ds.name}?length= must be positive")
        task = TaskSpec(ds.name, "tokens", (length,), ds.num_classes, vocab_size=BYTE_VOCAB)
    else:
        assert ds.image_shape is not None
        task = TaskSpec(ds.name, "image", ds.image_shape, ds.num_classes)
    n_val = val_size(ds.train_rows)
    return Layout(task=task, train=ds.train_rows - n_val, val=n_val, test=ds.test_rows)


def register_hub(name: str, hub_id: str, description: str, options: dict, layout: Callable[..., Layout],
                 prepare: Callable[..., Splits], config: str | None = None) -> None:
    """Register a dataset read from the Hub (its configuration `config`): not offline, available where the
    Hugging Face cache holds it."""
    register_dataset(name, description=description, offline=False, version="1", layout=layout, options=options,
                     hub_id=hub_id, in_local_cache=lambda: in_hf_cache(hub_id, config))(prepare)


def _register_hub(ds: HubDataset) -> None:
    register_hub(ds.name, ds.hub_id, ds.description, {"length": ds.length} if ds.input_kind == "tokens" else {},
                 lambda **options: _hub_layout(ds, **options), lambda **options: prepare_hub(ds, **options))


for _ds in HUB.values():
    _register_hub(_ds)


# -- your own files -------------------------------------------------------------------------------------------------


def _scratch() -> Path:
    path = cache_root() / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _prepare_files(builder: str, path: str, length: int, name: str = "", test_split: str = "test") -> Splits:
    """`datasets`' parquet or imagefolder builder on a local folder; `name` and `test_split` as a hub dataset's."""
    if not Path(path).is_dir():
        raise UserError(f"{builder}:{path} must be a folder (see docs/datasets.md for the layout)")
    if builder == "parquet" and not any(Path(path).rglob("*.parquet")):
        raise UserError(f"parquet:{path} holds no .parquet files (expected train*.parquet and test*.parquet)")
    with tempfile.TemporaryDirectory(dir=_scratch()) as hf_cache:  # `datasets` stages a copy; we keep ours only
        try:
            dd = _load_dataset(builder, data_dir=path, cache_dir=hf_cache)
        except (FileNotFoundError, ValueError) as e:
            raise UserError(f"{builder}:{path}: {str(e).splitlines()[0]}") from None
        return splits_from_hf(dd, name=name or f"{builder}:{path}", source=f"{builder}:{path}", test_split=test_split,
                              length=length)


@register_dataset(
    "parquet",
    description="your parquet files: PATH/train*.parquet + PATH/test*.parquet; columns image|x|text + label",
    takes_path=True,
    options={"length": 256},
)
def prepare_parquet(path: str, length: int) -> Splits:
    return _prepare_files("parquet", path, length)


@register_dataset(
    "imagefolder",
    description="your images: PATH/train/<class>/*.png and PATH/test/<class>/*.png",
    takes_path=True,
)
def prepare_imagefolder(path: str) -> Splits:
    return _prepare_files("imagefolder", path, length=0)
