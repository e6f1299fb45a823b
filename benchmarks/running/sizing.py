"""Solve an architecture's shape for a target parameter count, and measure its FLOPs.

The family's depth rule fixes the depth; the solver then searches the coarse
knob (`width`, in the family's multiples) with `hidden` at the family's ratio,
and the fine knob (`hidden`) at that width and its neighbours, so the count
lands within the tolerance. Both knobs stay inside the limits the family
declares (`min_width`, `width_multiple`, `hidden_min`, `hidden_step`); a builder
that raises at a shape the solver tries is a `BuilderFailed` error naming the
family, the shape and the error. The search runs on counts predicted from three
measured builds (parameter dimensions are affine in width and hidden) and the
shape it picks is measured; a family the prediction misses (a dimension that
steps with width, as Mamba's ceil(width/16)) is searched on counts measured at
one hidden per width and predicted along hidden (`_hidden_affine_model`), and a
family that one misses too on measured counts alone. Counts are measured on the
abstract module (`jax.eval_shape`), never estimated by formula, so every
parameter counts.

A family registered `fixed_size` (the `linear` baseline) has no knob to solve: it is
built at width and hidden 0 and its real count reported, whatever the target
(`SizedArch.fixed`); no tolerance applies, and `archbench archs` says so. A family
registered with `hidden_ratio=0` has no hidden knob (`bigru`): width alone is searched
(hidden 0), and a target between two widths' counts by more than the tolerance is an
error naming the nearest feasible target, as for any family.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import inspect
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.extend import core as jcore

import architectures
from benchmarks.spec import ArchShape, TaskSpec, UserError

MAX_WIDTH = 1 << 14

# From a million parameters on (the sizes meant for accelerators), shapes are ones that GPU/TPU
# matrix units tile without padding: widths and hidden sizes are multiples of 8, and widths of
# 256 or more are rounded to a multiple of 64 (hidden re-solved there; kept at the multiple of 8
# where that misses the tolerance). Smaller models keep the family's own multiples, where the
# tolerance needs every unit. See docs/cluster.md for what odd shapes cost on an H100.
TILE_FROM_PARAMS = 1_000_000
TILE_MULTIPLE, WIDE_MULTIPLE, WIDE_FROM = 8, 64, 256


@dataclass(frozen=True)
class SizedArch:
    arch: str
    target_params: int
    shape: ArchShape
    params: int
    fixed: bool = False  # the family has one size: `params` is its count, whatever the target

    @property
    def deviation(self) -> float:
        return self.params / self.target_params - 1.0


LeafShapes = tuple[tuple[str, tuple[int, ...]], ...]  # (path, shape) of every parameter array


class BuilderFailed(UserError):
    """A family's builder raised at a shape the solver tried: a bug in the family, or a limit it has not declared."""


class TaskUnsupported(UserError):
    """A family cannot take the task (`architectures.Unsupported`: it cannot be causal, or the context is too long)."""


def builder_failure(arch: str, task: TaskSpec, shape: ArchShape, error: Exception) -> BuilderFailed:
    """One line: the family, the shape and the task it failed at, the error, and how to declare a limit."""
    what = " ".join(f"{type(error).__name__}: {error}".split())
    return BuilderFailed(
        f"architecture {arch} fails to build at width {shape.width}, depth {shape.depth}, hidden {shape.hidden} "
        f"on {task.name} ({task.input_kind} {'x'.join(map(str, task.input_shape))}): {what[:300]}; "
        "if it needs a larger or stepped width or hidden, declare it in register(...): min_width=, width_multiple=, "
        "hidden_min=, hidden_step= (docs/adding-an-architecture.md)"
    )


@contextlib.contextmanager
def quiet_tracer_probes() -> Iterator[None]:
    """Trace with the origin of a tracer's attribute errors left out of their message.

    flax NNX's `Variable.set_value` probes `getattr(value, "sharding", None)` on every value it is
    given (each rng draw bumps a counter Variable); on a tracer that raises an AttributeError whose
    message jax builds by walking every equation traced so far (`_origin_msg`), so building a model
    under `jax.eval_shape` costs the square of its size in operations (jax-ml/jax#40041 removes it).
    getattr() swallows the message; the only other messages it shortens are a family's own
    concretization errors at a shape, which `builder_failure` says in one line anyway.
    """
    from jax._src.interpreters import partial_eval as pe

    tracer = pe.DynamicJaxprTracer
    original = tracer.__dict__.get("_origin_msg")
    tracer._origin_msg = lambda self: ""
    try:
        yield
    finally:
        if original is None:
            del tracer._origin_msg
        else:
            tracer._origin_msg = original


