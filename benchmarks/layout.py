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
        fits.json                    scaling fits and the verdict (analysis/report.py)
        plots/DATASET-loss-vs-*.png
        report.html
"""

from __future__ import annotations

from pathlib import Path

PERF_FILE = "perf.json"
RUNS_FILE = "runs.jsonl"
TORN_FILE = "runs.jsonl.torn"
LOCK_FILE = ".lock"
CLAIMS_DIR = "claims"
CHECKPOINTS_DIR = "checkpoints"
JOBS_DIR = "jobs"
WANDB_DIR = "wandb"
WANDB_LEDGER = "logged.txt"  # under WANDB_DIR
WANDB_PENDING_DIR = ".pending"  # under WANDB_DIR
FITS_FILE = "fits.json"
PLOTS_DIR = "plots"
REPORT_FILE = "report.html"


def suite_dir(results_dir: str | Path, suite: str) -> Path:
    """Where one suite's records and everything made of them live."""
    return Path(results_dir) / suite
