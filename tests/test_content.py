"""The content fingerprint of a user's files (`benchmarks.data.content`)."""

from __future__ import annotations

import json
import os

from benchmarks.data.content import DIGESTS_FILE, fingerprint


def test_fingerprint_is_the_same_by_any_path_and_changes_with_any_byte(tmp_path, monkeypatch):
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "a.bin").write_bytes(b"abc")
    (tmp_path / "data" / "test.bin").write_bytes(b"xyz")
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    memo = tmp_path / "memo"
    first = fingerprint("data", memo)
    assert [(name, size) for name, size, _ in first] == [("test.bin", 3), ("train/a.bin", 3)]
    assert fingerprint(str(tmp_path / "link"), memo) == first == fingerprint("./data/", memo)
    (tmp_path / "data" / "test.bin").write_bytes(b"xyZ")  # same size, other bytes
    assert fingerprint("data", memo) != first


def test_digests_are_remembered_by_path_size_and_modification_time(tmp_path):
    (tmp_path / "data").mkdir()
    file = tmp_path / "data" / "x.bin"
    file.write_bytes(b"abc")
    fingerprint(str(tmp_path / "data"), tmp_path)
    memo = json.loads((tmp_path / DIGESTS_FILE).read_text())
    key = str(file.resolve())
    memo[key][2] = "remembered"  # a stale digest would be used while size and mtime are unchanged
    (tmp_path / DIGESTS_FILE).write_text(json.dumps(memo))
    assert fingerprint(str(tmp_path / "data"), tmp_path)[0][2] == "remembered"
    os.utime(file, ns=(file.stat().st_atime_ns, file.stat().st_mtime_ns + 1_000_000))  # touched: hashed again
    assert fingerprint(str(tmp_path / "data"), tmp_path)[0][2] != "remembered"