# jax's jitted samplers under every public draw (`jax.random.normal`, `nnx.initializers.*`), each
# called with the draw's canonical shape and dtype.
_SAMPLERS = ("_normal", "_uniform", "_truncated_normal")
_SHAPES_ONLY = threading.local()  # per thread: a thread that initialises a model for real never draws zeros


@functools.cache
def _install_zero_samplers() -> None:
    """Wrap jax's samplers and flax NNX's key streams, once, so that a thread inside `zeros_for_draws` gets
    zeros of the draw's shape, drawn with the stream's key as it stands."""
    from flax.nnx import rnglib
    from jax._src.random import core as samplers

    next_key = rnglib.RngStream.__call__

    @functools.wraps(next_key)
    def stream_key(stream: rnglib.RngStream) -> jax.Array:
        if not getattr(_SHAPES_ONLY, "on", False):
            return next_key(stream)
        return stream.key[...]  # zeros whatever the key: no fold_in, no counter step to trace

    rnglib.RngStream.__call__ = stream_key

    def wrap(draw: Callable) -> Callable:
        signature = inspect.signature(draw)

        @functools.wraps(draw)
        def sample(*args, **kwargs):
            if not getattr(_SHAPES_ONLY, "on", False):
                return draw(*args, **kwargs)
            given = signature.bind(*args, **kwargs).arguments
            shape = given["shape"]
            if shape is None:  # truncated_normal without a shape: the bounds' broadcast shape
                shape = jnp.broadcast_shapes(np.shape(given["lower"]), np.shape(given["upper"]))
            return jnp.zeros(shape, given["dtype"])

        return sample

    for name in _SAMPLERS:
        setattr(samplers, name, wrap(getattr(samplers, name)))


@contextlib.contextmanager
def zeros_for_draws() -> Iterator[None]:
    """Every random draw of this thread is zeros of its shape and dtype, as Haiku's `fast_eval_shape` does.

    Under `jax.eval_shape` a draw's values are never computed, yet tracing a sampler (a truncated
    normal's inverse error function, a uniform's bit tricks) is most of the cost of building a model
    abstractly. Shapes and dtypes are the sampler's own, so every parameter's shape is the same
    (`test_zero_draws_build_the_same_abstract_model`). An NNX stream hands out its key without
    stepping its counter (a fold_in and an add per draw were a third of what was left of a build);
    the key's shape is the same, and under `jax.eval_shape` no value is computed. Jit is off inside (this
    thread's setting), so no jitted function's cache keeps a program traced with zeros for a real call later
    (`test_a_jitted_draw_traced_abstractly_draws_for_real_afterwards`). Other threads draw as ever.
    """
    _install_zero_samplers()
    before = getattr(_SHAPES_ONLY, "on", False)
    _SHAPES_ONLY.on = True
    try:
        with jax.disable_jit():  # a jitted draw traced here would be cached with its zeros for real calls later
            yield
    finally:
        _SHAPES_ONLY.on = before


@functools.lru_cache(maxsize=64)
def abstract_model(arch: str, task: TaskSpec, shape: ArchShape) -> nnx.Module:
    """`arch` at `shape` with every array abstract (`nnx.eval_shape`: nothing is allocated or initialised).

    Kept for the last shapes built, so the FLOPs of the shape the solver picks (`lowered_forward`)
    reuse its build. (Since `quiet_tracer_probes`, as fast as `jax.eval_shape` of the parameters alone.)
    """
    try:
        with quiet_tracer_probes(), zeros_for_draws():
            return nnx.eval_shape(lambda: architectures.build(arch, task, shape, nnx.Rngs(0)))
    except UserError:
        raise
    except architectures.Unsupported as e:  # the family cannot take the task (not causal; too long a context)
        raise TaskUnsupported(str(e)) from None
    except Exception as e:  # the family's code, at a shape the solver chose: one line, not a traceback
        raise builder_failure(arch, task, shape, e) from e


