"""Shared fixtures: tiny synthetic tasks, so most tests need no dataset generation."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from benchmarks.data import TrainingView  # noqa: E402
from benchmarks.spec import TaskSpec  # noqa: E402


def make_view(n_train: int = 256, n_eval: int = 64, length: int = 12, classes: int = 3, seed: int = 0) -> TrainingView:
    """A learnable 1-D task: the class sets the mean of a noisy signal's first half."""
    rng = np.random.default_rng(seed)
    task = TaskSpec(name="toy", input_kind="signal1d", input_shape=(length, 1), num_classes=classes)

    def split(n: int):
        y = rng.integers(0, classes, n).astype(np.int32)
        x = rng.normal(size=(n, length, 1)).astype(np.float32)
        x[:, : length // 2, 0] += 1.5 * (y[:, None] - (classes - 1) / 2)
        return x, y

    (xt, yt), (xv, yv), (xs, ys) = split(n_train), split(n_eval), split(n_eval)
    return TrainingView(task, xt, yt, xv, yv, xs, ys)


@pytest.fixture
def toy_view() -> TrainingView:
    return make_view()
