"""Suite files: which datasets, architectures, sizes, data sizes, seeds and budget.

A suite is a TOML file in `benchmarks/suites/` (named by its stem) or any path.
It is read once into a frozen `Suite` and validated here, with errors that name
the file and line; `Suite.run_specs()` expands it into the sweep's RunSpecs.

    name = "quick"
    datasets = ["mnist1d"]
    architectures = ["*"]            # "*" = every family registered for it; or names, options allowed:
                                     # ["convnet?head=dense", "mlp", "linear"]
    target_params = [10_000, 30_000] # sizes of every family not in [sizes]
    data_sizes = [1000, 4000]
    seeds = [0, 1]

    [sizes]                          # optional: sizes of one family (every variant of it), or of one
    convnet = [5_000]                # variant (quoted: "convnet?head=dense" = [5_000]); replaces
                                     # target_params for it (target_params may then be left out)

    [training]                       # the same budget rule for every architecture
    epochs = 20                      # passes over the training set (a run's steps follow its data size)
    min_steps = 200                  # floor: small training sets still get enough steps
    max_steps = 2000                 # cap: at least one epoch of the smallest data size
    batch_size = 128
    eval_every = 100                 # steps are rounded up to whole evaluation intervals
    patience = 0.25                  # optional early stop: once the best validation loss is a quarter of
                                     # the planned evaluations old (0, the default: never)

    [lr]                             # tuned per run on the validation split:
    trials = [1e-3, 3e-3, 1e-2]      # log-spaced; the same trials for every architecture
    extend = 2                       # then 2 more for every run: outward from an edge, else refining
    tune_seeds = 1                   # seed 0 tries every rate; the other seeds train at the chosen one

    [logging]                        # optional
    wandb = "offline"                # online | offline | disabled (default); --wandb overrides
    project = "archbench"            # W&B project

    quality = ["label_noise=0", "label_noise=0.1"]  # optional: every dataset at each quality level of its
                                     # training data (benchmarks/data/quality.py); the level joins the
                                     # dataset's name (`mnist1d?label_noise=0.1`), defaults leave it as given
    regime = "online"                # optional: "finite" (the default: data_sizes unique examples, reused
                                     # over epochs) or "online" (every training example fresh; procedural
    budgets = [200, 400, 800]        # datasets only): then each size trains for each budget, in steps
                                     # (cosine to each length), on steps x batch_size fresh examples per seed,
                                     # and data_sizes and [training] epochs/min_steps/max_steps are not used

    [[contrasts]]                    # optional, repeatable: two of the suite's datasets that differ in
    base = "mnist1d"                 # one known way; the report states per family what the variant does
    variant = "mnist1d-shuffled"     # to the held-out loss, with intervals (benchmarks/analysis/contrast.py)
    label = "input order destroyed"

    [tickets]                        # optional: how `archbench tickets` prunes (benchmarks/running/tickets_plan.py)
    prune_fraction = 0.2
    target_sparsity = 0.95

A sweep keeps the suite's contrasts beside its records (`RESULTS_DIR/SUITE/contrasts.json`),
where `archbench report` finds them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from itertools import product
from pathlib import Path

import architectures
from benchmarks import data
from benchmarks.data import online
from benchmarks.data.levels import with_quality
from benchmarks.formatting import write_text
from benchmarks.layout import CONTRASTS_FILE, suite_dir
from benchmarks.running import protocol
from benchmarks.running.tickets_plan import TicketsPlan, parse_plan
from benchmarks.spec import REGIMES, DatasetContrast, RunSpec, UserError

SUITES_DIR = Path(__file__).parent.parent / "suites"


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
    patience: float = 0.0  # early stop once the best validation loss is this fraction of the evaluations old (0: never)


@dataclass(frozen=True)
class LrPolicy:
    value: float = 1e-3  # used when trials is empty
    trials: tuple[float, ...] = ()
    extend: int = 0  # trials every run adds after the grid (benchmarks.running.protocol.extension_rates)
    tune_seeds: int = 0  # how many seeds (the first) try every rate; the others train at the chosen one (0: all)


@dataclass(frozen=True)
class Logging:
    wandb: str | None = None  # online | offline | disabled; None: not set (the CLI flag or `disabled` decides)
    project: str = "archbench"


WANDB_MODES = ("online", "offline", "disabled")


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[str, ...]
    architectures: tuple[str, ...]
    target_params: tuple[int, ...]
    data_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    sizes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # [sizes]: architecture or family -> its targets
    training: Training = field(default_factory=Training)
    lr: LrPolicy = field(default_factory=LrPolicy)
    logging: Logging = field(default_factory=Logging)
    description: str = ""
    path: str = ""
    contrasts: tuple[DatasetContrast, ...] = ()  # dataset names as the RunSpecs record them
    quality: tuple[str, ...] = ()  # quality levels applied to every dataset (benchmarks.data.levels)

    def resolved_datasets(self) -> list[str]:
        """Every dataset at every quality level, as the RunSpecs name them (the datasets as given without levels)."""
        return [with_quality(ds, q) for ds in self.datasets for q in self.quality or ("",)]
    regime: str = "finite"  # "online": every training example fresh; the training lengths are `budgets`
    budgets: tuple[int, ...] = ()  # online: steps of each run of a size (a run per budget, cosine to its length)
    tickets: TicketsPlan | None = None  # [tickets]: lottery tickets of every run (`archbench tickets`)

    def resolved_architectures(self) -> list[str]:
        """The suite's architectures by canonical name; `"*"` is every family registered for it."""
        if "*" in self.architectures:
            return architectures.wildcard_names()
        try:
            return list(dict.fromkeys(architectures.canonical(a) for a in self.architectures))
        except architectures.PluginError as e:
            raise UserError(f"{self.path or self.name}: {e}") from e

    def target_params_for(self, arch: str) -> tuple[int, ...]:
        """The sizes an architecture trains at: its own `[sizes]` entry, else its family's, else target_params."""
        sizes = dict(self.sizes)
        return sizes.get(arch) or sizes.get(architectures.get(arch).name) or self.target_params

    def all_target_params(self) -> tuple[int, ...]:
        """Every size some architecture of the suite trains at, ascending."""
        return tuple(sorted({n for a in self.resolved_architectures() for n in self.target_params_for(a)}))

    def steps_for(self, data_size: int) -> int:
        """The steps the budget gives a training set of this size."""
        t = self.training
        return protocol.steps_for(data_size, t.batch_size, t.epochs, t.min_steps, t.max_steps, t.eval_every)

    def run_specs(self) -> list[RunSpec]:
        """Every run of the suite, grouped by dataset, architecture and size (so compiled programs are reused)."""
        t = self.training
        if self.regime == "online":
            return [
                RunSpec(
                    arch=arch, **data.spec_fields(ds), target_params=n, data_size=steps * t.batch_size, seeds=self.seeds,
                    steps=steps, batch_size=t.batch_size, lr=self.lr.value, lr_trials=self.lr.trials,
                    lr_extend=self.lr.extend, lr_tune_seeds=self.lr.tune_seeds, weight_decay=t.weight_decay,
                    warmup_frac=t.warmup_frac, eval_every=t.eval_every, param_tolerance=t.param_tolerance,
                    precision=t.precision, scored_at=t.scored_at, patience=t.patience, regime="online", suite=self.name,
                )
                for ds, arch in product(self.datasets, self.resolved_architectures())
                for n, steps in product(self.target_params_for(arch), self.budgets)
            ]
        return [
            RunSpec(
                arch=arch, **data.spec_fields(ds), target_params=n, data_size=d, seeds=self.seeds,
                steps=self.steps_for(d), batch_size=t.batch_size, lr=self.lr.value, lr_trials=self.lr.trials,
                lr_extend=self.lr.extend, lr_tune_seeds=self.lr.tune_seeds, budget_epochs=t.epochs,
                weight_decay=t.weight_decay, warmup_frac=t.warmup_frac, eval_every=t.eval_every,
                param_tolerance=t.param_tolerance, precision=t.precision, scored_at=t.scored_at, patience=t.patience,
                suite=self.name,
            )
            for ds, arch in product(self.resolved_datasets(), self.resolved_architectures())
            for n, d in product(self.target_params_for(arch), self.data_sizes)
        ]


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"""\s*\[?\s*["']?{re.escape(key)}["']?\s*[=\]]""", line):
            return i
    return 0


