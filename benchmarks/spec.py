"""Everything that crosses a boundary in the harness, in one place.

- `TaskSpec`, `ArchShape`, `Family`: the architecture contract (from `architectures.spec`).
- `Splits`: what a dataset loader returns.
- `RunSpec`: one point of a sweep (what to train, on what, for how long).
- `RunRecord`: what one RunSpec produced; one JSON line in the results store.
- `DatasetContrast`: a pair of a suite's datasets whose difference the report measures per family.
- `UserError`: the one exception a user can cause; the CLI prints it as one line, exit 2.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from architectures.spec import ArchShape, Family, InputKind, TaskSpec
from benchmarks.running.lr_search import UNSEARCHED, LrPolicy

__all__ = [
    "ArchShape", "Family", "InputKind", "TaskSpec", "Splits", "RunSpec", "RunRecord",
    "SeedResult", "Curves", "UserError", "RESULTS_VERSION", "finite_or_null", "DatasetContrast", "REGIMES",
    "training_flops",
]

# Bump when a harness change alters what a RunSpec trains to (so old records are not reused).
RESULTS_VERSION = "3"  # 3: best-validation checkpoint scored, schedule length per run (benchmarks.running.protocol)

Status = Literal["ok", "diverged", "failed"]
# Labels, and what a run records rather than what it trains to (which test points its curves keep).
_NOT_IN_RUN_ID = frozenset({"suite", "dataset_as_given", "test_curves"})
Precision = Literal["float32", "bfloat16"]
ScoredAt = Literal["best_val_loss", "last_step"]
SCORED_AT: tuple[ScoredAt, ...] = ("best_val_loss", "last_step")
Regime = Literal["finite", "online"]
# finite: a training set of data_size unique examples, reused over epochs; online: every training example fresh
# (data_size = steps x batch_size examples per seed, each seen once; benchmarks/data/online.py)
REGIMES: tuple[Regime, ...] = ("finite", "online")


class UserError(Exception):
    """Bad input a user can fix. The CLI prints `error: <message>` and exits with code 2."""


@dataclass(frozen=True)
class Splits:
    """A prepared dataset: a training pool, a validation split carved from training data, a test split.

    `x_train[:n]` is the training set of size n (nested prefixes, class-balanced
    where the loader can); `x_val` comes from the training distribution and is
    disjoint from every prefix; `x_test` is held out and only used for ranking.
    """

    task: TaskSpec
    x_train: np.ndarray
    y_train: np.ndarray  # int32 class ids (N), or on a next-token task labels per position (N x L; -1 not scored)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    version: str  # changes whenever the prepared arrays would change (part of run_id)

    @property
    def max_train_size(self) -> int:
        return int(len(self.y_train))


TEST_CURVES = ("best", "full")
_ALWAYS = object()  # equal to no value: a field not in _HASH_DEFAULTS is always hashed
_HASH_DEFAULTS: dict[str, object] = {"scored_at": "best_val_loss", "patience": 0.0, "regime": "finite", "sparsity": 0.0,
                                     "mask": "", **UNSEARCHED}


@dataclass(frozen=True)
class RunSpec:
    """One training run (several seeds trained together) on one dataset at one size."""

    arch: str
    dataset: str
    target_params: int
    data_size: int  # training examples: a prefix of the dataset's training pool
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 1000  # optimizer steps of this run (under an epoch budget: the suite's rule at this data size)
    batch_size: int = 128
    # The learning-rate search (benchmarks/running/lr_search.py, `LrPolicy`: its defaults and rules).
    lr: float = LrPolicy.value  # peak learning rate, used when lr_trials is empty
    lr_trials: tuple[float, ...] = LrPolicy.trials  # if set: the search's grid; the best on validation loss is kept
    lr_extend: int = LrPolicy.extend  # trials added after the grid: outward from an edge holding the best, else refining
    lr_tune_seeds: int = LrPolicy.tune_seeds  # how many seeds (the first) try every rate; the others train at the chosen one
    # grid (every trial to the end) or halving (one rung, `lr_keep` trials finish). The default is what a record
    # made before the search had a name ran; a suite's own default is LrPolicy's.
    lr_search: str = UNSEARCHED["lr_search"]
    lr_rung: float = LrPolicy.rung  # halving: the fraction of the planned evaluations where trials are compared
    lr_keep: int = LrPolicy.keep  # halving: trials that go on from the rung to the end
    budget_epochs: float = 0.0  # the suite's budget in epochs that set `steps` (0: steps given directly)
    weight_decay: float = 1e-4
    warmup_frac: float = 0.05  # linear warm-up over this fraction of steps, then cosine decay to 0
    optimizer: Literal["adamw"] = "adamw"
    schedule: Literal["warmup_cosine"] = "warmup_cosine"
    eval_every: int = 100  # steps between held-out evaluations (learning curves)
    param_tolerance: float = 0.02  # measured parameter count within this fraction of target
    precision: Precision = "float32"
    # Which evaluation a seed is scored at: the lowest validation loss (the protocol's rule), or the last
    # step (a paper's rule, to reproduce its numbers; benchmarks/suites/paper.toml).
    scored_at: ScoredAt = "best_val_loss"
    # Early stopping: a seed stops once its best validation loss is this fraction of the planned evaluations
    # old (0: never; benchmarks/running/protocol.py).
    patience: float = 0.0
    # Which test points the curves keep: "full" every evaluation; "best" only where the scored checkpoint can be
    # (a new best on validation) and each member's last evaluation. The scored figures are the same either way.
    test_curves: str = "full"
    regime: Regime = "finite"  # online: every training example fresh (data_size = steps x batch_size per seed)
    # Sparse training (benchmarks/running/tickets.py, docs/tickets.md): the fraction of the prunable weights that
    # are pruned, and how the mask was made ("" dense; "ticket:..." iterative magnitude pruning with rewinding,
    # "random:..." its control of the same per-layer sparsity; the text names the rule, round and source).
    sparsity: float = 0.0
    mask: str = ""
    suite: str = ""  # the suite it belongs to (for grouping in wandb and reports)
    dataset_as_given: str = ""  # the dataset as the user spelled it, where `dataset` differs (not in the run id)

    def __post_init__(self) -> None:
        checks = [
            (self.target_params > 0, "target_params must be positive"),
            (self.data_size > 0, "data_size must be positive"),
            (len(self.seeds) > 0, "at least one seed is needed"),
            (len(set(self.seeds)) == len(self.seeds), "seeds must be distinct"),
            (self.steps > 0, "steps must be positive"),
            (self.batch_size > 0, "batch_size must be positive"),
            *((False, message) for _, message in LrPolicy.of_spec(self).problems()),
            (0 <= self.lr_tune_seeds <= len(self.seeds), "lr_tune_seeds must be between 0 (all) and the number of seeds"),
            (self.budget_epochs >= 0, "budget_epochs must be 0 or more"),
            (self.eval_every > 0, "eval_every must be positive"),
            (self.steps % self.eval_every == 0, f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})"),
            (0 <= self.warmup_frac < 1, "warmup_frac must be in [0, 1)"),
            (0 < self.param_tolerance < 1, "param_tolerance must be in (0, 1)"),
            (self.precision in ("float32", "bfloat16"), "precision must be float32 or bfloat16"),
            (0 <= self.patience <= 1, "patience must be in [0, 1] (a fraction of the planned evaluations)"),
            (self.test_curves in TEST_CURVES, f"test_curves must be one of {', '.join(TEST_CURVES)}, got {self.test_curves!r}"),
            (self.scored_at in SCORED_AT, f"scored_at must be one of {', '.join(SCORED_AT)}, got {self.scored_at!r}"),
            (self.regime in REGIMES, f"regime must be one of {', '.join(REGIMES)}, got {self.regime!r}"),
            (self.regime != "online" or self.data_size == self.steps * self.batch_size,
             f"data_size ({self.data_size}) must be steps x batch_size ({self.steps * self.batch_size}) in the online "
             "regime: every example a run sees is fresh"),
            (0 <= self.sparsity < 1, f"sparsity must be in [0, 1), got {self.sparsity!r}"),
            (bool(self.mask) == (self.sparsity > 0), "a pruned run names its mask and a named mask prunes something"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"{message} (run {self.arch} on {self.dataset})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        d = dict(d)
        for key in ("seeds", "lr_trials"):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)

    def run_id(self, *, arch_version: str, data_version: str, dataset_identity: str | None = None) -> str:
        """Content hash of the spec and of everything else that changes its result.

        A field added after records existed leaves out its default (`_HASH_DEFAULTS`), so the run ids of
        specs that do not use it stay what they were. `dataset_identity` stands for `dataset` in the hash
        where the name holds something that does not change the result (the path to the user's files:
        their content is in `data_version`).
        """
        unread = LrPolicy.of_spec(self).unread()  # e.g. a search's rung where no rate is searched
        payload = {k: v for k, v in self.to_dict().items()
                   if k not in _NOT_IN_RUN_ID | unread and _HASH_DEFAULTS.get(k, _ALWAYS) != v}
        if dataset_identity is not None:
            payload["dataset"] = dataset_identity
        payload |= {"arch_version": arch_version, "data_version": data_version, "results_version": RESULTS_VERSION}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class SeedResult:
    """Metrics of one seed at the chosen learning rate, at its best checkpoint on validation.

    The scored evaluation is the one with the lowest validation loss (`best_step`), or the last
    where the spec says `scored_at = "last_step"`; the final step's figures are kept beside it.
    The test split chooses nothing.
    """

    seed: int
    # Non-finite values are stored as None (JSON null).
    train_loss: float | None  # mean over the minibatches of the interval ending at best_step
    val_loss: float | None  # at best_step: the lowest validation loss of the run (unless scored at the last step)
    val_acc: float | None
    test_loss: float | None  # at best_step
    test_acc: float | None
    diverged_step: int | None = None  # first step whose loss was not finite
    best_step: int | None = None  # step of the scored evaluation: the lowest validation loss (or the last step)
    converged: bool | None = None  # the last quarter of its evaluations brought < 2% of its improvement (protocol.py)
    final_val_loss: float | None = None  # at the last step it trained (its early stop, if it stopped)
    final_test_loss: float | None = None
    final_test_acc: float | None = None
    stopped_step: int | None = None  # the step it stopped early at (None: it trained its whole budget)
    # Next tokens: the test loss (nats) at each position of the context at best_step, position 0 first (None where
    # no token is scored there). Left out of the JSON where absent (classification), so those records keep their bytes.
    test_position_loss: list[float | None] | None = None


@dataclass(frozen=True)
class Curves:
    """Learning curves at the chosen learning rate; lists indexed [seed][eval]."""

    step: list[int]
    train_loss: list[list[float | None]]
    test_loss: list[list[float | None]]
    test_acc: list[list[float | None]]
    val_loss: list[list[float | None]] = field(default_factory=list)
    val_acc: list[list[float | None]] = field(default_factory=list)


def finite_or_null(value: object) -> object:
    """Non-finite floats become None (JSON null), inside dicts, lists and tuples too; numpy floats become floats."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(v) for v in value]
    return value


