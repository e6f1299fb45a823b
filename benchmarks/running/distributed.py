"""Where a run's arrays live: one device mesh, many processes, and the compilation cache.

Every run trains under one `jax.sharding.Mesh` over all visible devices, with one
axis, `data`. Each step's minibatch is split along its batch axis over that axis;
parameters and optimizer state are replicated (or, with `--shard-params`, split
along the same axis for models too large for one device; XLA gathers them for the
compute). On one device none of this is applied, so it is the same program as
before sharding existed.

With `--distributed`, `jax.distributed.initialize()` joins the processes of one job
across hosts (it finds its coordinator under SLURM, on TPU pods, or from the
`--coordinator/--num-processes/--process-id` flags); every process runs the same
program on its own devices, and only process 0 writes records and logs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from benchmarks.spec import UserError

AXIS = "data"  # the mesh's one axis: batches split along it


# ---- setup ---------------------------------------------------------------------------------------

def initialize(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None) -> None:
    """Join the job's processes (idempotent); a job that cannot be joined is a one-line error."""
    if jax.distributed.is_initialized():
        return
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    except (ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"--distributed could not join a job: {first} (run under SLURM or give --coordinator, "
            "--num-processes and --process-id)"
        ) from e


def compilation_cache_dir() -> str:
    from benchmarks.data import cache_root

    return str(cache_root() / "xla")


def enable_compilation_cache(path: str | None = None) -> None:
    """Keep compiled XLA programs on disk, so a second sweep (or run) of the same shapes does not recompile."""
    jax.config.update("jax_compilation_cache_dir", path or compilation_cache_dir())
    # Cache every program that took noticeable time to compile, and nothing trivial.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


# ---- processes ---------------------------------------------------------------------------------

def is_main_process() -> bool:
    """Process 0 of the job (the only process of a single-host run): the one that writes."""
    return jax.process_index() == 0


def agree(values: Sequence[bool] | np.ndarray) -> np.ndarray:
    """Process 0's `values` on every process, so all processes take the same decisions (what to train)."""
    values = np.asarray(values)
    if jax.process_count() == 1:
        return values
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(values))


# ---- the mesh ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def mesh() -> Mesh:
    """All devices of the job (every process's), on one `data` axis."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def device_count() -> int:
    return mesh().size


def check_batch(batch_size: int) -> None:
    n = device_count()
    if batch_size % n:
        raise UserError(
            f"batch size {batch_size} does not split evenly over {n} devices; use a multiple of {n} "
            f"(e.g. {max(n, batch_size // n * n)})"
        )


def batch_spec(ndim: int) -> P:
    return P(AXIS, *([None] * (ndim - 1)))


def constrain_batch(x: jax.Array) -> jax.Array:
    """Inside jit: split `x` along its leading (batch) axis over the devices; a no-op on one device."""
    if device_count() == 1 or x.shape[0] % device_count():
        return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh(), batch_spec(x.ndim)))


def param_spec(shape: tuple[int, ...], shard: bool) -> P:
    """Replicated, or (shard=True) split along the largest axis the device count divides."""
    n = device_count()
    if not shard or n == 1:
        return P()
    axes = [i for i in np.argsort(shape)[::-1] if shape[i] % n == 0 and shape[i] >= n]
    if not axes:
        return P()
    spec: list[str | None] = [None] * len(shape)
    spec[int(axes[0])] = AXIS
    return P(*spec)


def constrain_state(tree, shard: bool):
    """Inside jit: fix where parameters and optimizer state live (split if `shard`); a no-op on one device."""
    if device_count() == 1:
        return tree
    return jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, NamedSharding(mesh(), param_spec(x.shape, shard)))
        if hasattr(x, "shape") else x,
        tree,
    )


def constrain_replicated(tree):
    """Inside jit: whole on every device (metrics every process reads back); a no-op on one device."""
    return constrain_state(tree, shard=False)


def put_replicated(x: np.ndarray) -> jax.Array:
    """A host array as one global array held whole on every device (every process passes the same value)."""
    if device_count() == 1:
        return jax.numpy.asarray(x)
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh(), P()), lambda index: x[index])


def describe() -> dict[str, str]:
    """The devices of this job, in words and numbers, for records and reports."""
    devices = jax.devices()
    return {
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": str(len(devices)),
        "process_count": str(jax.process_count()),
        "host_cpus": str(os.cpu_count() or 0),
    }
