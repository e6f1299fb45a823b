"""Masks over a model's weights, as pure functions on numpy arrays: which weights may be pruned, magnitude
pruning (per layer or global), the random control of the same per-layer sparsity, and masks on disk.

A mask is a dict from a prunable leaf's name (`layers/0/kernel`) to a boolean array of that leaf's shape
(True: the weight survives). Only the **kernels** of linear and convolutional layers are prunable, in every
family: they are the connections, and the weights Frankle & Carbin (2019) prune. Biases, normalisation
scales and offsets (one number per unit: pruning one removes a unit's offset, not a connection), token
embeddings (a lookup table: pruning one entry is not a connection either) and positional embeddings stay
dense. docs/tickets.md lists what that leaves prunable in each family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import jax
import numpy as np

PRUNABLE_LEAF = "kernel"  # the name flax gives the weight matrix of nnx.Linear and nnx.Conv
Scope = Literal["layer", "global"]
SCOPES: tuple[Scope, ...] = ("layer", "global")

Mask = dict[str, np.ndarray]  # prunable leaf name -> bool array (True: kept)


def leaf_name(path: tuple) -> str:
    """`layers/0/kernel` for the key path of a parameter leaf (flax's trailing `.value` dropped)."""
    parts = []
    for key in path:
        name = getattr(key, "key", getattr(key, "idx", getattr(key, "name", key)))
        if name != "value":
            parts.append(str(name))
    return "/".join(parts)


def named_leaves(params: object) -> dict[str, np.ndarray]:
    """Every parameter leaf by name, as host arrays (one member's parameters, no member axis; abstract
    shapes stay as they are)."""
    return {leaf_name(p): x if isinstance(x, jax.ShapeDtypeStruct) else np.asarray(x)
            for p, x in jax.tree_util.tree_flatten_with_path(params)[0]}


def prunable(params: object) -> dict[str, np.ndarray]:
    """The prunable leaves (kernels of linear and convolutional layers), by name, in the parameters' order."""
    return {k: v for k, v in named_leaves(params).items() if k.rsplit("/", 1)[-1] == PRUNABLE_LEAF}


def dense_mask(params: object) -> Mask:
    """Every prunable weight kept."""
    return {k: np.ones(v.shape, bool) for k, v in prunable(params).items()}


def full_tree(params: object, mask: Mask) -> object:
    """The mask as a float32 tree of the parameters' structure: 0/1 on prunable leaves, 1 elsewhere."""
    def leaf(path, x):
        kept = mask.get(leaf_name(path))
        return np.ones(np.shape(x), np.float32) if kept is None else kept.astype(np.float32)
    return jax.tree_util.tree_map_with_path(leaf, params)


def kept_counts(mask: Mask) -> dict[str, int]:
    """Surviving weights per layer."""
    return {k: int(v.sum()) for k, v in mask.items()}


def sparsity(mask: Mask) -> float:
    """Fraction of the prunable weights that are pruned."""
    total = sum(v.size for v in mask.values())
    return 1.0 - sum(int(v.sum()) for v in mask.values()) / total if total else 0.0


def magnitude_prune(weights: Mapping[str, np.ndarray], mask: Mask, fraction: float, scope: Scope) -> Mask:
    """Prune `fraction` of the surviving weights with the smallest magnitude: of each layer's survivors
    (`layer`), or of all survivors together (`global`). Ties go to the earlier weight in C order."""
    out = {k: m.copy() for k, m in mask.items()}
    if scope == "layer":
        for k, m in mask.items():
            _drop_smallest(out[k], np.abs(weights[k]), round(fraction * int(m.sum())))
        return out
    names = list(mask)
    flat_kept = np.concatenate([mask[k].ravel() for k in names])
    flat_mag = np.concatenate([np.abs(np.asarray(weights[k])).ravel() for k in names])
    flat = flat_kept.copy()
    _drop_smallest(flat, flat_mag, round(fraction * int(flat_kept.sum())))
    offsets = np.cumsum([0] + [mask[k].size for k in names])
    return {k: flat[offsets[i]:offsets[i + 1]].reshape(mask[k].shape) for i, k in enumerate(names)}


def _drop_smallest(kept: np.ndarray, magnitude: np.ndarray, n: int) -> None:
    """Set to False, in place, the `n` surviving entries of smallest magnitude."""
    flat = kept.reshape(-1)
    alive = np.flatnonzero(flat)
    order = alive[np.argsort(magnitude.reshape(-1)[alive], kind="stable")]
    flat[order[:n]] = False


def random_like(mask: Mask, rng: np.random.Generator) -> Mask:
    """A random mask with the same number of survivors in every layer as `mask`, placed uniformly."""
    out = {}
    for k, m in mask.items():
        kept = np.zeros(m.size, bool)
        kept[rng.choice(m.size, size=int(m.sum()), replace=False)] = True
        out[k] = kept.reshape(m.shape)
    return out


def rounds_to_reach(fraction: float, target: float) -> int:
    """Rounds of pruning `fraction` of the survivors that reach `target` sparsity: (1 - fraction)^r <= 1 - target."""
    return max(1, math.ceil(math.log(1 - target) / math.log(1 - fraction) - 1e-9))


def nominal_sparsity(fraction: float, rounds: int) -> float:
    """Sparsity after `rounds` rounds, before per-layer rounding."""
    return 1 - (1 - fraction) ** rounds


def save_masks(path: Path, masks: Mapping[int, Mask]) -> None:
    """Each seed's mask in one compressed .npz (`SEED:layer/name` -> bits), written whole, never overwritten."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{f"{seed}:{k}": v for seed, m in masks.items() for k, v in m.items()})
    tmp.replace(path)


def load_masks(path: Path) -> dict[int, Mask]:
    """The masks `save_masks` wrote, by seed."""
    out: dict[int, Mask] = {}
    with np.load(path) as f:
        for key in f.files:
            seed, name = key.split(":", 1)
            out.setdefault(int(seed), {})[name] = f[key].astype(bool)
    return out