TRAIN_FLOPS_PER_FORWARD = 3.0  # a training step: the forward pass and a backward pass of about twice its cost


def training_flops(flops_per_example: float, examples: int) -> float:
    """Training compute of one seed (one member) that sees `examples` examples: forward and backward."""
    return TRAIN_FLOPS_PER_FORWARD * flops_per_example * examples


@dataclass(frozen=True)
class RunRecord:
    """What one RunSpec produced. One JSON object per line in `results/<suite>/runs.jsonl`."""

    run_id: str
    spec: RunSpec
    status: Status
    reason: str = ""  # why it failed or diverged
    shape: dict[str, int] = field(default_factory=dict)  # the solved ArchShape
    params: int = 0  # measured, every parameter counted
    flops_per_example: float = 0.0  # XLA cost analysis of the compiled forward pass
    train_flops: float = 0.0  # training compute of one seed: 3 x flops_per_example x examples seen (0: not recorded)
    lr: float = 0.0  # the learning rate the results are for (chosen on validation loss if tuned)
    lr_trials: dict[str, float | None] = field(default_factory=dict)  # lr -> mean over seeds of the best validation loss
    lr_at_edge: bool = False  # the chosen rate is the smallest or largest of all trials (extensions included)
    # The search's trials (`lr_search.record`): method, rung step, and per trial its rate, score, whether it finished,
    # where each tuning seed stopped and its validation curve ({} for a run without trials, or older records).
    lr_search: dict = field(default_factory=dict)
    converged: bool | None = None  # every seed converged (benchmarks.running.protocol.has_converged)
    epochs: float = 0.0  # passes over the training set that the steps make: steps x batch_size / data_size
    seeds: list[SeedResult] = field(default_factory=list)
    curves: Curves | None = None
    wall_s: float = 0.0
    compile_s: float = 0.0
    steps_per_s: float = 0.0  # member-steps per second of training: every trial and seed's steps, over train time
    examples_per_s: float = 0.0  # training examples per second, all members together
    data_version: str = ""
    env: dict[str, str] = field(default_factory=dict)  # versions, git SHA, device kind and count
    created_at: str = ""

    def to_json(self) -> str:
        """One line of strict JSON; non-finite numbers become null; a seed's absent `test_position_loss` is left out."""
        d = dataclasses.asdict(self)
        d["seeds"] = [{k: v for k, v in s.items() if not (k == "test_position_loss" and v is None)} for s in d["seeds"]]
        return json.dumps(finite_or_null(d), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict) -> RunRecord:
        d = dict(d)
        d["spec"] = RunSpec.from_dict(d["spec"])
        d["seeds"] = [SeedResult(**s) for s in d.get("seeds", [])]
        d["curves"] = Curves(**d["curves"]) if d.get("curves") else None
        return cls(**d)


@dataclass(frozen=True)
class DatasetContrast:
    """Two datasets of a suite that differ in one declared way (MNIST-1D and its shuffled twin; your data and
    a corrupted copy): the report states, per family, what the variant does to the held-out loss."""

    base: str  # dataset names as RunSpecs record them (`benchmarks.data.spec_name`)
    variant: str
    label: str = ""  # what the variant changes, in words ("input order destroyed")

    def to_dict(self) -> dict[str, str]:
        return {"base": self.base, "variant": self.variant, "label": self.label}
