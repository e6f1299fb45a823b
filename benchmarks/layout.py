"""The results folder, named in one place.

    RESULTS_DIR/
      perf.json                      `archbench perf`
      SUITE/
        runs.jsonl                   one RunRecord a line, append-only (running/store.py)
        runs.jsonl.torn              torn last lines cut off by a later append
        .lock                        the store's file lock
        claims/RUN_ID.json           who trains a run right now
        checkpoints/RUN_ID/          orbax checkpoints of a run in progress (running/checkpoint.py)
        jobs/                        submitit's pickles and the jobs' logs (running/executors.py)
        wandb/                       offline W&B runs (running/wandb_log.py)
          logged.txt                 run_ids logged completely, one a line
          .pending/RUN_ID            the run folder being logged, until it is in logged.txt
        contrasts.json               the suite's declared contrasts, kept by each sweep (running/suite.py)
        fits.json                    scaling fits and the verdict (analysis/report.py)
        plots/SLUG-loss-vs-*.png     SLUG: the dataset's name made safe for a file name (`slug`)
        report.html

A file or folder named after a dataset (or anything else a user spells) takes its
`slug`: a name that is safe as it is stays unchanged (`mnist1d-loss-vs-params.png`);
any other (`parquet:/data/my set`, `listops?length=512`) keeps its safe characters and
gains a short hash of the full name, so two names never share a file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

PERF_FILE = "perf.json"
RUNS_FILE = "runs.jsonl"
TORN_FILE = "runs.jsonl.torn"
LOCK_FILE = ".lock"
CLAIMS_DIR = "claims"
CHECKPOINTS_DIR = "checkpoints"
DEFAULT_EVERY_S = 300.0  # a run in progress is checkpointed at the first interval after this many seconds
JOBS_DIR = "jobs"
WANDB_DIR = "wandb"
WANDB_LEDGER = "logged.txt"  # under WANDB_DIR
WANDB_PENDING_DIR = ".pending"  # under WANDB_DIR
CONTRASTS_FILE = "contrasts.json"
FITS_FILE = "fits.json"
PLOTS_DIR = "plots"
REPORT_FILE = "report.html"
MASKS_DIR = "masks"  # lottery tickets: each pruned run's masks, MASKS_DIR/RUN_ID.npz
TICKETS_PLAN_FILE = "tickets.json"  # the plan of the last `archbench tickets` of the suite


def suite_dir(results_dir: str | Path, suite: str) -> Path:
    """Where one suite's records and everything made of them live."""
    return Path(results_dir) / suite


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SLUG_MAX = 64  # characters: fits any file system, and wandb's limit on a tag


def slug(name: str, max_len: int = SLUG_MAX) -> str:
    """`name` as a file name: unchanged when it is already safe, else its safe characters and a short hash.

    Safe: letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, at most `max_len` characters.
    Otherwise runs of other characters become `-`, the end of the name is kept where it is too long
    (for a path, the end is the part that tells folders apart), and `-` + 8 hex digits of the name's
    SHA-256 follow, so two names never give the same slug.
    """
    if name and len(name) <= max_len and not _UNSAFE.search(name) and name[0] not in ".-":
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    safe = _UNSAFE.sub("-", name).strip(".-")
    keep = max_len - len(digest) - 1
    safe = safe[-keep:].lstrip(".-") if len(safe) > keep else safe
    return f"{safe}-{digest}" if safe else digest


def plot_file(dataset: str, kind: str) -> str:
    """The file name of one of a dataset's plots (kind: params, data or compute: loss against it; multipliers;
    frontiers, optimal-size: the compute frontiers and the compute-optimal size)."""
    if kind in ("multipliers", "frontiers", "optimal-size"):
        return f"{slug(dataset)}-{kind}.png"
    return f"{slug(dataset)}-loss-vs-{kind}.png"
