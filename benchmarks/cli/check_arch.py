"""`archbench check-arch`: the architecture test matrix on a family, the one written in a plugin included.

The checks are `benchmarks/running/arch_checks.py`, the same cases `tests/test_architectures.py`
runs on every family of the package. Prints a table of the cases; every failure is also one
line on standard error naming the family, the check and the input kind; exit 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys

import architectures
from benchmarks.formatting import table_console
from benchmarks.spec import UserError


def plugin_families() -> list[str]:
    """Registered families that come from outside the `architectures` package (`--plugin`)."""
    return [n for n in architectures.names() if not architectures.get(n).source.startswith("architectures.")]


def _selected(text: str, known: list[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown {what} {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def cmd_check_arch(args: argparse.Namespace) -> int:
    from benchmarks.running import arch_checks

    if args.arch:
        archs = [architectures.get(a).name for a in args.arch.split(",") if a.strip()]
    else:
        archs = plugin_families()
    if not archs:
        raise UserError("nothing to check: load a family with --plugin FILE, or name one with --arch NAME")
    checks = tuple(_selected(args.check, list(arch_checks.CHECKS), "check")) if args.check else tuple(arch_checks.CHECKS)
    console = table_console()
    failed: list[arch_checks.CaseResult] = []

    def show(r: arch_checks.CaseResult) -> None:
        mark = "[green]pass[/]" if r.ok else f"[red]FAIL[/] {r.message}"
        console.print(f"{r.arch:<14} {r.case.check:<10} {r.case.kind:<13} {r.seconds:6.1f}s  {mark}", soft_wrap=True)
        if not r.ok:
            failed.append(r)

    console.print(f"{'family':<14} {'check':<10} {'input':<13} {'time':>7}  result")
    for arch in archs:
        arch_checks.run_checks(arch, checks, on_result=show)
    for r in failed:
        print(f"archbench: check-arch: {r.arch} failed {r.case.check} on {r.case.kind}: {r.message}", file=sys.stderr)
    n = sum(len([c for c in arch_checks.CASES if c.check in checks]) for _ in archs)
    console.print(f"{n - len(failed)} of {n} cases passed" + (f"; failed: {', '.join(sorted({r.case.check for r in failed}))}"
                                                            if failed else ""))
    return 1 if failed else 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "check-arch", parents=[common], help="run the architecture test matrix on a family (e.g. one loaded with --plugin)",
        description="Run the checks every family must pass (benchmarks/running/arch_checks.py, the same ones "
        "tests/test_architectures.py runs): build, shapes (logits in float32 and bfloat16), gradients (finite, "
        "reaching every parameter), size (the solver matches 10k and 30k parameters within 2%), learns (100 steps "
        "beat chance), causal (on a next-token task no logit reads a later token). Exit 0 when every case passes; "
        "1 with one line per failed case naming the check.",
    )
    p.add_argument("--arch", default="", help="comma-separated families (default: the ones --plugin registered)")
    p.add_argument("--check", default="", help="comma-separated checks of the six above (default: all)")
    p.set_defaults(func=cmd_check_arch)