def _check_sizes(raw: dict, text: str, path: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """`[sizes]`: each key names an architecture of the suite (or its family), each value positive integers."""
    sizes = raw.get("sizes", {})
    if not isinstance(sizes, dict):
        raise UserError(f"{path}:{_line_of(text, 'sizes')}: [sizes] must be a table: architecture = [sizes]")
    named = raw.get("architectures", ["*"])
    try:
        listed = {architectures.canonical(a) for a in named if isinstance(a, str) and a != "*"}
        if "*" in named:
            listed |= set(architectures.wildcard_names())
        families = {architectures.get(a).name for a in listed}
    except architectures.PluginError as e:
        raise UserError(f"{path}:{_line_of(text, 'architectures')}: {e}") from e
    out = []
    for key, values in sizes.items():
        where = f"{path}:{_line_of(text, key)}: [sizes] {key}"
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


def _check_regime(raw: dict, text: str, path: str) -> tuple[str, tuple[int, ...]]:
    """`regime` and `budgets`: online runs train for each budget (steps) on fresh examples, so they take
    budgets and no data_sizes; finite runs the other way round."""
    regime = raw.get("regime", "finite")
    if regime not in REGIMES:
        raise UserError(f"{path}:{_line_of(text, 'regime')}: regime must be one of {', '.join(REGIMES)}, got {regime!r}")
    if regime == "finite":
        if "budgets" in raw:
            raise UserError(f"{path}:{_line_of(text, 'budgets')}: budgets need regime = \"online\" (a finite training "
                            "set's budget is tied to its size: [training] epochs, min_steps, max_steps)")
        return regime, ()
    if "data_sizes" in raw:
        raise UserError(f"{path}:{_line_of(text, 'data_sizes')}: data_sizes: in the online regime a run sees "
                        "steps x batch_size fresh examples per seed; give its lengths as budgets = [steps, ...]")
    budgets = raw.get("budgets")
    every = raw.get("training", {}).get("eval_every", Training.eval_every)
    if not isinstance(budgets, list) or not budgets or not all(
        isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in budgets
    ):
        raise UserError(f"{path}:{_line_of(text, 'budgets') or _line_of(text, 'regime')}: budgets must be a non-empty "
                        f"list of positive step counts in the online regime, got {budgets!r}")
    if isinstance(every, int) and every > 0 and any(b % every for b in budgets):
        raise UserError(f"{path}:{_line_of(text, 'budgets')}: budgets must be multiples of [training] eval_every "
                        f"({every}), got {budgets!r}")
    if len(set(budgets)) != len(budgets):
        raise UserError(f"{path}:{_line_of(text, 'budgets')}: budgets must be distinct, got {budgets!r}")
    return regime, tuple(sorted(budgets))


def _check_keys(table: dict, allowed: set[str], where: str, text: str, path: str) -> None:
    for key in table:
        if key not in allowed:
            raise UserError(
                f"{path}:{_line_of(text, key)}: unknown key {key!r} in {where} (accepted: {', '.join(sorted(allowed))})"
            )


def _check_budget(training: dict, lr: dict, data_sizes: tuple[int, ...], text: str, path: str) -> None:
    """Refuse a budget that cannot be honoured, naming the key and its line."""
    t = Training(**{k: v for k, v in training.items() if k in {f.name for f in fields(Training)}})

    def fail(key: str, message: str) -> None:
        raise UserError(f"{path}:{_line_of(text, key)}: {message}")

    if t.epochs <= 0:
        fail("epochs", f"[training] epochs must be positive, got {t.epochs:g}")
    if t.min_steps <= 0 or t.max_steps <= 0:
        fail("min_steps" if t.min_steps <= 0 else "max_steps", "[training] min_steps and max_steps must be positive")
    if t.min_steps > t.max_steps:
        fail("min_steps", f"[training] min_steps ({t.min_steps}) is above max_steps ({t.max_steps})")
    if data_sizes and t.batch_size > 0 and t.max_steps * t.batch_size < min(data_sizes):
        fail("max_steps", f"[training] max_steps ({t.max_steps}) x batch_size ({t.batch_size}) is less than one epoch of the "
             f"smallest data size ({min(data_sizes)})")
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
    for key in ("extend", "tune_seeds"):
        value = lr.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            fail(key, f"[lr] {key} must be a whole number, 0 or more, got {value!r}")


def _contrast_line(text: str, index: int, key: str) -> int:
    """Line of `key` in the index-th [[contrasts]] table (the table's header where the key is missing)."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*contrasts\s*\]\]", line)]
    if index >= len(headers):
        return _line_of(text, "contrasts")
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


def _contrasts(raw: object, datasets: tuple[str, ...], text: str, path: str) -> tuple[DatasetContrast, ...]:
    """The suite's [[contrasts]] tables, each checked, none declared twice."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise UserError(f"{path}:{_line_of(text, 'contrasts')}: contrasts are tables: [[contrasts]] with "
                        "base = \"DATASET\", variant = \"DATASET\", label = \"what differs\"")
    out: list[DatasetContrast] = []
    for i, table in enumerate(raw):
        contrast = _contrast(table, i, datasets, text, path)
        if any((c.base, c.variant) == (contrast.base, contrast.variant) for c in out):
            raise UserError(f"{path}:{_contrast_line(text, i, 'base')}: [[contrasts]] {table['base']!r} against "
                            f"{table['variant']!r} is declared twice")
        out.append(contrast)
    return tuple(out)


