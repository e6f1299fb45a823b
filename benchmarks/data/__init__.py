"""Dataset registry, Arrow cache, and the data-size view the trainer uses.

A dataset is a function registered with `register_dataset` that returns raw
`Splits` (training pool, validation, test). `load(name)` prepares it once,
orders the training pool so that every prefix is class-balanced
(`balanced_order`), caches the arrays as Arrow with Hugging Face `datasets`
under the cache folder (`ARCHBENCH_CACHE`, default `~/.cache/archbench`), and
reads them back zero-copy afterwards. `training_view(splits, n)` gives the
first n training examples and normalises every split with statistics of those
n alone.

Names a user can give (`--dataset`, suite files):

    mnist1d                        a registered dataset (`names()` lists them)
    listops?length=512&depth=6     the same with options (`name?key=value&key=value`);
                                   each dataset declares its options and defaults
    mnist1d?label_noise=0.1        quality knobs of the training pool (`benchmarks.data.quality`):
                                   label_noise, diversity, input_noise (mnist1d)
    parquet:PATH, imagefolder:PATH your own files (column convention in
                                   benchmarks/data/hub.py and docs/datasets.md)

The cache key holds everything that changes the prepared arrays: the dataset,
its version, every option (defaults included) and, for files, their content
(each file's path inside the folder, size and SHA-256: `benchmarks.data.content`),
never the spelling of the folder's path. `version(name)` (the name and that key)
is the prepared arrays' version, known without preparing them.

What a RunSpec records and what its run id hashes (`spec_name`, `run_identity`):
a registered dataset by its name as given; your files by their resolved path
(so `parquet:data`, `parquet:./data` and `parquet:/home/me/data` are one
dataset), and in the run id by their content alone: the same files reached by
any path, or copied elsewhere, are the same runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.data import quality
from benchmarks.data._arrow import SPLIT_NAMES, read_meta, read_splits, save_splits
from benchmarks.data.content import fingerprint
from benchmarks.spec import Splits, TaskSpec, UserError

_PREPARE_VERSION = "2"  # bump when load() changes what it stores (ordering, layout)

Option = int | float | str


@dataclass(frozen=True)
class Layout:
    """What a prepared dataset holds, known without preparing it."""

    task: TaskSpec
    train: int  # training pool: the largest data_size
    val: int
    test: int


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    offline: bool  # needs no network, ever
    version: str  # bump when the prepared arrays change
    prepare: Callable[..., Splits]  # prepare(**options), or prepare(path, **options) when takes_path
    layout: Callable[..., Layout] | None = None  # layout(**options); None where only the files can tell
    options: Mapping[str, Option] = dataclasses.field(default_factory=dict)  # `name?key=value` options and defaults
    takes_path: bool = False  # named `NAME:PATH` (user files)
    fixed_prefixes: tuple[int, ...] = ()  # sizes whose set of examples prepare() fixes; balancing stays inside them
    hub_id: str = ""  # Hugging Face Hub id, for hub datasets
    in_local_cache: Callable[[], bool] | None = None  # hub datasets: already downloaded (no network needed)?
    quality: tuple[str, ...] = ()  # knobs load() applies to the training pool (benchmarks.data.quality), in `options`
    # online(n, **options) -> (x_N, y_N): the first n examples of an endless stream of fresh training examples,
    # each prefix of a longer one (procedural datasets; benchmarks/data/online.py); None: finite data only
    online: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    # options added after records existed: left out of the cache key (the data version) at their default, so the
    # prepared arrays of every run made before them keep their version
    later_options: tuple[str, ...] = ()

    def own_options(self, options: Mapping[str, Option]) -> dict[str, Option]:
        """The options prepare() and layout() take: all but the knobs load() applies itself."""
        return {k: v for k, v in options.items() if k not in self.quality}


@dataclass(frozen=True)
class DatasetRef:
    """A parsed dataset name: which dataset, with which options, on which files."""

    info: DatasetInfo
    options: dict[str, Option]  # every option, defaults filled in
    path: str = ""  # absolute, for `NAME:PATH` datasets

    @property
    def name(self) -> str:
        """Canonical name: options equal to their default are left out, the rest sorted."""
        base = f"{self.info.name}:{self.path}" if self.info.takes_path else self.info.name
        return base + self.query

    @property
    def query(self) -> str:
        """`?key=value&...` of the options that differ from their defaults, sorted ("" if none)."""
        changed = {k: v for k, v in sorted(self.options.items()) if v != self.info.options[k]}
        return "?" + "&".join(f"{k}={v}" for k, v in changed.items()) if changed else ""


_REGISTRY: dict[str, DatasetInfo] = {}
_discovered = False


def register_dataset(
    name: str,
    *,
    description: str,
    offline: bool = True,
    version: str = "1",
    layout: Layout | Callable[..., Layout] | None = None,
    options: Mapping[str, Option] | None = None,
    takes_path: bool = False,
    fixed_prefixes: tuple[int, ...] = (),
    hub_id: str = "",
    in_local_cache: Callable[[], bool] | None = None,
    knobs: tuple[str, ...] = (),
    online: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None,
    later_options: tuple[str, ...] = (),
) -> Callable[[Callable[..., Splits]], Callable[..., Splits]]:
    """Decorator: register `prepare(**options) -> Splits` (or `prepare(path, **options)`) under `name`.

    `knobs` names the knobs of `benchmarks.data.quality` that load() applies to its training pool
    (`label_noise`, `diversity`); they join its options, at their defaults. `later_options`: options added
    after runs were recorded, left out of the data version at their default (`DatasetInfo.later_options`)."""
    layout_fn = (lambda **_: layout) if isinstance(layout, Layout) else layout

    def decorate(prepare: Callable[..., Splits]) -> Callable[..., Splits]:
        all_options = dict(options or {}) | {k: quality.KNOBS[k] for k in knobs}
        _REGISTRY[name] = DatasetInfo(
            name, description, offline, version, prepare, layout_fn, all_options, takes_path,
            fixed_prefixes, hub_id, in_local_cache, tuple(knobs), online, tuple(later_options),
        )
        return prepare

    return decorate


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
            if not info.name.startswith("_"):
                importlib.import_module(f"benchmarks.data.{info.name}")


def names() -> list[str]:
    """Every dataset loadable by name alone (user-file sources are in `file_sources()`)."""
    _discover()
    return sorted(n for n, ds in _REGISTRY.items() if not ds.takes_path)


def file_sources() -> list[DatasetInfo]:
    """Sources named `NAME:PATH` that read the user's own files."""
    _discover()
    return [ds for _, ds in sorted(_REGISTRY.items()) if ds.takes_path]


