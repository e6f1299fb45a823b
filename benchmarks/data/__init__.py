"""Dataset registry, Arrow cache, and the data-size view the trainer uses.

A dataset is a function registered with `register_dataset` that returns raw
`Splits` (training pool, validation, test). `load(name)` prepares it once,
caches the arrays as Arrow with Hugging Face `datasets` under the cache folder
(`ARCHBENCH_CACHE`, default `~/.cache/archbench`), and reads them back
zero-copy afterwards. `training_view(splits, n)` gives the first n training
examples and normalises every split with statistics of those n alone.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.spec import Splits, TaskSpec, UserError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    offline: bool  # needs no network, ever
    version: str  # bump when the prepared arrays change
    prepare: Callable[[], Splits]


_REGISTRY: dict[str, DatasetInfo] = {}
_discovered = False


def register_dataset(
    name: str, *, description: str, offline: bool = True, version: str = "1"
) -> Callable[[Callable[[], Splits]], Callable[[], Splits]]:
    """Decorator: register `prepare() -> Splits` under `name`."""

    def decorate(prepare: Callable[[], Splits]) -> Callable[[], Splits]:
        _REGISTRY[name] = DatasetInfo(name, description, offline, version, prepare)
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
    _discover()
    return sorted(_REGISTRY)


def info(name: str) -> DatasetInfo:
    _discover()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown dataset {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]


def cache_root() -> Path:
    return Path(os.environ.get("ARCHBENCH_CACHE", Path.home() / ".cache" / "archbench"))


def _cache_key(ds: DatasetInfo) -> str:
    blob = json.dumps({"name": ds.name, "version": ds.version}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _save(splits: Splits, path: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    columns = {
        "train": (splits.x_train, splits.y_train),
        "val": (splits.x_val, splits.y_val),
        "test": (splits.x_test, splits.y_test),
    }
    x_dtype = "int32" if splits.task.input_kind == "tokens" else "float32"
    n_features = math.prod(splits.task.input_shape)
    features = datasets.Features(
        {"x": datasets.Sequence(datasets.Value(x_dtype), length=n_features), "y": datasets.Value("int32")}
    )
    dd = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {"x": np.asarray(x, dtype=x_dtype).reshape(len(x), n_features), "y": np.asarray(y, dtype=np.int32)},
                features=features,
            )
            for split, (x, y) in columns.items()
        }
    )
    dd.save_to_disk(str(tmp))
    meta = {"task": {**splits.task.__dict__, "input_shape": list(splits.task.input_shape)}, "version": splits.version}
    (tmp / "archbench.json").write_text(json.dumps(meta))
    os.replace(tmp, path)  # atomic: a killed prepare never leaves a half-written cache


def _read(path: Path) -> Splits:
    import datasets

    meta = json.loads((path / "archbench.json").read_text())
    task_d = meta["task"]
    task = TaskSpec(**{**task_d, "input_shape": tuple(task_d["input_shape"])})
    dd = datasets.load_from_disk(str(path))
    arrays: dict[str, np.ndarray] = {}
    for split in SPLIT_NAMES:
        table = dd[split].data.table
        x = table.column("x").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        arrays["x_" + split] = x.reshape(len(table), *task.input_shape)
        arrays["y_" + split] = table.column("y").to_numpy().astype(np.int32)
    return Splits(task=task, version=meta["version"], **arrays)


def load(name: str) -> Splits:
    """The prepared splits of dataset `name`, from the Arrow cache when present."""
    ds = info(name)
    path = cache_root() / f"{ds.name}-{_cache_key(ds)}"
    if not (path / "archbench.json").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        splits = ds.prepare()
        splits = Splits(**{**splits.__dict__, "version": f"{ds.name}-{_cache_key(ds)}"})
        _save(splits, path)
    return _read(path)


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
    """First `data_size` training examples; float inputs standardised with their statistics only."""
    if data_size > splits.max_train_size:
        raise UserError(
            f"data_size {data_size:,} is more than {splits.task.name} holds "
            f"(at most {splits.max_train_size:,} training examples)"
        )
    x_train, y_train = splits.x_train[:data_size], splits.y_train[:data_size]
    x_val, x_test = splits.x_val, splits.x_test
    if splits.task.input_kind != "tokens":
        mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
        x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    f = np.float32 if splits.task.input_kind != "tokens" else np.int32
    return TrainingView(
        splits.task, x_train.astype(f), y_train, x_val.astype(f), splits.y_val, x_test.astype(f), splits.y_test
    )