@functools.lru_cache(maxsize=1 << 14)
def param_shapes(arch: str, task: TaskSpec, shape: ArchShape) -> LeafShapes:
    """Path and shape of every parameter of `arch` at `shape` (traced abstractly: no arrays are allocated)."""
    leaves = jax.tree_util.tree_leaves_with_path(nnx.state(abstract_model(arch, task, shape), nnx.Param))
    return tuple((jax.tree_util.keystr(path), tuple(leaf.shape)) for path, leaf in leaves)


def count_params(arch: str, task: TaskSpec, shape: ArchShape) -> int:
    """Measured parameter count of `arch` at `shape`: every parameter array counts."""
    return sum(math.prod(dims) for _, dims in param_shapes(arch, task, shape))


EMBEDDING_TABLES = frozenset({"embedding", "pos_LxD"})  # parameters a token id or a position indexes (nnx.Embed, positions)


def non_embedding_params(arch: str, task: TaskSpec, shape: ArchShape) -> int:
    """Kaplan et al. (2020)'s N: every parameter but the token and position embedding tables (`EMBEDDING_TABLES`).
    A bigram is a table alone: 0."""
    names = lambda path: re.findall(r"\['([^']+)'\]", path)  # "['embed']['embedding'].value" -> embed, embedding
    return sum(math.prod(dims) for path, dims in param_shapes(arch, task, shape) if names(path)[-1] not in EMBEDDING_TABLES)


CountFn = Callable[[int, int], int]  # (width, hidden) -> parameter count at the solver's depth


def hidden_floor(family: architectures.Family, hm: int) -> int:
    """The smallest `hidden` the family takes, in units of `hm` (its hidden multiple)."""
    return max(1, math.ceil(family.hidden_min / hm))


def _default_hidden(family: architectures.Family, width: int, hm: int = 1) -> int:
    return max(hidden_floor(family, hm), round(family.hidden_ratio * width / hm)) * hm


def multiples(family: architectures.Family, target_params: int) -> tuple[int, int]:
    """(width multiple, hidden multiple) of the shapes solved for `target_params` (before wide rounding)."""
    if target_params >= TILE_FROM_PARAMS:
        return math.lcm(family.width_multiple, TILE_MULTIPLE), math.lcm(family.hidden_step, TILE_MULTIPLE)
    return family.width_multiple, family.hidden_step


def last_at_most(count: Callable[[int], int], target: float, lo: int, hi: int, guess: int | None = None) -> int:
    """Largest x in [lo, hi] with count(x) <= target, for a nondecreasing count with count(lo) <= target.

    Safeguarded interpolation search: each guess interpolates between the bracket's
    counts (in log-log space while the bracket spans more than a factor 2, where
    counts grow like a power of the knob; linearly inside it, where they are nearly
    affine), and a guess that fails to halve the bracket is followed by a bisection.
    A `guess` (the answer on predicted counts) is tried first: x and x+1 alone where it
    is right, a narrower bracket where not; the answer is the same either way.
    """
    if guess is not None and lo < guess < hi:
        if count(guess) > target:
            hi = guess
        elif count(guess + 1) > target:
            return guess
        else:
            lo = guess + 1
    c_lo, c_hi = count(lo), count(hi)
    if c_hi <= target:
        return hi
    bisect = False
    while hi - lo > 1:
        if bisect:
            x = math.isqrt(lo * hi) if hi > 4 * lo else (lo + hi) // 2
        elif hi > 2 * lo and c_lo > 0:
            x = round(lo * (hi / lo) ** (math.log(target / c_lo) / math.log(c_hi / c_lo)))
        else:
            x = round(lo + (target - c_lo) * (hi - lo) / (c_hi - c_lo))
        x = min(max(x, lo + 1), hi - 1)
        c_x = count(x)
        before = hi - lo
        if c_x <= target:
            lo, c_lo = x, c_x
        else:
            hi, c_hi = x, c_x
        bisect = not bisect and 2 * (hi - lo) > before
    return lo


