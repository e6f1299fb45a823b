"""`archbench archs`: every family's matched shape, measured count, FLOPs and state size for a dataset;
`archbench new-arch NAME`: write a working template for a new family.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import keyword
import re
import sys
from pathlib import Path

import architectures
from benchmarks import data
from benchmarks.formatting import human, table_console, write_text
from benchmarks.spec import TaskSpec, UserError

TEMPLATE = Path(architectures.__file__).parent / "_template.py"
STATE_NOTE = ("state: floats one example carries from one position to the next, every layer together "
              "(a recurrence's state; attention's keys and values at the task's length); - where a family reads no sequence")


def notes(archs: list[str]) -> list[str]:
    """What the table cannot show: each family's options, fixed sizes, families `"*"` leaves out."""
    families = [architectures.get(name) for name in dict.fromkeys(architectures.get(a).name for a in archs)]
    lines = [
        f"{f.name}?KEY=VALUE options (default first): " + ", ".join(
            f"{k}={'|'.join(f.choices[k])}" if k in f.choices else f"{k}={v}" for k, v in f.options.items()
        )
        for f in families if f.options
    ]
    fixed = [f.name for f in families if f.fixed_size]
    if fixed:
        lines.append(f"fixed size (no width to solve; its real count whatever the target): {', '.join(fixed)}")
    named_only = [f.name for f in families if not f.wildcard]
    if named_only:
        lines.append(f'not in architectures = ["*"] (a suite runs them where it names them): {", ".join(named_only)}')
    return lines


def _table(task: TaskSpec, rows: list[dict], tolerance: float):
    from rich import box
    from rich.table import Table

    shape = "x".join(map(str, task.input_shape))
    vocab = f", vocab {task.vocab_size}" if task.input_kind == "tokens" else ""
    predicts = "the next token at every position" if task.causal else f"{task.num_classes} classes"
    table = Table(
        title=f"{task.name}: {task.input_kind} {shape}{vocab}, {predicts}; counts measured, within ±{tolerance:.0%}",
        box=box.SIMPLE_HEAD, pad_edge=False,
    )
    tokens = task.input_kind == "tokens"  # embeddings only where tokens are embedded: the count without them too
    columns = ["arch", "target", "width", "depth", "hidden", "params"] + (["non-embedding"] if tokens else [])
    for col in columns + ["deviation", "FLOPs/example", "state"]:
        table.add_column(col, justify="left" if col == "arch" else "right", no_wrap=True)
    for r in rows:
        if r["error"]:
            table.add_row(r["arch"], f"{r['target_params']:,}", "-", "-", "-", "-", *(["-"] if tokens else []),
                          "[red]no match[/]", "-", "-")
            continue
        s = r["shape"]
        state = f"{r['state_size']:,}" if r["state_size"] is not None else "-"  # None: the family reads no sequence
        counts = [f"{r['params']:,}"] + ([f"{r['non_embedding_params']:,}"] if tokens else [])
        if r["fixed_size"]:
            table.add_row(r["arch"], f"{r['target_params']:,}", "-", str(s["depth"]), "-", *counts,
                          "fixed size", human(r["flops_per_example"]), state)
            continue
        hidden = str(s["hidden"]) if s["hidden"] else "-"  # 0: the family has no hidden knob
        table.add_row(r["arch"], f"{r['target_params']:,}", str(s["width"]), str(s["depth"]), hidden,
                      *counts, f"{r['deviation']:+.2%}", human(r["flops_per_example"]), state)
    return table


def code_version(arch: str) -> str | None:
    """What a family's matched shapes and FLOPs depend on besides its inputs: the source of its module, of
    the `architectures` package and of the solver, and the jax and flax versions (None: its module has no file)."""
    from importlib import metadata

    from benchmarks.running import sizing

    module_file = getattr(sys.modules.get(architectures.get(arch).source), "__file__", None)
    if module_file is None:
        return None
    files = sorted({Path(module_file), Path(sizing.__file__), *Path(architectures.__file__).parent.glob("*.py")})
    digest = hashlib.sha256(f"jax {metadata.version('jax')} flax {metadata.version('flax')}".encode())
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def measured_rows(task: TaskSpec, archs: list[str], targets: list[int], tolerance: float, fresh: bool) -> list[dict]:
    """`sizing.matched_shapes`, each row remembered under ARCHBENCH_CACHE/archs/ by everything it depends on
    (the family's code, the task, the target, the tolerance), so asking again answers at once."""
    from benchmarks.running import sizing

    folder = data.cache_root() / "archs"
    rows: dict[tuple[str, int], dict] = {}
    files: dict[tuple[str, int], Path] = {}
    for arch in archs:
        code = code_version(arch)
        for target in targets if code is not None else ():
            key = json.dumps([arch, dataclasses.asdict(task), target, tolerance, code], sort_keys=True)
            files[arch, target] = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
            if files[arch, target].is_file() and not fresh:
                rows[arch, target] = json.loads(files[arch, target].read_text())
    by_missing: dict[tuple[int, ...], list[str]] = {}  # families missing the same targets: one call, one compiler
    for arch in archs:
        by_missing.setdefault(tuple(t for t in targets if (arch, t) not in rows), []).append(arch)
    for missing, group in by_missing.items():
        for row in sizing.matched_shapes(task, group, list(missing), tolerance) if missing else []:
            rows[row["arch"], row["target_params"]] = row
            if (row["arch"], row["target_params"]) in files:
                write_text(files[row["arch"], row["target_params"]], json.dumps(row))
    return [rows[arch, target] for arch in archs for target in targets]