def _quality(raw: object, datasets: tuple[str, ...], text: str, path: str) -> tuple[str, ...]:
    """The suite's quality levels, each checked on every dataset, no two giving the same dataset."""
    if raw is None:
        return ()
    where = f"{path}:{_line_of(text, 'quality')}"
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


def save_contrasts(suite: Suite, results_dir: str | Path) -> None:
    """Keep the suite's contrasts beside its records, for `archbench report` (no contrasts: no file)."""
    path = suite_dir(results_dir, suite.name) / CONTRASTS_FILE
    if suite.contrasts:
        doc = {"suite": suite.name, "contrasts": [c.to_dict() for c in suite.contrasts]}
        write_text(path, json.dumps(doc, indent=1) + "\n")
    else:
        path.unlink(missing_ok=True)


def declared_contrasts(results_dir: str | Path, suite_name: str) -> tuple[DatasetContrast, ...]:
    """The contrasts the last sweep of a suite declared; for results without the file (swept before
    contrasts were kept), those of the built-in suite of that name, if there is one."""
    path = suite_dir(results_dir, suite_name) / CONTRASTS_FILE
    if path.is_file():
        try:
            return tuple(DatasetContrast(**c) for c in json.loads(path.read_text())["contrasts"])
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is damaged ({type(e).__name__}: {e}); run the suite's sweep again to rewrite it") from e
    if (SUITES_DIR / f"{suite_name}.toml").is_file():
        return load_suite(suite_name).contrasts
    return ()


