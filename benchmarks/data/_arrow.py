"""The Arrow cache of a prepared dataset: one folder per dataset, options and version, holding
`train/`, `val/`, `test/` (the layout `datasets.Dataset.save_to_disk` writes, read back as memory
maps) and `archbench.json` (task, version, sizes).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from benchmarks.spec import Splits, TaskSpec

SPLIT_NAMES = ("train", "val", "test")


def _to_table(x: np.ndarray, y: np.ndarray):
    """x as fixed-size lists; y as int32 (a class per example) or, with a label per position, fixed-size lists too."""
    import pyarrow as pa

    def rows(a: np.ndarray):
        flat = pa.array(np.ascontiguousarray(a).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, math.prod(a.shape[1:]))

    labels = rows(y.astype(np.int32)) if y.ndim > 1 else pa.array(y.astype(np.int32))
    return pa.table({"x": rows(x), "y": labels})


def save_splits(splits: Splits, path: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    columns = {
        "train": (splits.x_train, splits.y_train),
        "val": (splits.x_val, splits.y_val),
        "test": (splits.x_test, splits.y_test),
    }
    dd = datasets.DatasetDict(
        {split: datasets.Dataset(datasets.table.InMemoryTable(_to_table(x, y))) for split, (x, y) in columns.items()}
    )
    dd.save_to_disk(str(tmp))
    meta = {
        "task": {**splits.task.__dict__, "input_shape": list(splits.task.input_shape)},
        "version": splits.version,
        "sizes": {split: len(y) for split, (_, y) in columns.items()},
    }
    (tmp / "archbench.json").write_text(json.dumps(meta))
    try:
        os.replace(tmp, path)  # atomic: a killed prepare never leaves a half-written cache
    except OSError:
        if not (path / "archbench.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process prepared it first: same arrays, keep theirs


def read_meta(path: Path) -> tuple[TaskSpec, dict]:
    meta = json.loads((path / "archbench.json").read_text())
    task_d = meta["task"]
    return TaskSpec(**{**task_d, "input_shape": tuple(task_d["input_shape"])}), meta


def read_splits(path: Path) -> Splits:
    """Memory-map the Arrow files `save_to_disk` wrote (the layout `datasets.load_from_disk` reads), without
    importing `datasets`: a cached load then costs milliseconds, not the library's import time."""
    import pyarrow as pa

    task, meta = read_meta(path)
    arrays: dict[str, np.ndarray] = {}
    for split in SPLIT_NAMES:
        state = json.loads((path / split / "state.json").read_text())
        table = pa.concat_tables(
            pa.ipc.open_stream(pa.memory_map(str(path / split / f["filename"]))).read_all()
            for f in state["_data_files"]
        )
        x = _view(table.column("x").combine_chunks().flatten())
        arrays["x_" + split] = x.reshape(len(table), *task.input_shape)
        y = table.column("y").combine_chunks()
        per_position = pa.types.is_fixed_size_list(y.type)  # next tokens: a label per position
        arrays["y_" + split] = _view(y.flatten()).reshape(len(table), task.input_shape[0]) if per_position else _view(y)
    return Splits(task=task, version=meta["version"], **arrays)


def _view(arr) -> np.ndarray:
    """Read-only numpy view of a primitive Arrow array with no nulls (`to_numpy` would import pandas)."""
    import pyarrow as pa

    dtype = {pa.uint8(): np.uint8, pa.int32(): np.int32, pa.float32(): np.float32}[arr.type]
    assert arr.null_count == 0
    view = np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * np.dtype(dtype).itemsize)
    view.flags.writeable = False  # the file is mapped read-only: writing would crash, not copy
    return view