_OPTIONS_RE = re.compile(r"^[A-Za-z_]\w*=[^&=]*(&[A-Za-z_]\w*=[^&=]*)*$")


def parse(name: str) -> DatasetRef:
    """`listops?length=512`, `parquet:PATH`, `mnist1d` -> DatasetRef (UserError if it names nothing)."""
    _discover()
    base, sep, rest = name.partition(":")
    if sep and base in _REGISTRY and _REGISTRY[base].takes_path:
        path, query = rest, ""
        head, q, tail = rest.rpartition("?")
        if q and _OPTIONS_RE.match(tail):
            path, query = head, tail
        if not path:
            raise UserError(f"{base}:PATH needs a path, e.g. {base}:./my_data")
        ds = _REGISTRY[base]
        return DatasetRef(ds, _parse_options(ds, query), str(Path(path).expanduser().resolve()))
    base, _, query = name.partition("?")
    ds = _lookup(base)
    options = _parse_options(ds, query)
    pool = ds.layout(**ds.own_options(options)).train if ds.layout is not None and "diversity" in options else None
    quality.check(ds.name, options, pool)
    return DatasetRef(ds, options)


def _lookup(base: str) -> DatasetInfo:
    if base in _REGISTRY and not _REGISTRY[base].takes_path:
        return _REGISTRY[base]
    if base in _REGISTRY:
        raise UserError(f"{base} reads your files: name it {base}:PATH")
    from benchmarks.formatting import did_you_mean

    known = names() + [f"{ds.name}:PATH" for ds in file_sources()]
    raise UserError(f"unknown dataset {base!r}{did_you_mean(base, known)} (known: {', '.join(known)})")


def _parse_options(ds: DatasetInfo, query: str) -> dict[str, Option]:
    options = dict(ds.options)
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if key not in ds.options or not eq:
            have = ", ".join(f"{k}={v}" for k, v in ds.options.items()) or "none"
            raise UserError(f"dataset {ds.name} has no option {item!r} (options and defaults: {have})")
        kind = type(ds.options[key])
        try:
            options[key] = kind(value)
        except ValueError:
            raise UserError(f"option {key} of {ds.name} must be {kind.__name__}, got {value!r}") from None
    return options


def info(name: str) -> DatasetInfo:
    """The registered dataset a name refers to (options and paths allowed)."""
    return parse(name).info


def _files_ref(name: str) -> DatasetRef | None:
    """The parsed name where it names your files (`NAME:PATH`), else None (any other name, known or not)."""
    _discover()
    base, sep, _ = name.partition(":")
    return parse(name) if sep and base in _REGISTRY and _REGISTRY[base].takes_path else None