NEIGHBOUR_WIDTHS = 8  # widths tried either side of the coarse solution while none is close enough
MAX_HIDDEN = 1 << 20


def _search(
    family: architectures.Family, count: CountFn, target: int, tolerance: float, lo_k: int, hi_k: int, m: int, hm: int,
    k_guess: int | None = None,
) -> tuple[int, int, int]:
    """(width, hidden, count) for `target`: coarse width at the family's hidden ratio, then hidden.

    The width k*m is the largest whose count at the family's hidden ratio stays at or
    below the target; `hidden` (in multiples of `hm`) is then searched at widths k and
    k+1 (the closer wins) and, unless that lands within a quarter of the tolerance (half
    where hidden steps by hm > 1), at k-1, k+2, k-2, ... until one does: small models,
    whose counts step coarsely in `hidden`, are matched at a neighbouring width. Failing
    that, the nearest width within the tolerance, else the closest count (for the error
    message).
    """
    by_width = lambda k: count(k * m, _default_hidden(family, k * m, hm))
    j_lo = hidden_floor(family, hm)
    k = lo_k if by_width(lo_k) > target else last_at_most(by_width, target, lo_k, hi_k, k_guess)
    offsets = [0, 1] + [s * d for d in range(1, NEIGHBOUR_WIDTHS + 1) for s in (-1, 1) if (s, d) != (1, 1)]
    off = lambda found: abs(found[2] / target - 1)
    best: tuple[int, int, int] | None = None
    first_within: tuple[int, int, int] | None = None
    for i, kk in enumerate(k + o for o in offsets):
        if i >= 2 and best is not None and off(best) <= tolerance / (4 if hm == 1 else 2):
            return best
        if not lo_k <= kk <= hi_k:
            continue
        at_width = lambda j, w=kk * m: count(w, j * hm)  # j: hidden in units of hm
        hidden_hi = (16 * _default_hidden(family, kk * m) + 64) // hm + 1
        while at_width(hidden_hi) <= target and hidden_hi * hm < MAX_HIDDEN:  # very wide inputs need a large hidden
            hidden_hi *= 4
        j = last_at_most(at_width, target, j_lo, hidden_hi) if at_width(j_lo) <= target else j_lo
        found = min(((kk * m, x * hm, at_width(x)) for x in sorted({j, min(j + 1, hidden_hi)})), key=off)
        best = found if best is None or off(found) < off(best) else best
        first_within = found if first_within is None and off(found) <= tolerance else first_within
    assert best is not None
    return best if off(best) <= tolerance / (4 if hm == 1 else 2) else first_within or best


@functools.lru_cache(maxsize=1024)
def _affine_model(arch: str, task: TaskSpec, depth: int) -> CountFn | None:
    """Predicted count(width, hidden) from three measured builds, or None where their structures differ.

    Every parameter's dimensions are, for standard layers, affine in width and
    hidden at a fixed depth (d = a + b*width + c*hidden); three builds, at a base
    shape and one step up in each knob, fix a, b and c for every dimension of every
    parameter, and the count is the sum of the products. The solver searches on this
    model (no builds) and then measures its answer; a family the model mispredicts
    is searched on measured counts instead. The builds are at the smallest shape the family
    declares and one step up in each knob.
    """
    family = architectures.get(arch)
    m, hs = family.width_multiple, family.hidden_step
    low, high = _probe_shape(family, depth)
    w0, h0 = low.width, low.hidden
    base, wider, deeper = (param_shapes(arch, task, s) for s in (low, ArchShape(w0 + m, depth, h0), high))
    if not [p for p, _ in base] == [p for p, _ in wider] == [p for p, _ in deeper]:
        return None
    if any(not len(b) == len(x) == len(y) for (_, b), (_, x), (_, y) in zip(base, wider, deeper, strict=True)):
        return None
    leaves = [
        [(d0, (dw - d0) / m, (dh - d0) / hs) for d0, dw, dh in zip(b, x, y, strict=True)]
        for (_, b), (_, x), (_, y) in zip(base, wider, deeper, strict=True)
    ]

    def predict(width: int, hidden: int) -> int:
        return round(sum(math.prod(a + b * (width - w0) + c * (hidden - h0) for a, b, c in leaf) for leaf in leaves))

    return predict


