"""The content of a user's files, as a fingerprint that does not depend on how their path is spelled.

A dataset read from files (`parquet:PATH`, `imagefolder:PATH`) is identified by what the
files hold: every file's path relative to the folder, its size and the SHA-256 of its
bytes. The same folder reached by a relative path, an absolute one or a symlink, or an
identical copy elsewhere, has the same fingerprint; any edit to any file changes it.

Hashing reads every byte once; the digests are remembered in the cache folder
(`file-digests.json`, keyed by the file's absolute path, size and modification time),
so a large folder is hashed again only where a file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from benchmarks.spec import UserError

DIGESTS_FILE = "file-digests.json"
_CHUNK = 1 << 20

FileEntry = tuple[str, int, str]  # (path relative to the folder, size in bytes, SHA-256 hex)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestMemo:
    """Digests already computed, keyed by absolute path, size and modification time (a JSON file)."""

    def __init__(self, path: Path):
        self.path = path
        self.changed = False
        try:
            self.known: dict[str, list] = json.loads(path.read_text())
        except (OSError, ValueError):  # none yet, or torn: it only saves time
            self.known = {}

    def digest(self, file: Path, st: os.stat_result) -> str:
        key = str(file)
        size, mtime, digest = self.known.get(key, (None, None, None))
        if (size, mtime) != (st.st_size, st.st_mtime_ns):
            digest = file_digest(file)
            self.known[key] = [st.st_size, st.st_mtime_ns, digest]
            self.changed = True
        return str(digest)

    def save(self) -> None:
        """Write the memo whole (a concurrent writer's entries may be lost: they are hashed again)."""
        if not self.changed:
            return
        tmp = self.path.with_name(f"{self.path.name}.tmp{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.known))
            os.replace(tmp, self.path)
        except OSError:  # a read-only cache: the digests are computed again next time, nothing else changes
            tmp.unlink(missing_ok=True)
        self.changed = False


def fingerprint(path: str, memo_dir: Path) -> list[FileEntry]:
    """(relative path, size, SHA-256) of every file under `path` (or of the file `path`), sorted."""
    root = Path(path).resolve()
    if not root.exists():
        raise UserError(f"{path} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    memo = DigestMemo(memo_dir / DIGESTS_FILE)
    out = []
    for p in files:
        st = p.stat()
        out.append((p.name if p == root else p.relative_to(root).as_posix(), st.st_size, memo.digest(p.resolve(), st)))
    memo.save()
    return out
