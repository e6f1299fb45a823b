"""Suite files: which datasets, architectures, sizes, data sizes, seeds and budget.

A suite is a TOML file in `benchmarks/suites/` (named by its stem) or any path.
It is read once into a frozen `Suite` and validated (each table in `suite_checks.py`), with errors that name
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

    [training."pydoc?context=64"]    # optional: one dataset's own budget (a dataset of `datasets`, quoted);
    epochs = 4                       # its keys replace those of [training] for that dataset's runs, the rest
    batch_size = 32                  # are [training]'s (a suite of two task kinds: signals and text)

    [lr]                             # tuned per run on the validation split:
    trials = [1e-3, 3e-3, 1e-2]      # log-spaced; the same trials for every architecture
    extend = 2                       # then 2 more for every run: outward from an edge, else refining
    tune_seeds = 1                   # seed 0 tries every rate; the other seeds train at the chosen one
    search = "halving"               # grid (the default): every trial to the end; halving: every trial to
    rung = 0.25                      # a quarter of the budget, the 2 best there (keep = 2) on to the end
                                     # (benchmarks/running/lr_search.py, docs/protocol.md)

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
    variant = "mnist1d-shuffled"     # to the held-out loss, with intervals (verdict_statistics/dataset_contrasts.py)
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
from benchmarks.running.lr_search import LrPolicy
from benchmarks.running.suite_checks import (
    WANDB_MODES,
    Logging,
    Training,
    check_budget,
    check_keys,
    check_regime,
    check_sizes,
    check_training_types,
    line_of,
    parse_contrasts,
    parse_quality,
)
from benchmarks.running.tickets_plan import TicketsPlan, parse_plan
from benchmarks.spec import DatasetContrast, RunSpec, UserError

SUITES_DIR = Path(__file__).parent.parent / "suites"


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
    dataset_training: tuple[tuple[str, Training], ...] = ()  # [training."DATASET"]: that dataset's own budget

    def training_for(self, dataset: str) -> Training:
        """The budget of one dataset's runs: its own `[training."DATASET"]` table, else `[training]`.
        A dataset at a quality level takes the table of the dataset as the suite names it."""
        own = dict(self.dataset_training)
        for ds in self.datasets:
            if ds in own and dataset in {with_quality(ds, q) for q in self.quality or ("",)}:
                return own[ds]
        return self.training

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

    def steps_for(self, data_size: int, dataset: str | None = None) -> int:
        """The steps the budget gives a training set of this size (of `dataset`: its own budget, if it has one)."""
        t = self.training if dataset is None else self.training_for(dataset)
        return protocol.steps_for(data_size, t.batch_size, t.epochs, t.min_steps, t.max_steps, t.eval_every)

    def run_specs(self) -> list[RunSpec]:
        """Every run of the suite, grouped by dataset, architecture and size (so compiled programs are reused)."""
        t = self.training
        if self.regime == "online":
            return [
                RunSpec(
                    arch=arch, **data.spec_fields(ds), target_params=n, data_size=steps * t.batch_size, seeds=self.seeds,
                    steps=steps, batch_size=t.batch_size, **self.lr.spec_fields(), weight_decay=t.weight_decay,
                    warmup_frac=t.warmup_frac, eval_every=t.eval_every, param_tolerance=t.param_tolerance,
                    precision=t.precision, scored_at=t.scored_at, patience=t.patience, regime="online", suite=self.name,
                    test_curves=t.test_curves,
                )
                for ds, arch in product(self.datasets, self.resolved_architectures())
                for n, steps in product(self.target_params_for(arch), self.budgets)
            ]
        return [
            RunSpec(
                arch=arch, **data.spec_fields(ds), target_params=n, data_size=d, seeds=self.seeds,
                steps=self.steps_for(d, ds), batch_size=t.batch_size, **self.lr.spec_fields(), budget_epochs=t.epochs,
                weight_decay=t.weight_decay, warmup_frac=t.warmup_frac, eval_every=t.eval_every,
                param_tolerance=t.param_tolerance, precision=t.precision, scored_at=t.scored_at, patience=t.patience,
                suite=self.name, test_curves=t.test_curves,
            )
            for ds, arch in product(self.resolved_datasets(), self.resolved_architectures())
            for t in (self.training_for(ds),)
            for n, d in product(self.target_params_for(arch), self.data_sizes)
        ]


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
        from benchmarks.formatting import did_you_mean

        known = sorted(p.stem for p in SUITES_DIR.glob("*.toml"))
        raise UserError(f"unknown suite {name_or_path!r}{did_you_mean(name_or_path, known)} "
                        f"(known: {', '.join(known)}; or give a path to a .toml file)")
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
    check_keys(raw, top, "the suite", text, str(path))
    if "steps" in raw.get("training", {}):
        raise UserError(
            f"{path}:{line_of(text, 'steps')}: [training] steps: a fixed number of steps trains a larger training set "
            "for fewer epochs; state the budget as epochs = E with min_steps and max_steps"
        )
    raw_training = raw.get("training", {})
    own = {k: v for k, v in raw_training.items() if isinstance(v, dict)}  # [training."DATASET"] tables
    raw["training"] = {k: v for k, v in raw_training.items() if k not in own}
    check_keys(raw["training"], {f.name for f in fields(Training)}, "[training]", text, str(path))
    check_keys(raw.get("lr", {}), {f.name for f in fields(LrPolicy)}, "[lr]", text, str(path))
    check_keys(raw.get("logging", {}), {f.name for f in fields(Logging)}, "[logging]", text, str(path))
    wandb_mode = raw.get("logging", {}).get("wandb")
    if wandb_mode is not None and wandb_mode not in WANDB_MODES:
        raise UserError(
            f"{path}:{line_of(text, 'wandb')}: [logging] wandb = {wandb_mode!r} is not a mode (accepted: {', '.join(WANDB_MODES)})"
        )
    for table in [raw["training"], *own.values()]:
        check_training_types(table, text, str(path))
    regime, budgets = check_regime(raw, text, str(path))
    for key in ("datasets", "seeds") + (("data_sizes",) if regime == "finite" else ()):
        if not raw.get(key):
            raise UserError(f"{path}: {key!r} must be a non-empty list")
    sizes = check_sizes(raw, text, str(path))

    def ints(key: str) -> tuple[int, ...]:
        values = raw[key]
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise UserError(f"{path}:{line_of(text, key)}: {key!r} must be a list of integers")
        return tuple(values)

    lr_raw = raw.get("lr", {})
    data_sizes = ints("data_sizes") if regime == "finite" else ()
    check_budget(raw.get("training", {}), lr_raw, data_sizes, text, str(path))
    dataset_training = []
    for ds, table in own.items():
        where = f"{path}:{line_of(text, 'training.' + ds) or line_of(text, ds)}: [training.{ds!r}]"
        if ds not in raw.get("datasets", ()):
            raise UserError(f"{where}: not a dataset of this suite (its datasets: {', '.join(raw.get('datasets', ()))})")
        check_keys(table, {f.name for f in fields(Training)}, f"[training.{ds!r}]", text, str(path))
        merged = {**raw["training"], **table}
        check_budget(merged, {}, data_sizes, text, str(path))
        dataset_training.append((ds, Training(**merged)))
    for ds in raw.get("datasets", ()) if isinstance(raw.get("datasets"), list) else ():
        try:
            data.info(ds)
            if regime == "online":
                online.check_online(ds)
        except UserError as e:
            raise UserError(f"{path}:{line_of(text, 'datasets')}: {e}") from e
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
            lr=LrPolicy.from_table(lr_raw),
            logging=Logging(**raw.get("logging", {})),
            path=str(path),
            dataset_training=tuple(dataset_training),
        )
        specs = suite.run_specs()  # validates every RunSpec (budgets, seeds, rates) and architecture names
    except TypeError as e:
        raise UserError(f"{path}: {e}") from e
    except UserError as e:
        message = str(e).removeprefix(f"{path}: ")
        first = message.split()[0]  # the message names the setting it is about
        key = {"learning": "lr", "learning-rate": "trials", "lr_tune_seeds": "tune_seeds", "at": "seeds",
               "unknown": "architectures", "data_size": "data_sizes"}.get(first, first)
        raise UserError(f"{path}:{line_of(text, key)}: {message}") from e
    suite = dataclasses.replace(suite, quality=parse_quality(raw.get("quality"), suite.datasets, text, str(path)))
    if not specs:
        raise UserError(f"{path}: the suite expands to no runs")
    tickets = None
    if "tickets" in raw:
        shortest = min(spec.steps for spec in specs)
        tickets = parse_plan(raw["tickets"], lambda key: line_of(text, key), str(path), shortest, suite.training.eval_every)
    contrasts = parse_contrasts(raw.get("contrasts"), suite.datasets, text, str(path))
    return dataclasses.replace(suite, contrasts=contrasts, tickets=tickets)
