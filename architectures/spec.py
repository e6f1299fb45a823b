"""The contract between the harness and an architecture family.

A family is one module in this package that registers a builder with
`architectures.register`. The builder takes a `TaskSpec` (what the inputs look
like) and an `ArchShape` (how big to make the model) and returns an
`nnx.Module` that maps a batch of inputs to logits. Nothing here knows about
datasets, training or results: `benchmarks/` builds on this, never the reverse.

Shape letters used in docstrings across `architectures/`:
  B batch, L sequence length (positions or tokens), C input channels,
  H/W image height/width, D model width, K classes, V vocabulary size,
  N attention heads, E head size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # annotations only: the CLI reads this module without importing flax
    from flax import nnx

InputKind = Literal["signal1d", "image", "tokens"]
INPUT_KINDS: tuple[InputKind, ...] = ("signal1d", "image", "tokens")
# What a model predicts: one class per example (logits_BxK), or the next token at every position (logits_BxLxV,
# labels_BxL with -1 where a position is not scored: docs/language.md).
Target = Literal["class", "next_token"]
TARGETS: tuple[Target, ...] = ("class", "next_token")


@dataclass(frozen=True)
class TaskSpec:
    """What a model sees: the input kind and shape, and what it predicts.

    `target="class"`: one label per example, logits_BxK. `target="next_token"`: token inputs, a label per
    position (the next token's id, -1 where a position is not scored) and logits_BxLxV at every position,
    each computed from the positions up to it alone (`num_classes` is then the vocabulary size).
    """

    name: str  # dataset name, for messages only
    input_kind: InputKind
    input_shape: tuple[int, ...]  # one example: (L, C) signal1d, (H, W, C) image, (L,) tokens
    num_classes: int
    vocab_size: int = 0  # tokens only: ids are in [0, vocab_size)
    target: Target = "class"

    def __post_init__(self) -> None:
        rank = {"signal1d": 2, "image": 3, "tokens": 1}[self.input_kind]
        if len(self.input_shape) != rank:
            raise ValueError(f"{self.input_kind} inputs have rank {rank}, got shape {self.input_shape}")
        if self.input_kind == "tokens" and self.vocab_size < 2:
            raise ValueError("token tasks need vocab_size >= 2")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.target == "next_token" and (self.input_kind != "tokens" or self.num_classes != self.vocab_size):
            raise ValueError("next-token tasks read tokens and predict one of them: num_classes == vocab_size")

    @property
    def input_dtype(self) -> str:
        return "int32" if self.input_kind == "tokens" else "float32"

    @property
    def causal(self) -> bool:
        """The logits at a position may depend on that position and the ones before it alone."""
        return self.target == "next_token"


class Unsupported(Exception):
    """A family cannot take this task: it cannot be made causal, or the context is longer than it reads.
    The harness says so in one line and exits 2 (a user's choice, not a bug of the family)."""


@dataclass(frozen=True)
class ArchShape:
    """How big a model is. The sizing solver picks these to match a parameter target."""

    width: int  # model width: hidden units, channels or d_model
    depth: int  # number of layers or residual blocks
    hidden: int  # inner width of each block (MLP hidden, conv bottleneck): the solver's fine knob

    def as_dict(self) -> dict[str, int]:
        return {"width": self.width, "depth": self.depth, "hidden": self.hidden}


Option = int | float | str  # the value of a family option (`convnet?head=dense`)


class Builder(Protocol):
    """`build(task, shape, rngs, **options) -> module`; `module(x_B...) -> logits_BxK`.

    A family that declares options receives every one of them (defaults filled in) as a
    keyword argument; a family without options is called with none.
    """

    def __call__(self, task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs, **options: Option) -> nnx.Module: ...


class StateSize(Protocol):
    """Floats one example carries from one position to the next at `shape` (every layer together):
    a recurrence's state, an attention layer's KV cache at the task's length. Options as for `Builder`."""

    def __call__(self, task: TaskSpec, shape: ArchShape, **options: Option) -> int: ...


class DepthRule(Protocol):
    """How deep a family is at a given parameter target (the solver then solves width)."""

    def __call__(self, target_params: int) -> int: ...


@dataclass(frozen=True)
class Family:
    """A registered architecture family: its builder and how it scales."""

    name: str
    build: Builder
    depth_for: DepthRule
    hidden_ratio: float  # hidden / width the solver starts from before fine-tuning `hidden`
    width_multiple: int  # width must be a multiple of this (attention heads, groups)
    min_width: int
    version: str  # bump when a change to the module changes trained results
    description: str
    source: str  # module or file it was registered from
    options: Mapping[str, Option] = field(default_factory=dict)  # `name?key=value` options and their defaults
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the values a choice option accepts
    fixed_size: bool = False  # no width or hidden knob: one size whatever the target (the solver says so)
    wildcard: bool = True  # picked by `architectures = ["*"]` in suites (False: only when named)
    hidden_min: int = 1  # the smallest `hidden` the builder takes
    hidden_step: int = 1  # `hidden` is a multiple of this (2: even only)
    cpu_vmap: bool = False  # on a CPU, a phase's members train as one vmapped program (measured faster for it)
    state_size: StateSize | None = None  # floats carried between positions (None: the family reads no sequence)

