"""The architecture test matrix: what a family must pass before its results mean anything.

Six checks, each a few cases over tiny tasks of every input kind (`TASKS`, and `NEXT_TOKENS`):

    build      builds at the smallest shape it declares and at the solver's shape for 10k parameters
    shapes     maps a batch to logits_BxK in float32, computing in float32 and in bfloat16
    gradients  finite gradients that reach every parameter (1-D signal, image and token inputs)
    size       the solver matches 10k and 30k parameters within ±2% at the family's depth, on measured counts
    learns     100 steps of the harness's own training (AdamW, clipping, sampled batches) beat chance on a tiny task
    causal     on a next-token task, logits_BxLxV, and changing the token at t changes no logit before t (or the
               family says, in one line, that it cannot be causal)

One definition serves both callers: `tests/test_architectures.py` runs every case on every
registered family, and `archbench check-arch` runs them on the families a plugin registers.
A case raises `CheckFailed` (or whatever the family's code raised); `run_case` turns either
into a `CaseResult` whose `message` is one line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import architectures
from benchmarks.data import TrainingView
from benchmarks.running import sizing
from benchmarks.running.programs import Members, Model, TrainConfig, device_data, evaluate, init_state, train_step
from benchmarks.spec import ArchShape, TaskSpec

TASKS = {
    "signal1d": TaskSpec("signal", "signal1d", (40, 1), 10),
    "image8x8": TaskSpec("image8", "image", (8, 8, 1), 10),
    "image32x32x3": TaskSpec("image32", "image", (32, 32, 3), 10),
    "tokens": TaskSpec("tokens", "tokens", (64,), 4, vocab_size=16),
}
NEXT_TOKENS = TaskSpec("next_tokens", "tokens", (24,), 16, vocab_size=16, target="next_token")
TARGETS = (10_000, 30_000)
TOLERANCE = 0.02
O0 = {"xla_backend_optimization_level": 0}  # the checks' programs run once, on tiny batches: compile fast


class CheckFailed(AssertionError):
    """A family does not do what the harness relies on."""


def require(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def tiny_view(n_train: int = 256, n_eval: int = 64, length: int = 12, classes: int = 3, seed: int = 0) -> TrainingView:
    """A learnable 1-D task: the class sets the mean of a noisy signal's first half."""
    rng = np.random.default_rng(seed)
    task = TaskSpec(name="toy", input_kind="signal1d", input_shape=(length, 1), num_classes=classes)

    def split(n: int):
        y = rng.integers(0, classes, n).astype(np.int32)
        x = rng.normal(size=(n, length, 1)).astype(np.float32)
        x[:, : length // 2, 0] += 1.5 * (y[:, None] - (classes - 1) / 2)
        return x, y

    (xt, yt), (xv, yv), (xs, ys) = split(n_train), split(n_eval), split(n_eval)
    return TrainingView(task, xt, yt, xv, yv, xs, ys)


def _inputs(task: TaskSpec, batch: int, seed: int = 0) -> jax.Array:
    key = jax.random.key(seed)
    if task.input_kind == "tokens":
        return jax.random.randint(key, (batch, *task.input_shape), 0, task.vocab_size)
    return jax.random.normal(key, (batch, *task.input_shape))


def sized_for_checks(arch: str, task: TaskSpec, target: int) -> sizing.SizedArch:
    """The solver's shape at `target`; a family without a hidden knob at its width nearest the target."""
    family = architectures.get(arch)
    if family.fixed_size or family.hidden_ratio > 0:
        return sizing.solve(arch, task, target)
    return sizing.solve(arch, task, sizing.solve(arch, task, target, tolerance=0.99).params)


def _abstract(arch: str, task: TaskSpec, shape: ArchShape) -> nnx.Module:
    return nnx.eval_shape(lambda: architectures.build(arch, task, shape, nnx.Rngs(0)))


# ---------------------------------------------------------------------------- the checks


def check_build(arch: str, kind: str) -> None:
    """An nnx.Module with parameters at the smallest declared shape and at the solver's shape."""
    task, family = TASKS[kind], architectures.get(arch)
    m = family.width_multiple
    smallest = ArchShape(width=max(1, math.ceil(family.min_width / m)) * m, depth=max(1, family.depth_for(TARGETS[0])),
                         hidden=sizing.hidden_floor(family, family.hidden_step) * family.hidden_step)
    shapes = [sized_for_checks(arch, task, TARGETS[0]).shape] + ([] if family.fixed_size else [smallest])
    for shape in shapes:
        module = _abstract(arch, task, shape)
        require(isinstance(module, nnx.Module), f"the builder returned {type(module).__name__}, not an nnx.Module")
        require(bool(jax.tree.leaves(nnx.state(module, nnx.Param))), f"no parameters at {shape.as_dict()}")


def check_shapes(arch: str, kind: str) -> None:
    """x_B... -> logits_BxK in float32, whether the harness computes in float32 or bfloat16."""
    task = TASKS[kind]
    shape = sized_for_checks(arch, task, TARGETS[0]).shape
    model = Model.create(arch, task, shape)
    state = nnx.state(_abstract(arch, task, shape))
    x = jax.eval_shape(partial(_inputs, task, 4))
    for precision in ("float32", "bfloat16"):  # the harness casts parameters and float inputs for bfloat16
        logits = jax.eval_shape(partial(model.apply, precision=precision), state, x)
        want = ((4, task.num_classes), jnp.float32)
        require((logits.shape, logits.dtype) == want,
                f"inputs {x.shape} computing in {precision} gave logits {logits.shape} {logits.dtype}, "
                f"expected {want[0]} float32")


def check_gradients(arch: str, kind: str) -> None:
    """The loss gradient is finite and non-zero on every parameter (random parameters, one batch)."""
    task = TASKS[kind]
    sized = sized_for_checks(arch, task, TARGETS[0])
    graphdef, params = nnx.split(_abstract(arch, task, sized.shape), nnx.Param)
    rng = np.random.default_rng(0)  # random values drawn on the host: the program compiled is the gradient alone
    params = jax.tree.map(lambda p: (0.3 * rng.standard_normal(p.shape)).astype(np.float32), params)
    x, y = _inputs(task, 4), jnp.arange(4) % task.num_classes

    def loss(params):
        logits = nnx.merge(graphdef, params)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    value, grads = jax.jit(jax.value_and_grad(loss)).lower(params).compile(compiler_options=O0)(params)
    require(bool(np.isfinite(float(value))), f"the loss is {float(value)}")
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        require(bool(np.isfinite(np.asarray(g)).all()), f"non-finite gradient at {jax.tree_util.keystr(path)}")
        require(bool(np.any(np.asarray(g) != 0)), f"no gradient reaches {jax.tree_util.keystr(path)}")


def check_size(arch: str, kind: str) -> None:
    """The solver's shape is within ±2% of each target, measured, at the family's own depth.

    A fixed-size family, or one without a hidden knob, matches only the counts its widths give:
    its count is checked to be the measured one, not the tolerance."""
    task, family = TASKS[kind], architectures.get(arch)
    for target in TARGETS:
        if family.fixed_size or family.hidden_ratio == 0:
            sized = sized_for_checks(arch, task, target)
        else:
            sized = sizing.solve(arch, task, target, TOLERANCE)
            require(abs(sized.params / target - 1) <= TOLERANCE, f"{sized.params:,} parameters for a target of {target:,}")
        require(sized.params == sizing.count_params(arch, task, sized.shape), "the count is not the measured one")
        depth = architectures.get(arch).depth_for(target)
        require(sized.shape.depth == depth, f"depth {sized.shape.depth} at {target:,}, the family's rule says {depth}")


def check_learns(arch: str, kind: str = "signal1d") -> None:
    """100 steps at lr 3e-3 on a 4-class task whose class shifts the first half's mean: test accuracy > 0.5."""
    view = tiny_view(n_train=512, n_eval=256, length=16, classes=4)
    model = Model.create(arch, view.task, sized_for_checks(arch, view.task, TARGETS[0]).shape)
    cfg = TrainConfig(batch_size=32, eval_every=100, warmup_frac=0.1, weight_decay=1e-4)
    steps = 100
    data = device_data(view)

    def train_and_test(seed):  # the harness's init and step (AdamW, clipping, sampled batches) in one program
        state = init_state(model, cfg, seed)
        member = Members(lr=jnp.float32(3e-3), n_train=jnp.int32(512), steps=jnp.int32(steps))
        step = partial(train_step, model, cfg, member=member, data=data)
        state, _ = jax.lax.scan(lambda s, _: step(s), state, None, length=steps)
        return evaluate(model, cfg, state.params, data.x_test, data.y_test)

    seed = jnp.uint32(0)
    _, test_acc = jax.jit(train_and_test).lower(seed).compile(compiler_options=O0)(seed)
    require(float(test_acc) > 0.5, f"test accuracy {float(test_acc):.2f} after {steps} steps (chance 0.25, need > 0.5)")


def check_causal(arch: str, kind: str = "next_token") -> None:
    """On a next-token task: logits_BxLxV, and a change of the token at position t leaves every logit before t
    as it was (to float32 rounding, 1e-6) and moves some logit from t on (so a family that ignores
    its input cannot pass). A family that cannot be causal passes by saying so (`architectures.Unsupported`)."""
    task, t = NEXT_TOKENS, 10
    try:
        sized = sized_for_checks(arch, task, TARGETS[0])
    except sizing.TaskUnsupported:
        return
    model = Model.create(arch, task, sized.shape)
    params = model.init(jax.random.key(0))
    x = _inputs(task, 2)
    changed = x.at[:, t].set((x[:, t] + 1) % task.vocab_size)
    apply = jax.jit(partial(model.apply, precision="float32")).lower(params, x).compile(compiler_options=O0)
    before, after = np.asarray(apply(params, x)), np.asarray(apply(params, changed))
    want = (2, task.input_shape[0], task.vocab_size)
    require(before.shape == want, f"logits {before.shape} on a next-token task, expected {want} (a prediction per token)")
    same = np.isclose(before, after, rtol=1e-6, atol=1e-6)
    leaks = np.flatnonzero(~same[:, :t].all(axis=(0, 2)))
    require(not leaks.size, f"changing the token at position {t} changes the logits at position {leaks[:3].tolist()}: "
                            "not causal")
    require(not same[:, t:].all(), f"changing the token at position {t} changes no logit")


# ---------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Case:
    """One check on one input kind."""

    check: str
    kind: str
    run: Callable[[str, str], None]  # run(arch, kind) raises on failure

    def __str__(self) -> str:
        return f"{self.check}-{self.kind}"


CHECKS: dict[str, tuple[Callable[[str, str], None], tuple[str, ...]]] = {
    "build": (check_build, tuple(TASKS)),
    "shapes": (check_shapes, tuple(TASKS)),
    "gradients": (check_gradients, ("signal1d", "image8x8", "tokens")),
    "size": (check_size, tuple(TASKS)),
    "learns": (check_learns, ("signal1d",)),
    "causal": (check_causal, ("next_token",)),
}
CASES: tuple[Case, ...] = tuple(Case(name, kind, fn) for name, (fn, kinds) in CHECKS.items() for kind in kinds)


@dataclass(frozen=True)
class CaseResult:
    arch: str
    case: Case
    ok: bool
    message: str  # one line: why it failed ("" when it passed)
    seconds: float


def run_case(case: Case, arch: str) -> CaseResult:
    """Run one case; any exception (the family's code included) is a failure, said in one line."""
    start = time.perf_counter()
    try:
        case.run(arch, case.kind)
    except Exception as e:  # noqa: BLE001 - whatever the family's code raises is the check's finding
        what = str(e) if isinstance(e, CheckFailed) else f"{type(e).__name__}: {e}"
        return CaseResult(arch, case, False, " ".join(what.split())[:500], time.perf_counter() - start)
    return CaseResult(arch, case, True, "", time.perf_counter() - start)


def run_checks(arch: str, checks: tuple[str, ...] = tuple(CHECKS),
               on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Every case of the named checks on `arch`, in order."""
    results = []
    for case in CASES:
        if case.check in checks:
            results.append(result := run_case(case, arch))
            if on_result is not None:
                on_result(result)
    return results
