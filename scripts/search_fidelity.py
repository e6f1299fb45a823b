"""How close successive halving comes to the full learning-rate search, against the full search's own rerun noise.

Three searches of the same cells (quick's protocol at one model size: every family x 4 data sizes, 24 cells):
- **full A**: the full grid-and-extend search (every trial to the end), seed 0, on the sweep's own thread layout
  (`--workers 2` on 2 cores: one pinned single-thread worker per core, as `make bench` runs);
- **full B**: the same search rerun on another thread layout (`--workers 1`: one process, XLA on every core),
  which changes float rounding and nothing else: the full search's rerun-to-rerun noise;
- **halving**: quick's own records (`results/.../quick/runs.jsonl`, the search `make bench` runs), whose finished
  trials are A's trials where the layout and the members agree.

Per cell it compares the best validation loss each search ends with (the chosen trial's score), and the chosen
rate. A cheaper search is honest when it is as close to A as B is. It also replays the halving rule on A's full
curves (the same 7 trials), which isolates the rule from where the extension trials land.

    python scripts/search_fidelity.py full --layout pinned --out /tmp/fidelity/A    # about 10 min on 2 cores
    python scripts/search_fidelity.py full --layout threads --out /tmp/fidelity/B
    python scripts/search_fidelity.py compare /tmp/fidelity/A /tmp/fidelity/B results/quick --json docs/search-fidelity.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZE = 5_000
LAYOUTS = {"pinned": "2", "threads": "1"}  # --workers on 2 cores: one pinned 1-thread worker per core, or one process


def full_suite(size: int) -> str:
    """quick.toml at one size, seed 0 only (the tuning seed), with the full search."""
    text = (ROOT / "benchmarks/suites/quick.toml").read_text()
    text = re.sub(r'^name = "quick"', 'name = "fidelity-full"', text, flags=re.M)
    text = re.sub(r"^target_params = \[.*\]", f"target_params = [{size}]", text, flags=re.M)
    text = re.sub(r"^seeds = \[.*\]", "seeds = [0]", text, flags=re.M)
    text = re.sub(r"^search = .*\n", "", text, flags=re.M)
    return text.replace("[lr]\n", '[lr]\nsearch = "grid"\n', 1)


def cmd_full(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suite = out / "fidelity-full.toml"
    suite.write_text(full_suite(args.size))
    cmd = [sys.executable, "-m", "benchmarks.cli", "sweep", str(suite), "--results-dir", str(out),
           "--workers", LAYOUTS[args.layout]]
    return subprocess.run(cmd, cwd=ROOT).returncode


def _records(path: Path, size: int) -> dict[tuple[str, int], dict]:
    file = path if path.suffix == ".jsonl" else next(path.rglob("runs.jsonl"))
    out = {}
    for line in file.read_text().splitlines():
        r = json.loads(line)
        if r["status"] == "ok" and r["spec"]["target_params"] == size and r.get("lr_search"):
            out[(r["spec"]["arch"], r["spec"]["data_size"])] = r
    return out


def _best(record: dict) -> tuple[float, float]:
    """The chosen trial's rate and score (mean best validation loss of the tuning seeds)."""
    trial = next(t for t in record["lr_search"]["trials"] if t["lr"] == record["lr"])
    return record["lr"], trial["score"]


def replay_halving(record: dict, rung_step: int, keep: int) -> tuple[float, float]:
    """The halving rule on a full search's curves: best so far at the rung, the `keep` best finish, the best kept."""
    trials = record["lr_search"]["trials"]
    step0 = record["spec"]["eval_every"]
    rung = rung_step // step0

    def at_rung(t: dict) -> float:
        return float(np.mean([min(v[:rung]) if v[:rung] else np.inf for v in t["val_loss"]]))

    kept = sorted(trials, key=at_rung)[:keep]
    best = min(kept, key=lambda t: t["score"])
    return best["lr"], best["score"]


def cmd_compare(args: argparse.Namespace) -> int:
    a, b, h = (_records(Path(p), args.size) for p in (args.a, args.b, args.halving))
    cells = sorted(set(a) & set(b) & set(h))
    rows = []
    for cell in cells:
        lr_a, best_a = _best(a[cell])
        lr_b, best_b = _best(b[cell])
        lr_h, best_h = _best(h[cell])
        lr_r, best_r = replay_halving(a[cell], h[cell]["lr_search"]["rung_step"], h[cell]["lr_search"]["keep"])
        rows.append({"arch": cell[0], "data_size": cell[1], "lr_full": lr_a, "lr_rerun": lr_b, "lr_halving": lr_h,
                     "lr_replay": lr_r, "best_full": best_a, "rerun_minus_full": best_b - best_a,
                     "halving_minus_full": best_h - best_a, "replay_minus_full": best_r - best_a})

    def summary(key: str) -> dict[str, float]:
        d = np.abs([r[key] for r in rows])
        return {"median_abs": float(np.median(d)), "max_abs": float(np.max(d)), "mean_abs": float(np.mean(d))}

    result = {
        "cells": len(rows), "size": args.size,
        "same_rate": {"rerun": sum(r["lr_rerun"] == r["lr_full"] for r in rows),
                      "halving": sum(r["lr_halving"] == r["lr_full"] for r in rows),
                      "replay": sum(r["lr_replay"] == r["lr_full"] for r in rows)},
        "rerun_minus_full": summary("rerun_minus_full"), "halving_minus_full": summary("halving_minus_full"),
        "replay_minus_full": summary("replay_minus_full"), "rows": rows,
    }
    print(f"{len(rows)} cells at {args.size:,} parameters: best validation loss each search ends with, against the full search A")
    print(f"{'family':<12}{'data':>6}  {'lr A':>8} {'lr B':>8} {'lr halv':>8}  {'A':>7} {'B-A':>8} {'halv-A':>8} {'replay-A':>9}")
    for r in rows:
        print(f"{r['arch']:<12}{r['data_size']:>6}  {r['lr_full']:>8.3g} {r['lr_rerun']:>8.3g} {r['lr_halving']:>8.3g}  "
              f"{r['best_full']:>7.4f} {r['rerun_minus_full']:>+8.4f} {r['halving_minus_full']:>+8.4f} "
              f"{r['replay_minus_full']:>+9.4f}")
    for key, label in (("rerun_minus_full", "full rerun B"), ("halving_minus_full", "halving"),
                       ("replay_minus_full", "halving rule on A's curves")):
        s = result[key]
        print(f"{label:<28} |difference| median {s['median_abs']:.4f}, mean {s['mean_abs']:.4f}, max {s['max_abs']:.4f}")
    print(f"same rate as A: rerun {result['same_rate']['rerun']}/{len(rows)}, halving {result['same_rate']['halving']}/"
          f"{len(rows)}, replay {result['same_rate']['replay']}/{len(rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("full", help="run the full search on the cells under one thread layout")
    f.add_argument("--layout", choices=LAYOUTS, required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--size", type=int, default=SIZE)
    f.set_defaults(func=cmd_full)
    c = sub.add_parser("compare", help="compare the full search, its rerun and halving")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("halving", help="quick's results folder or runs.jsonl (the halving search)")
    c.add_argument("--size", type=int, default=SIZE)
    c.add_argument("--json", help="write the figures here")
    c.set_defaults(func=cmd_compare)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
