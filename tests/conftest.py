"""Shared fixtures: tiny synthetic tasks, so most tests need no dataset generation."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from benchmarks.data import TrainingView  # noqa: E402
from benchmarks.running.arch_checks import tiny_view  # noqa: E402

make_view = tiny_view  # a learnable 1-D task (the one the architecture checks train on)


@pytest.fixture
def toy_view() -> TrainingView:
    return make_view()