def cmd_archs(args: argparse.Namespace) -> int:
    from benchmarks.running import sizing

    targets = sizing.parse_counts(args.params)
    archs = [architectures.canonical(a.strip()) for a in args.arch.split(",") if a.strip()] or architectures.names()
    task = data.task(args.dataset)
    listing = measured_rows(task, archs, targets, args.tolerance, args.fresh)
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        console = table_console()
        console.print(_table(task, listing, args.tolerance))
        for r in listing:
            if r["error"]:
                console.print(f"[red]no match:[/] {r['error']}")
        for line in notes(archs):
            console.print(line, highlight=False, markup=False)
        console.print(STATE_NOTE, highlight=False, markup=False)
    return 0


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def new_arch(name: str, directory: Path) -> Path:
    """Write `directory/NAME.py`, a working family registered as NAME, from the package's template."""
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name != name.lower():
        raise UserError(f"{name!r} is not a valid architecture name: use a lower-case Python identifier, e.g. my_net")
    path = directory / f"{name}.py"
    if path.exists():
        raise UserError(f"{path} already exists; choose another name or edit that file")
    try:
        architectures.get(name)
    except architectures.PluginError:
        pass
    else:
        raise UserError(f"an architecture named {name!r} is already registered ({architectures.get(name).source})")
    text = TEMPLATE.read_text()
    text = re.sub(r"\bTemplate", _camel(name), text).replace('"template"', f'"{name}"')
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cmd_new_arch(args: argparse.Namespace) -> int:
    path = new_arch(args.name, Path(args.dir) if args.dir else TEMPLATE.parent)
    plugin = f" --plugin {path}" if args.dir else ""
    print(f"""wrote {path}: a working family registered as {args.name!r} (a residual per-position MLP).
Make it yours:
  1. {_camel(args.name)}Config: the hyperparameters, one field a line
  2. {_camel(args.name)}Block / {_camel(args.name)}Net: your layers (shared ones are in architectures/layers.py)
  3. _depth: blocks at a parameter target (the solver then fits width and hidden)
  4. @register(...): hidden_ratio, width_multiple, min_width, hidden_min, hidden_step, description
Check it:  archbench archs{plugin} --dataset mnist1d --params 10k,100k --arch {args.name}
Test it:   archbench check-arch{plugin} --arch {args.name}
Guide:     docs/adding-an-architecture.md""")
    return 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "archs", parents=[common], help="list architectures with matched shapes, counts and FLOPs for a dataset",
        description="For each architecture family and parameter target: the shape the sizing solver finds on the "
        "dataset's inputs, the measured parameter count, its deviation from the target, forward FLOPs per "
        "example (XLA cost analysis) and the recurrent state size (floats carried between positions per example; "
        "attention's key-value cache at the task's length).",
    )
    p.add_argument("--dataset", default="mnist1d", help="dataset whose inputs size the models (default: %(default)s)")
    p.add_argument("--params", default="10k,100k,1M", help="comma-separated targets, e.g. 10k,100k,2.5M (default: %(default)s)")
    p.add_argument("--arch", default="", help="comma-separated families, options allowed: convnet?head=dense "
                   "(default: every registered one)")
    p.add_argument("--tolerance", type=float, default=0.02, help="allowed relative deviation (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--fresh", action="store_true", help="measure every row again rather than read the ones "
                   "remembered in ARCHBENCH_CACHE/archs/ (kept per family code, inputs and target)")
    p.set_defaults(func=cmd_archs)

    p = subparsers.add_parser(
        "new-arch", parents=[common], help="write a template for a new architecture family",
        description="Write architectures/NAME.py, a working family registered as NAME, to edit into yours. "
        "The test matrix and every command pick it up with no other change.",
    )
    p.add_argument("name", help="family name: a lower-case Python identifier")
    p.add_argument("--dir", default="", help="folder to write into, e.g. one outside the repo to load with --plugin "
                   "(default: the architectures package)")
    p.set_defaults(func=cmd_new_arch)
