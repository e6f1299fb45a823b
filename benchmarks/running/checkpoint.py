"""Checkpoints of a run in progress, with orbax: save at interval boundaries, resume after a kill.

A run's checkpoints live in `RESULTS_DIR/SUITE/checkpoints/RUN_ID/` (one orbax step per saved
interval, the last one kept). A checkpoint holds the whole vmapped TrainState (parameters,
optimiser state, step, data key, divergence step) and the learning curves so far, so the resumed
run computes exactly what the killed one would have: same compiled program, same inputs.

Saves happen at the first interval boundary after `every_s` seconds of training since the
last save (0 = every interval). orbax writes each step into a temporary folder and renames it
when complete, so a kill during a save leaves the previous checkpoint intact; saving a step that a
killed attempt had already completed reuses it (the same state), so resuming is idempotent. A checkpoint that
cannot be read (or belongs to another shape of run) is reported once and ignored: the run
starts from scratch, which is slower but never wrong. The sweep deletes the folder once the
run's record is written.

orbax is imported only when a checkpoint is actually saved or restored (it is slow to import).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks.layout import CHECKPOINTS_DIR, DEFAULT_EVERY_S
from benchmarks.running.programs import TrainState
from benchmarks.running.train import Resumed


def _is_key(x: jax.Array) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_host(state: TrainState) -> list[np.ndarray]:
    """Leaves of the state as numpy arrays (typed PRNG keys as their raw key data)."""
    return [np.asarray(jax.random.key_data(x) if _is_key(x) else x) for x in jax.tree.leaves(state)]


def _from_host(leaves: list[np.ndarray], like: TrainState) -> TrainState:
    """Rebuild a state shaped and placed like `like` from `_to_host` leaves."""
    like_leaves, treedef = jax.tree.flatten(like)
    out = []
    for x, ref in zip(leaves, like_leaves, strict=True):
        if _is_key(ref):
            x = jax.random.wrap_key_data(jax.device_put(x, ref.sharding), impl=jax.random.key_impl(ref))
        else:
            x = jax.device_put(x, ref.sharding)
        if x.shape != ref.shape or x.dtype != ref.dtype:
            raise ValueError(f"checkpointed leaf {x.shape} {x.dtype} does not match {ref.shape} {ref.dtype}")
        out.append(x)
    return jax.tree.unflatten(treedef, out)


def _signature(host: list[np.ndarray]) -> list[list]:
    """Shapes and dtypes of a state's leaves, as JSON (to refuse a checkpoint of another run's shape)."""
    return [[list(x.shape), str(x.dtype)] for x in host]


def _warn(message: str) -> None:
    print(f"archbench: warning: {message}", file=sys.stderr)


class RunCheckpoint:
    """Orbax checkpoints of one run (implements `benchmarks.running.train.Checkpoint`)."""

    def __init__(self, directory: str | Path, every_s: float = DEFAULT_EVERY_S, run_id: str = ""):
        self.dir = Path(directory)
        self.every_s = every_s
        self.run_id = run_id
        self.saves = 0  # how many checkpoints this process wrote
        self.restored_from: int | None = None  # interval the run resumed after, if any
        self._last_save = time.monotonic()
        self._manager = None
        self._broken = False

    @classmethod
    def for_run(cls, suite_dir: str | Path, run_id: str, every_s: float = DEFAULT_EVERY_S) -> RunCheckpoint:
        return cls(Path(suite_dir) / CHECKPOINTS_DIR / run_id, every_s, run_id)

    def phase(self, name: str) -> RunCheckpoint:
        """The checkpoints of one phase of the run (the grid of rates, then its extension), under this run's folder."""
        return RunCheckpoint(self.dir / name, self.every_s, f"{self.run_id}/{name}")

    def manager(self):
        if self._manager is None:
            import orbax.checkpoint as ocp

            options = ocp.CheckpointManagerOptions(
                max_to_keep=1, enable_async_checkpointing=False, cleanup_tmp_directories=True, create=True
            )
            self._manager = ocp.CheckpointManager(self.dir.resolve(), options=options)
        return self._manager


    def restore(self, like: TrainState) -> Resumed | None:
        """The last checkpoint of this run, or None (no checkpoint, or one that does not fit)."""
        if not self.dir.is_dir():
            return None
        self._last_save = time.monotonic()
        try:
            import orbax.checkpoint as ocp

            manager = self.manager()
            step = manager.latest_step()
            if step is None:
                return None
            meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
            host = _to_host(like)
            if meta.get("run_id") != self.run_id or meta.get("leaves") != _signature(host) or not 0 < step <= meta["total"]:
                raise ValueError("it was written for a different run or shape")
            m = host[0].shape[0]
            shapes = {k: tuple(v) for k, v in meta.get("metric_shapes", {}).items()}  # per member; absent: numbers
            target = {
                "state": [np.zeros_like(x) for x in host],
                "history": {k: np.zeros((step, m, *shapes.get(k, ())), np.float32) for k in meta["metrics"]},
            }
            arrays = manager.restore(step, args=ocp.args.Composite(arrays=ocp.args.StandardRestore(target)))["arrays"]
            state = _from_host(list(arrays["state"]), like)
            history = [{k: np.asarray(v[i]) for k, v in arrays["history"].items()} for i in range(step)]
        except Exception as e:  # a damaged or foreign checkpoint costs time, never correctness
            _warn(f"ignoring checkpoint {self.dir} ({type(e).__name__}: {e}); training from the start")
            self.delete()
            return None
        self.restored_from = step
        print(f"archbench: resuming run {self.run_id} from its checkpoint after interval {step}/{meta['total']}",
              file=sys.stderr)
        return Resumed(state=state, history=history, train_s=float(meta["train_s"]))

    def on_interval(self, done: int, total: int, state: TrainState, history: list, train_s: float) -> None:
        if self._broken or time.monotonic() - self._last_save < self.every_s:
            return
        try:
            self.save(done, total, state, history, train_s)
        except Exception as e:  # a full disk must not cost the run itself
            self._broken = True
            _warn(f"could not checkpoint to {self.dir} ({type(e).__name__}: {e}); the run goes on without")

    def save(self, done: int, total: int, state: TrainState, history: list, train_s: float) -> None:
        """Write the state after `done` intervals (replacing the previous checkpoint once complete).

        A step already on disk was written by an earlier attempt of this run that was killed after it (a
        finished phase, saved at its end, then resumed there): a resume is exact, so that step holds this
        very state and is reused, where orbax would raise StepAlreadyExistsError.
        """
        import orbax.checkpoint as ocp

        if done in self.manager().all_steps():
            self._last_save = time.monotonic()
            return
        host = _to_host(state)
        arrays = {"state": host, "history": {k: np.stack([np.asarray(h[k], np.float32) for h in history]) for k in history[0]}}
        meta = {
            "run_id": self.run_id, "done": done, "total": total, "train_s": train_s,
            "metrics": sorted(history[0]), "leaves": _signature(host),
            "metric_shapes": {k: list(np.shape(v)[1:]) for k, v in history[0].items() if np.ndim(v) > 1},
        }
        self.manager().save(
            done, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)), force=True
        )
        self.manager().wait_until_finished()
        self.saves += 1
        self._last_save = time.monotonic()

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    def delete(self) -> None:
        """Remove this run's checkpoints (its record is written, or they are unusable)."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def remove_stale(suite_dir: str | Path, done_ids: set[str]) -> int:
    """Delete checkpoints of runs already recorded (left by a kill between the record and the cleanup)."""
    root = Path(suite_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return 0
    stale = [p for p in root.iterdir() if p.name in done_ids]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)