def _probe_shape(family: architectures.Family, depth: int) -> tuple[ArchShape, ArchShape]:
    """The smallest shape the family declares at `depth`, and one hidden step up: `_affine_model`'s first builds."""
    m, hs = family.width_multiple, family.hidden_step
    w0, h0 = max(1, math.ceil(family.min_width / m)) * m, hidden_floor(family, hs) * hs
    return ArchShape(w0, depth, h0), ArchShape(w0, depth, h0 + hs)


@functools.lru_cache(maxsize=1024)
def _hidden_slopes(arch: str, task: TaskSpec, depth: int) -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...]] | None:
    """Every parameter's path, and how much each of its dimensions grows per unit of hidden (None: the two
    builds one hidden step apart differ in structure)."""
    family = architectures.get(arch)
    low, high = (param_shapes(arch, task, s) for s in _probe_shape(family, depth))
    if [p for p, _ in low] != [p for p, _ in high] or any(len(a) != len(b) for (_, a), (_, b) in zip(low, high)):
        return None
    step = family.hidden_step
    return tuple(p for p, _ in low), tuple(tuple((y - x) / step for x, y in zip(a, b)) for (_, a), (_, b) in zip(low, high))


def _hidden_affine_model(arch: str, task: TaskSpec, depth: int, hm: int) -> CountFn | None:
    """Predicted count(width, hidden) from one measured build per width, at the hidden the solver tries first there
    (the family's ratio, in multiples of `hm`), and each dimension's slope in hidden (`_hidden_slopes`).

    For a family whose dimensions are affine in hidden at every width but not affine in width (Mamba's
    dt_rank = ceil(width/16)): the width search costs one build per width, as on measured counts, and the
    search over hidden none. A width whose build differs in structure from the slopes' is counted as measured.
    """
    family = architectures.get(arch)
    slopes = _hidden_slopes(arch, task, depth)
    if slopes is None:
        return None
    paths, per_unit = slopes

    def predict(width: int, hidden: int) -> int:
        at = _default_hidden(family, width, hm)
        built = param_shapes(arch, task, ArchShape(width, depth, at))
        if tuple(p for p, _ in built) != paths or any(len(d) != len(c) for (_, d), c in zip(built, per_unit)):
            return count_params(arch, task, ArchShape(width, depth, hidden))
        return round(sum(math.prod(d + c * (hidden - at) for d, c in zip(dims, leaf))
                         for (_, dims), leaf in zip(built, per_unit, strict=True)))

    return predict


