"""A suite file's tables: the budget, learning-rate and logging tables as frozen dataclasses, and the checks of
every table, each error naming the file and line (used by `suite.load_suite`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

import architectures
from benchmarks import data
from benchmarks.data.levels import with_quality
from benchmarks.running.lr_search import LrPolicy
from benchmarks.spec import REGIMES, TEST_CURVES, DatasetContrast, UserError


@dataclass(frozen=True)
class Training:
    epochs: float = 20.0  # budget in passes over the training set (benchmarks.running.protocol.steps_for)
    min_steps: int = 200
    max_steps: int = 2000
    batch_size: int = 128
    eval_every: int = 100
    warmup_frac: float = 0.05
    weight_decay: float = 1e-4
    precision: str = "float32"
    param_tolerance: float = 0.02
    scored_at: str = "best_val_loss"  # or "last_step": a paper's rule, to reproduce its numbers (docs/protocol.md)
    test_curves: str = "best"  # test split only where the scored checkpoint can be; "full": at every evaluation
    patience: float = 0.0  # early stop once the best validation loss is this fraction of the evaluations old (0: never)


@dataclass(frozen=True)
class Logging:
    wandb: str | None = None  # online | offline | disabled; None: not set (the CLI flag or `disabled` decides)
    project: str = "archbench"


WANDB_MODES = ("online", "offline", "disabled")


def line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"""\s*\[?\s*["']?{re.escape(key)}["']?\s*[=\]]""", line):
            return i
    return 0


def check_sizes(raw: dict, text: str, path: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """`[sizes]`: each key names an architecture of the suite (or its family), each value positive integers."""
    sizes = raw.get("sizes", {})
    if not isinstance(sizes, dict):
        raise UserError(f"{path}:{line_of(text, 'sizes')}: [sizes] must be a table: architecture = [sizes]")
    named = raw.get("architectures", ["*"])
    try:
        listed = {architectures.canonical(a) for a in named if isinstance(a, str) and a != "*"}
        if "*" in named:
            listed |= set(architectures.wildcard_names())
        families = {architectures.get(a).name for a in listed}
    except architectures.PluginError as e:
        raise UserError(f"{path}:{line_of(text, 'architectures')}: {e}") from e
    out = []
    for key, values in sizes.items():
        where = f"{path}:{line_of(text, key)}: [sizes] {key}"
        try:
            name = architectures.canonical(key)
        except architectures.PluginError as e:
            raise UserError(f"{where}: {e}") from e
        if name not in listed and name not in families:
            raise UserError(f"{where}: not an architecture of this suite (its architectures: {', '.join(sorted(listed))})")
        if not isinstance(values, list) or not values or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
        ):
            raise UserError(f"{where} must be a non-empty list of positive integers, got {values!r}")
        out.append((name, tuple(values)))
    sized = {name for name, _ in out}
    unsized = sorted(a for a in listed if a not in sized and architectures.get(a).name not in sized)
    if unsized and not raw.get("target_params"):
        raise UserError(f"{path}: 'target_params' must be a non-empty list ([sizes] gives no size to {', '.join(unsized)})")
    return tuple(out)


def check_regime(raw: dict, text: str, path: str) -> tuple[str, tuple[int, ...]]:
    """`regime` and `budgets`: online runs train for each budget (steps) on fresh examples, so they take
    budgets and no data_sizes; finite runs the other way round."""
    regime = raw.get("regime", "finite")
    if regime not in REGIMES:
        raise UserError(f"{path}:{line_of(text, 'regime')}: regime must be one of {', '.join(REGIMES)}, got {regime!r}")
    if regime == "finite":
        if "budgets" in raw:
            raise UserError(f"{path}:{line_of(text, 'budgets')}: budgets need regime = \"online\" (a finite training "
                            "set's budget is tied to its size: [training] epochs, min_steps, max_steps)")
        return regime, ()
    if "data_sizes" in raw:
        raise UserError(f"{path}:{line_of(text, 'data_sizes')}: data_sizes: in the online regime a run sees "
                        "steps x batch_size fresh examples per seed; give its lengths as budgets = [steps, ...]")
    budgets = raw.get("budgets")
    every = raw.get("training", {}).get("eval_every", Training.eval_every)
    if not isinstance(budgets, list) or not budgets or not all(
        isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in budgets
    ):
        raise UserError(f"{path}:{line_of(text, 'budgets') or line_of(text, 'regime')}: budgets must be a non-empty "
                        f"list of positive step counts in the online regime, got {budgets!r}")
    if isinstance(every, int) and every > 0 and any(b % every for b in budgets):
        raise UserError(f"{path}:{line_of(text, 'budgets')}: budgets must be multiples of [training] eval_every "
                        f"({every}), got {budgets!r}")
    if len(set(budgets)) != len(budgets):
        raise UserError(f"{path}:{line_of(text, 'budgets')}: budgets must be distinct, got {budgets!r}")
    return regime, tuple(sorted(budgets))


def check_training_types(training: dict, text: str, path: str) -> None:
    """Each value of a [training] table has the type of its default (an int where a number is asked is fine)."""
    for f in fields(Training):
        value = training.get(f.name)
        kind = type(f.default)
        if value is not None and not (isinstance(value, kind) or (kind is float and isinstance(value, int))) or isinstance(
            value, bool
        ):
            what = {int: "an integer", float: "a number", str: "a string"}[kind]
            raise UserError(f"{path}:{line_of(text, f.name)}: [training] {f.name} must be {what}, got {value!r}")


def check_keys(table: dict, allowed: set[str], where: str, text: str, path: str) -> None:
    for key in table:
        if key not in allowed:
            raise UserError(
                f"{path}:{line_of(text, key)}: unknown key {key!r} in {where} (accepted: {', '.join(sorted(allowed))})"
            )


def check_budget(training: dict, lr: dict, data_sizes: tuple[int, ...], text: str, path: str) -> None:
    """Refuse a budget that cannot be honoured, naming the key and its line."""
    t = Training(**{k: v for k, v in training.items() if k in {f.name for f in fields(Training)}})

    def fail(key: str, message: str) -> None:
        raise UserError(f"{path}:{line_of(text, key)}: {message}")

    if t.epochs <= 0:
        fail("epochs", f"[training] epochs must be positive, got {t.epochs:g}")
    if t.min_steps <= 0 or t.max_steps <= 0:
        fail("min_steps" if t.min_steps <= 0 else "max_steps", "[training] min_steps and max_steps must be positive")
    if t.min_steps > t.max_steps:
        fail("min_steps", f"[training] min_steps ({t.min_steps}) is above max_steps ({t.max_steps})")
    if data_sizes and t.batch_size > 0 and t.max_steps * t.batch_size < min(data_sizes):
        fail("max_steps", f"[training] max_steps ({t.max_steps}) x batch_size ({t.batch_size}) is less than one epoch of the "
             f"smallest data size ({min(data_sizes)})")
    if t.test_curves not in TEST_CURVES:
        fail("test_curves", f"[training] test_curves must be one of {', '.join(TEST_CURVES)}, got {t.test_curves!r}")
    if not 0 <= t.patience <= 1:
        fail("patience", f"[training] patience must be in [0, 1] (a fraction of the planned evaluations; 0: no early "
             f"stop), got {t.patience:g}")
    if 0 < t.patience and math.ceil(t.patience * t.min_steps / t.eval_every) >= t.min_steps // t.eval_every:
        fail("patience", f"[training] patience {t.patience:g} of {t.min_steps // t.eval_every} evaluations (min_steps / "
             "eval_every) leaves no room to stop before the budget ends: lower it or raise min_steps")
    if "trials" in lr:
        trials = lr["trials"]
        if not isinstance(trials, list) or not trials:
            fail("trials", "[lr] trials must be a non-empty list of learning rates")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in trials):
            fail("trials", f"[lr] trials must all be positive numbers, got {trials!r}")
    for key in ("extend", "tune_seeds", "keep"):
        value = lr.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            fail(key, f"[lr] {key} must be a whole number, 0 or more, got {value!r}")
    if "rung" in lr and (not isinstance(lr["rung"], int | float) or isinstance(lr["rung"], bool)):
        fail("rung", f"[lr] rung must be a fraction of the budget, got {lr['rung']!r}")
    for key, message in LrPolicy.from_table(lr).problems() if "trials" in lr else ():
        if key in ("search", "rung", "keep"):
            fail(key, f"[lr] {message}")


def _contrast_line(text: str, index: int, key: str) -> int:
    """Line of `key` in the index-th [[contrasts]] table (the table's header where the key is missing)."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*contrasts\s*\]\]", line)]
    if index >= len(headers):
        return line_of(text, "contrasts")
    for i in range(headers[index] + 1, len(lines)):
        if re.match(r"\s*\[", lines[i]):
            break
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return headers[index] + 1


CONTRAST_KEYS = ("base", "variant", "label")


def _contrast(table: dict, index: int, datasets: tuple[str, ...], text: str, path: str) -> DatasetContrast:
    """One [[contrasts]] table, checked: known datasets of this suite, base and variant distinct."""

    def fail(key: str, message: str) -> None:
        raise UserError(f"{path}:{_contrast_line(text, index, key)}: [[contrasts]] {message}")

    for key in table:
        if key not in CONTRAST_KEYS:
            fail(key, f"unknown key {key!r} (accepted: {', '.join(CONTRAST_KEYS)})")
    in_suite = {data.spec_name(d) for d in datasets}
    names = {}
    for key in ("base", "variant"):
        value = table.get(key)
        if not isinstance(value, str) or not value:
            fail(key, f"{key} must name one of the suite's datasets, got {value!r}")
        try:
            data.info(value)
        except UserError as e:
            fail(key, f"{key}: {e}")
        names[key] = data.spec_name(value)
        if names[key] not in in_suite:
            fail(key, f"{key} = {value!r} is not one of the suite's datasets ({', '.join(datasets)})")
    if names["base"] == names["variant"]:
        fail("variant", f"base and variant are the same dataset ({table['base']!r}): a contrast needs two")
    label = table.get("label", "")
    if not isinstance(label, str):
        fail("label", f"label must be a string, got {label!r}")
    return DatasetContrast(names["base"], names["variant"], label)


def parse_contrasts(raw: object, datasets: tuple[str, ...], text: str, path: str) -> tuple[DatasetContrast, ...]:
    """The suite's [[contrasts]] tables, each checked, none declared twice."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise UserError(f"{path}:{line_of(text, 'contrasts')}: contrasts are tables: [[contrasts]] with "
                        "base = \"DATASET\", variant = \"DATASET\", label = \"what differs\"")
    out: list[DatasetContrast] = []
    for i, table in enumerate(raw):
        contrast = _contrast(table, i, datasets, text, path)
        if any((c.base, c.variant) == (contrast.base, contrast.variant) for c in out):
            raise UserError(f"{path}:{_contrast_line(text, i, 'base')}: [[contrasts]] {table['base']!r} against "
                            f"{table['variant']!r} is declared twice")
        out.append(contrast)
    return tuple(out)


def parse_quality(raw: object, datasets: tuple[str, ...], text: str, path: str) -> tuple[str, ...]:
    """The suite's quality levels, each checked on every dataset, no two giving the same dataset."""
    if raw is None:
        return ()
    where = f"{path}:{line_of(text, 'quality')}"
    if not isinstance(raw, list) or not raw or not all(isinstance(q, str) for q in raw):
        raise UserError(f"{where}: quality must be a non-empty list of levels, e.g. [\"label_noise=0\", \"label_noise=0.1\"]")
    for ds in datasets:
        seen: dict[str, str] = {}
        for level in raw:
            try:
                name = with_quality(ds, level)
            except UserError as e:
                raise UserError(f"{where}: {e}") from e
            if name in seen:
                raise UserError(f"{where}: quality levels {seen[name]!r} and {level!r} are the same dataset ({name})")
            seen[name] = level
    return tuple(raw)