def resolve_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UserError(f"suite file {name_or_path} does not exist")
        return path
    candidate = SUITES_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.toml")))
        raise UserError(f"unknown suite {name_or_path!r} (known: {known}; or give a path to a .toml file)")
    return candidate


def load_suite(name_or_path: str) -> Suite:
    """Read and validate a suite by name (`benchmarks/suites/NAME.toml`) or path."""
    path = resolve_path(name_or_path)
    text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"at line (\d+)", str(e))
        raise UserError(f"{path}:{line.group(1) if line else len(text.splitlines())}: malformed TOML: {e}") from e
    top = {
        "name", "description", "datasets", "architectures", "target_params", "sizes", "data_sizes", "seeds", "training",
        "lr", "logging", "contrasts", "quality", "regime", "budgets", "tickets",
    }
    _check_keys(raw, top, "the suite", text, str(path))
    if "steps" in raw.get("training", {}):
        raise UserError(
            f"{path}:{_line_of(text, 'steps')}: [training] steps: a fixed number of steps trains a larger training set "
            "for fewer epochs; state the budget as epochs = E with min_steps and max_steps"
        )
    _check_keys(raw.get("training", {}), {f.name for f in fields(Training)}, "[training]", text, str(path))
    _check_keys(raw.get("lr", {}), {f.name for f in fields(LrPolicy)}, "[lr]", text, str(path))
    _check_keys(raw.get("logging", {}), {f.name for f in fields(Logging)}, "[logging]", text, str(path))
    wandb_mode = raw.get("logging", {}).get("wandb")
    if wandb_mode is not None and wandb_mode not in WANDB_MODES:
        raise UserError(
            f"{path}:{_line_of(text, 'wandb')}: [logging] wandb = {wandb_mode!r} is not a mode (accepted: {', '.join(WANDB_MODES)})"
        )
    for f in fields(Training):  # types of the budget, by the type of each default
        value = raw.get("training", {}).get(f.name)
        kind = type(f.default)
        if value is not None and not (isinstance(value, kind) or (kind is float and isinstance(value, int))) or isinstance(
            value, bool
        ):
            what = {int: "an integer", float: "a number", str: "a string"}[kind]
            raise UserError(f"{path}:{_line_of(text, f.name)}: [training] {f.name} must be {what}, got {value!r}")
    regime, budgets = _check_regime(raw, text, str(path))
    for key in ("datasets", "seeds") + (("data_sizes",) if regime == "finite" else ()):
        if not raw.get(key):
            raise UserError(f"{path}: {key!r} must be a non-empty list")
    sizes = _check_sizes(raw, text, str(path))

    def ints(key: str) -> tuple[int, ...]:
        values = raw[key]
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise UserError(f"{path}:{_line_of(text, key)}: {key!r} must be a list of integers")
        return tuple(values)

    lr_raw = raw.get("lr", {})
    data_sizes = ints("data_sizes") if regime == "finite" else ()
    _check_budget(raw.get("training", {}), lr_raw, data_sizes, text, str(path))
    for ds in raw.get("datasets", ()) if isinstance(raw.get("datasets"), list) else ():
        try:
            data.info(ds)
            if regime == "online":
                online.check_online(ds)
        except UserError as e:
            raise UserError(f"{path}:{_line_of(text, 'datasets')}: {e}") from e
    try:
        suite = Suite(
            name=str(raw.get("name", path.stem)),
            description=str(raw.get("description", "")),
            datasets=tuple(raw["datasets"]),
            architectures=tuple(raw.get("architectures", ["*"])),
            target_params=ints("target_params") if "target_params" in raw else (),
            sizes=sizes,
            data_sizes=data_sizes,
            regime=regime,
            budgets=budgets,
            seeds=ints("seeds"),
            training=Training(**raw.get("training", {})),
            lr=LrPolicy(value=float(lr_raw.get("value", 1e-3)), trials=tuple(float(v) for v in lr_raw.get("trials", ())),
                        extend=int(lr_raw.get("extend", 0)), tune_seeds=int(lr_raw.get("tune_seeds", 0))),
            logging=Logging(**raw.get("logging", {})),
            path=str(path),
        )
        specs = suite.run_specs()  # validates every RunSpec (budgets, seeds, rates) and architecture names
    except TypeError as e:
        raise UserError(f"{path}: {e}") from e
    except UserError as e:
        message = str(e).removeprefix(f"{path}: ")
        first = message.split()[0]  # the message names the setting it is about
        key = {"learning": "lr", "learning-rate": "trials", "lr_tune_seeds": "tune_seeds", "at": "seeds",
               "unknown": "architectures", "data_size": "data_sizes"}.get(first, first)
        raise UserError(f"{path}:{_line_of(text, key)}: {message}") from e
    suite = dataclasses.replace(suite, quality=_quality(raw.get("quality"), suite.datasets, text, str(path)))
    if not specs:
        raise UserError(f"{path}: the suite expands to no runs")
    tickets = None
    if "tickets" in raw:
        shortest = min(spec.steps for spec in specs)
        tickets = parse_plan(raw["tickets"], lambda key: _line_of(text, key), str(path), shortest, suite.training.eval_every)
    contrasts = _contrasts(raw.get("contrasts"), suite.datasets, text, str(path))
    return dataclasses.replace(suite, contrasts=contrasts, tickets=tickets)
