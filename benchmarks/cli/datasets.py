"""`archbench datasets`: list every dataset (kind, shape, classes, sizes, whether it
works offline), describe some, or download and prepare them."""

from __future__ import annotations

import argparse
import json
import time

from benchmarks import data
from benchmarks.formatting import table_console
from benchmarks.spec import UserError


def _offline_cell(row: dict) -> str:
    if row["source"] != "hub":
        return "yes"
    return "cached" if row["available_offline"] else "no"


def _table(rows: list[dict]):
    from rich.table import Table

    def count(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"

    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col, justify in [("dataset", "left"), ("kind", "left"), ("shape", "left"), ("classes", "right"),
                         ("vocab", "right"), ("max train", "right"), ("val", "right"), ("test", "right"),
                         ("offline", "left")]:
        table.add_column(col, justify=justify, no_wrap=True)
    for r in rows:
        shape = "x".join(map(str, r["input_shape"])) if r["input_shape"] else "-"
        table.add_row(r["name"], r["input_kind"] or "-", shape, count(r["num_classes"]),
                      count(r["vocab_size"] or None), count(r["max_train_size"]), count(r["val_size"]),
                      count(r["test_size"]), _offline_cell(r))
    return table


def cmd_datasets(args: argparse.Namespace) -> int:
    if args.download:
        if not args.names:
            raise UserError("name the datasets to download, e.g. `archbench datasets --download cifar10 imdb`")
        for name in args.names:
            start = time.perf_counter()
            splits = data.load(name)
            print(f"{splits.task.name}: {splits.max_train_size:,} train, {len(splits.y_val):,} val, "
                  f"{len(splits.y_test):,} test, prepared in {data.cache_root()} "
                  f"({time.perf_counter() - start:.1f} s)")
        return 0
    listing = data.listing(args.names)
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        console = table_console()
        console.print(_table(listing))
        print("offline no: `archbench datasets --download NAME` on a machine with network. Options: "
              "NAME?key=value&... (`--json` lists them). Your data: parquet:PATH, imagefolder:PATH (docs/datasets.md).")
    return 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "datasets", parents=[common], help="list, describe or download datasets",
        description="List every dataset: input kind and shape, classes, largest training size, validation and "
        "test sizes, and whether it works offline. Name datasets to describe only those "
        "(e.g. `listops?length=512`, `parquet:./my_data`).",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets to describe or download (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--download", action="store_true",
                   help="download (hub datasets) and prepare the named datasets into the cache, then exit")
    p.set_defaults(func=cmd_datasets)