@functools.lru_cache(maxsize=1024)
def solve(arch: str, task: TaskSpec, target_params: int, tolerance: float = 0.02) -> SizedArch:
    """A shape of `arch` whose measured count is within `tolerance` of `target_params` (the closest found)."""
    family = architectures.get(arch)
    depth = max(1, int(family.depth_for(target_params)))
    m, hm = multiples(family, target_params)
    lo_k, hi_k = max(1, math.ceil(family.min_width / m)), MAX_WIDTH // m

    def measured(width: int, hidden: int) -> int:
        return count_params(arch, task, ArchShape(width, depth, hidden))

    if family.fixed_size:
        return SizedArch(arch, target_params, ArchShape(0, depth, 0), measured(0, 0), fixed=True)
    if family.hidden_ratio == 0:  # width is the only knob: the closer of the widths either side of the target
        def closest_width(count: CountFn) -> tuple[int, int, int]:
            by_width = lambda k: count(k * m, 0)
            k = lo_k if by_width(lo_k) > target_params else last_at_most(by_width, target_params, lo_k, hi_k)
            k = min((kk for kk in (k, k + 1) if kk <= hi_k), key=lambda kk: abs(by_width(kk) / target_params - 1))
            return k * m, 0, by_width(k)

        model = _affine_model(arch, task, depth)
        found = closest_width(model) if model is not None else None
        if found is None or any(measured(w, 0) != model(w, 0) for w in {found[0], min(found[0] + m, hi_k * m)}):
            found = closest_width(measured)  # both candidates measured as predicted, or every width measured
        width, hidden, params = found
    else:
        search = lambda count, lo, hi, mult, guess=None: _search(family, count, target_params, tolerance, lo, hi, mult,
                                                                 hm, guess)
        found = None  # each model's answer, measured: the next one starts its width search there
        for count in (_affine_model(arch, task, depth), _hidden_affine_model(arch, task, depth, hm), measured):
            found = search(count, lo_k, hi_k, m, found and found[0] // m) if count is not None else found
            if found is not None and (count is measured or measured(found[0], found[1]) == found[2]):
                break
        assert found is not None
        width, hidden, params = found
    wide = math.lcm(m, WIDE_MULTIPLE)
    if family.hidden_ratio and target_params >= TILE_FROM_PARAMS and width >= WIDE_FROM and width % wide:
        k = max(1, round(width / wide))  # the nearest multiple of 64; only hidden is searched there
        rounded = search(count, k, k, wide)  # on the counts that matched the measured ones above
        if count is not measured and measured(rounded[0], rounded[1]) != rounded[2]:
            rounded = search(measured, k, k, wide)
        if abs(rounded[2] / target_params - 1) <= tolerance:
            width, hidden, params = rounded
    best = SizedArch(arch, target_params, ArchShape(width, depth, hidden), measured(width, hidden))
    if abs(best.deviation) > tolerance:
        # Only here can the smallest shape be too large (counts grow with width and hidden), so only here is it built.
        smallest = measured(lo_k * m, hidden_floor(family, hm) * hm)
        if smallest > target_params * (1 + tolerance):
            raise UserError(
                f"{arch} cannot be as small as {target_params:,} parameters on {task.name} "
                f"(depth {depth}); the nearest feasible target is {smallest:,}"
            )
        raise UserError(
            f"{arch} cannot match {target_params:,} parameters within {tolerance:.0%} on {task.name} "
            f"(closest: {best.params:,} at width {width}, depth {depth}, hidden {hidden}); "
            f"the nearest feasible target is {best.params:,}"
        )
    return best


COST_ANALYSIS_OPTIONS = {"xla_backend_optimization_level": 0}  # no LLVM optimisation: the HLO, and so the count, is the same


def lowered_forward(arch: str, task: TaskSpec, shape: ArchShape, batch: int = 8) -> jax.stages.Lowered:
    """The forward pass of `arch` at `shape` on a batch, lowered for the host CPU with every scan unrolled.

    Lowered from abstract parameters and inputs (`abstract_model`; nothing is initialised:
    building the model for real would compile every initializer). Always for the host CPU, whatever
    the default device: the count is then the same on every machine (a GPU's compiler
    hands some matmuls to libraries whose FLOPs its cost analysis leaves out). Scans are
    unrolled: XLA's cost analysis counts one iteration of a loop, so a recurrent layer
    would count one step.
    """
    cpu = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
    graphdef, state = nnx.split(abstract_model(arch, task, shape))
    state = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=cpu), state)
    x = jax.ShapeDtypeStruct((batch, *task.input_shape), jnp.dtype(task.input_dtype), sharding=cpu)

    def fwd(state, x):
        return nnx.merge(graphdef, state)(x)

    traced = jax.make_jaxpr(fwd)(state, x)
    unrolled = jax.jit(lambda *args: _with_scans_unrolled(traced.jaxpr, traced.consts, *jax.tree.leaves(args)))
    return unrolled.lower(state, x)


def compiled_flops(lowered: jax.stages.Lowered, batch: int = 8) -> float:
    """FLOPs per example of a `lowered_forward`, from XLA's cost analysis of the compiled program.

    The count comes from the optimised HLO (the lowered program's own cost analysis, before
    XLA's passes, counts up to 30% more: mamba on mnist1d), compiled without LLVM optimisation:
    the same count as at the default level, in less time. (`xla_cpu_use_fusion_emitters: False` halves
    the compile again but changes the count: mixer at 100k on pydoc, 4 FLOPs.) XLA compiles without Python's lock,
    so threads can compile programs while another traces the next (`matched_shapes`).
    """
    cost = lowered.compile(compiler_options=COST_ANALYSIS_OPTIONS).cost_analysis()
    if isinstance(cost, list):  # older jax returns one dict per device program
        cost = cost[0]
    flops = float((cost or {}).get("flops", float("nan")))
    return flops / batch if np.isfinite(flops) else float("nan")


