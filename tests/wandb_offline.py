"""Read an offline W&B run folder back (config, history, summary), so tests can check what was logged.

The `.wandb` file of an offline run is a LevelDB-format log of W&B's own protobuf
records (`wandb.proto.wandb_internal_pb2`): blocks of 32 KiB holding checksummed
chunks, a record split over chunks where it crosses a block.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_BLOCK = 32768
_HEADER = struct.Struct("<4sHB")  # ident ":W&B", magic 0xBEE1, version 0
_CHUNK = struct.Struct("<IHB")  # crc32 of type+data, length, type (1 full, 2 first, 3 middle, 4 last)


def _chunks(data: bytes) -> Iterator[bytes]:
    ident, magic, _ = _HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError("not a W&B transaction log")
    pos, pending = _HEADER.size, b""
    while pos + _CHUNK.size <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:  # block trailer
            pos += room
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:
            pos += room
            continue
        body = data[pos + _CHUNK.size : pos + _CHUNK.size + length]
        if len(body) < length:  # the writer is still at it
            return
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"checksum mismatch at byte {pos}")
        pos += _CHUNK.size + length
        if kind == 1:
            yield body
        elif kind == 2:
            pending = body
        elif kind == 3:
            pending += body
        elif kind == 4:
            yield pending + body


@dataclass
class OfflineRun:
    """What an offline W&B run folder holds."""

    name: str = ""
    group: str = ""
    project: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one dict per logged row
    summary: dict = field(default_factory=dict)
    finished: bool = False


def _items(items) -> dict:
    """W&B key/value items as a dict; a nested key (a logged dict, e.g. a Table's reference) becomes nested dicts."""
    out: dict = {}
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = json.loads(item.value_json)
    return out


def _merge(into: dict, update: dict) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def read_offline_run(run_dir: str | Path, wait_s: float = 10.0) -> OfflineRun:
    """Read an offline run folder (`.../wandb/offline-run-*`) back from its `.wandb` log.

    `run.finish()` returns before W&B's service has written the last records, so this waits up to
    `wait_s` for the run's exit record (and returns what is there after that)."""
    deadline = time.monotonic() + wait_s
    while True:
        run = _read_log(Path(run_dir))
        if run.finished or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def _read_log(run_dir: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    (log,) = run_dir.glob("run-*.wandb")
    out = OfflineRun()
    for chunk in _chunks(log.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(chunk)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            out.name, out.group, out.project, out.job_type = r.display_name, r.run_group, r.project, r.job_type
            _merge(out.config, _items(r.config.update))
        elif kind == "config":
            _merge(out.config, _items(rec.config.update))
        elif kind == "history":
            out.history.append(_items(rec.history.item))
        elif kind == "summary":
            _merge(out.summary, _items(rec.summary.update))
        elif kind == "exit":
            out.finished = True
    return out
