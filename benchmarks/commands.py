"""Placeholder so `benchmarks.cli` imports on this branch (COMMAND_MODULES names this module, which main
does not have yet). The lead's real `benchmarks/commands.py` replaces this file wholesale."""

from __future__ import annotations

import argparse


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Adds no command."""