def spec_name(name: str) -> str:
    """The dataset name a RunSpec records: your files by their resolved path (every spelling of one folder
    is one dataset: one leaderboard cell, one set of plots); any other name as given (the run ids of
    registered datasets predate this, and must not move)."""
    ref = _files_ref(name)
    return ref.name if ref is not None else name


def spec_fields(name: str) -> dict[str, str]:
    """`dataset` and `dataset_as_given` of a RunSpec on `name`: the recorded name, and the spelling where it differs."""
    recorded = spec_name(name)
    return {"dataset": recorded, "dataset_as_given": name if name != recorded else ""}


def run_identity(name: str) -> str:
    """What a run id hashes for the dataset besides its version: your files by source and options alone (their
    content is in the data version, so no spelling of the path enters the id); any other name as given."""
    ref = _files_ref(name)
    return ref.info.name + ref.query if ref is not None else name


def cache_root() -> Path:
    return Path(os.environ.get("ARCHBENCH_CACHE", Path.home() / ".cache" / "archbench"))


def _cache_key(ref: DatasetRef) -> str:
    payload = {
        "name": ref.info.name,
        "version": ref.info.version,
        "options": {k: v for k, v in ref.options.items()  # knobs and options added later: only where set
                    if not quality.at_default(k, v) and not (k in ref.info.later_options and v == ref.info.options[k])},
        "prepare": _PREPARE_VERSION,
        "files": fingerprint(ref.path, cache_root()) if ref.info.takes_path else [],
        "path": "",  # files are known by their content, never by where they are
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _version(ref: DatasetRef) -> str:
    return f"{ref.info.name}-{_cache_key(ref)}"


def version(name: str) -> str:
    """The version of a dataset's prepared arrays (part of every run id), known without preparing or reading
    them: it changes whenever they would (the dataset's version, its options, the user's files)."""
    return _version(parse(name))


def _cache_path(ref: DatasetRef) -> Path:
    return cache_root() / _version(ref)


def balanced_order(y: np.ndarray, fixed_prefixes: tuple[int, ...] = ()) -> np.ndarray:
    """A permutation of the training pool whose every prefix is class-balanced.

    Stable round-robin over classes: the first example of each class (in label
    order), then the second of each, and so on; a class that runs out drops
    out of the rotation. Within each segment cut at `fixed_prefixes`, so the
    first n examples for n in `fixed_prefixes` stay the same set.
    """
    bounds = [0, *sorted(b for b in fixed_prefixes if 0 < b < len(y)), len(y)]
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        seg = y[lo:hi]
        by_class = np.argsort(seg, kind="stable")
        rank = np.empty(len(seg), dtype=np.int64)
        rank[by_class] = np.arange(len(seg)) - np.searchsorted(seg[by_class], seg[by_class], side="left")
        parts.append(lo + np.lexsort((seg, rank)))  # primary key: rank within class; then the class
    return np.concatenate(parts) if parts else np.arange(0)


def _check(splits: Splits, ref: DatasetRef) -> None:
    """A prepared dataset must match what its layout promised (a mismatch is a bug in the loader)."""
    n = {"train": len(splits.y_train), "val": len(splits.y_val), "test": len(splits.y_test)}
    for split in SPLIT_NAMES:
        x, y = getattr(splits, "x_" + split), getattr(splits, "y_" + split)
        assert x.shape == (len(y), *splits.task.input_shape), (split, x.shape, splits.task.input_shape)
        if splits.task.causal:  # a label per position: a token id, or -1 where the position is not scored
            assert y.shape == x.shape, (split, "a label per position", y.shape, x.shape)
            assert y.min(initial=0) >= -1 and y.max(initial=0) < splits.task.num_classes, (split, "labels out of range")
            continue
        assert y.min(initial=0) >= 0 and y.max(initial=0) < splits.task.num_classes, (split, "labels out of range")
    if ref.info.offline and ref.info.layout is not None:
        want = ref.info.layout(**ref.info.own_options(ref.options))
        assert (want.train, want.val, want.test) == (n["train"], n["val"], n["test"]), (ref.name, want, n)
        assert dataclasses.replace(want.task, name=splits.task.name) == splits.task, (want.task, splits.task)


def load(name: str) -> Splits:
    """The prepared splits of dataset `name`, from the Arrow cache when present."""
    ref = parse(name)
    path = _cache_path(ref)
    if not (path / "archbench.json").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = ref.info
        own = ds.own_options(ref.options)
        splits = ds.prepare(ref.path, **own) if ds.takes_path else ds.prepare(**own)
        _check(splits, ref)
        # text stays in its order (the training set of n windows is the first n of its text); classes are balanced
        order = np.arange(len(splits.y_train)) if splits.task.causal else balanced_order(splits.y_train, ds.fixed_prefixes)
        splits = dataclasses.replace(
            splits,
            task=dataclasses.replace(splits.task, name=ref.name),
            x_train=splits.x_train[order],
            y_train=splits.y_train[order],
            version=path.name,  # `version(name)`: known before preparing, part of every run id
        )
        splits = quality.apply(splits, ref.options)  # on the ordered pool: nested like the data sizes
        save_splits(splits, path)
    splits = read_splits(path)
    if splits.task.name != ref.name:  # the same files prepared under another path first
        splits = dataclasses.replace(splits, task=dataclasses.replace(splits.task, name=ref.name))
    return splits


def describe(name: str) -> dict:
    """What `archbench datasets` shows for one dataset; prepares nothing that needs a network."""
    ref = parse(name)
    ds = ref.info
    path = _cache_path(ref)
    prepared = (path / "archbench.json").exists()
    if prepared:
        task, meta = read_meta(path)
        sizes = meta["sizes"]
    elif ds.layout is not None:
        layout = ds.layout(**ds.own_options(ref.options))
        task, sizes = dataclasses.replace(layout.task, name=ref.name), {
            "train": layout.train, "val": layout.val, "test": layout.test,
        }
    else:  # user files: reading them is the only way to know, and needs no network
        splits = load(name)
        task, sizes, prepared = splits.task, {"train": len(splits.y_train), "val": len(splits.y_val),
                                               "test": len(splits.y_test)}, True
    available = ds.offline or prepared or bool(ds.in_local_cache and ds.in_local_cache())
    return {
        "name": ref.name,
        "description": ds.description,
        "source": "files" if ds.takes_path else ("embedded" if ds.offline else "hub"),
        "input_kind": task.input_kind,
        "input_shape": list(task.input_shape),
        "num_classes": task.num_classes,
        "vocab_size": task.vocab_size,
        "target": task.target,
        "max_train_size": sizes["train"],
        "val_size": sizes["val"],
        "test_size": sizes["test"],
        "available_offline": available,
        "prepared": prepared,
        "options": dict(ds.options),
        "hub_id": ds.hub_id,
    }


def listing(wanted: list[str]) -> list[dict]:
    """describe() of each name wanted; with none, every dataset and the user-file sources."""
    if wanted:
        return [describe(n) for n in wanted]
    out = [describe(n) for n in names()]
    for ds in file_sources():
        out.append({
            "name": f"{ds.name}:PATH", "description": ds.description, "source": "files", "input_kind": None,
            "input_shape": None, "num_classes": None, "vocab_size": None, "target": None, "max_train_size": None, "val_size": None,
            "test_size": None, "available_offline": True, "prepared": False, "options": dict(ds.options),
            "hub_id": "",
        })
    return out


def task(name: str) -> TaskSpec:
    """The dataset's TaskSpec; from its layout where known, so nothing is downloaded or prepared."""
    d = describe(name)
    return TaskSpec(d["name"], d["input_kind"], tuple(d["input_shape"]), d["num_classes"], d["vocab_size"] or 0,
                    d["target"])


@dataclass(frozen=True)
class TrainingView:
    """The arrays one run trains and evaluates on (training prefix + normalised splits)."""

    task: TaskSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def training_view(splits: Splits, data_size: int) -> TrainingView:
    """First `data_size` training examples; float inputs standardised per channel with their statistics only."""
    if data_size > splits.max_train_size:
        raise UserError(
            f"data_size {data_size:,} is more than {splits.task.name} holds "
            f"(at most {splits.max_train_size:,} training examples)"
        )
    x_train, y_train = splits.x_train[:data_size], splits.y_train[:data_size]
    x_train, x_val, x_test = standardised(splits.task, x_train, x_train, splits.x_val, splits.x_test)
    return TrainingView(splits.task, x_train, y_train, x_val, splits.y_val, x_test, splits.y_test)


def standardised(task: TaskSpec, x_stats: np.ndarray, *xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Arrays as the trainer takes them: tokens as int32; float inputs standardised per channel with the
    statistics of `x_stats` (training examples) alone."""
    if task.input_kind == "tokens":
        return tuple(x.astype(np.int32, copy=False) for x in xs)
    f = np.float32
    x_stats = x_stats.astype(f, copy=False)
    axes = tuple(range(x_stats.ndim - 1))  # every axis but the channel axis
    mean = x_stats.mean(axis=axes, dtype=np.float64).astype(f)
    std = x_stats.std(axis=axes, dtype=np.float64).astype(f)
    std = np.where(std > 0, std, 1).astype(f)
    return tuple(((x.astype(f, copy=False) - mean) / std).astype(f, copy=False) for x in xs)