def flops_per_example(arch: str, task: TaskSpec, shape: ArchShape, batch: int = 8) -> float:
    """Forward-pass FLOPs per example: `compiled_flops` of `lowered_forward`."""
    return compiled_flops(lowered_forward(arch, task, shape, batch), batch)


_CALLS = frozenset({"jit", "pjit", "closed_call", "core_call", "remat", "checkpoint", "custom_jvp_call", "custom_vjp_call"})


def _with_scans_unrolled(jaxpr: jcore.Jaxpr, consts: list, *args: jax.Array) -> list[jax.Array]:
    """Evaluate a jaxpr with every top-level `lax.scan` (also inside nested calls) fully unrolled.

    The result is the same; the compiled program has the loop's steps written out, so its cost
    analysis counts every step. (A scan nested in a scan's body is still counted once per outer step.)
    """
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        inner = next((p for p in eqn.params.values() if isinstance(p, jcore.ClosedJaxpr)), None)
        if eqn.primitive.name == "scan":
            outs = eqn.primitive.bind(*invals, **{**eqn.params, "unroll": eqn.params["length"]})
        elif inner is not None and eqn.primitive.name in _CALLS:
            outs = _with_scans_unrolled(inner.jaxpr, inner.consts, *invals)
        else:
            outs = eqn.primitive.bind(*invals, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def parse_count(text: str) -> int:
    """'10k' -> 10_000, '1.5M' -> 1_500_000, '2500' -> 2500."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale > 1 else t) * scale
    except ValueError:
        raise ValueError(f"not a parameter count: {text!r} (e.g. 10k, 100k, 1.5M)") from None
    if value <= 0 or value != int(value):
        raise ValueError(f"not a positive whole parameter count: {text!r}")
    return int(value)


def parse_counts(text: str) -> list[int]:
    """'10k,100k,1M' -> [10_000, 100_000, 1_000_000]; a malformed list is a UserError."""
    try:
        counts = [parse_count(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise UserError(str(e)) from None
    if not counts:
        raise UserError(f"no parameter counts in {text!r} (e.g. 10k,100k,1M)")
    return counts


def matched_shapes(task: TaskSpec, archs: list[str], targets: list[int], tolerance: float) -> list[dict]:
    """One row per family and target: the solved shape, measured count (and without embeddings: Kaplan's N),
    deviation, FLOPs per example and recurrent state size (floats one example carries between positions; None
    where the family reads no sequence).

    A target a family cannot reach gives a row with `error` (naming the nearest
    feasible target) and null numbers, so the other rows still show.
    """
    from benchmarks.running.workers import cores  # workers imports the runner, which imports this module

    out = []
    # Compiles are most of the CPU (XLA's fusion emitters) and the last to finish: a thread per core keeps every
    # core compiling once the rows are traced, and all but one while they are (the counts do not depend on it).
    with concurrent.futures.ThreadPoolExecutor(max_workers=cores()) as compiler:
        for arch in archs:
            for target in targets:
                row: dict = {"arch": arch, "target_params": target, "dataset": task.name}
                try:
                    sized = solve(arch, task, target, tolerance)
                except BuilderFailed:
                    raise  # a builder that fails is an error of the whole command
                except UserError as e:
                    out.append(row | {"params": None, "non_embedding_params": None, "deviation": None,
                                      "flops_per_example": None, "shape": None, "state_size": None, "error": str(e)})
                    continue
                flops = compiler.submit(compiled_flops, lowered_forward(arch, task, sized.shape))
                out.append(row | {"params": sized.params, "deviation": sized.deviation, "flops_per_example": flops,
                                  "non_embedding_params": non_embedding_params(arch, task, sized.shape),
                                  "shape": sized.shape.as_dict(), "fixed_size": sized.fixed,
                                  "state_size": architectures.state_size(arch, task, sized.shape), "error": None})
    return [r if r["error"] else r | {"flops_per_example": r["flops_per_example"].result()} for r in out]
