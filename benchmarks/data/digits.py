"""scikit-learn's 8x8 handwritten digits (UCI optdigits test set, 1,797 images,
shipped inside the scikit-learn wheel): real data, no download.

Images are (8, 8, 1) with pixel values 0..16. One fixed shuffle (seed 0)
splits them into a 400-image test set, a 197-image validation set and a
1,200-image training pool.
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import Layout, register_dataset
from benchmarks.data.quality import APPLIED_BY_LOAD
from benchmarks.spec import Splits, TaskSpec

TASK = TaskSpec(name="digits", input_kind="image", input_shape=(8, 8, 1), num_classes=10)
TEST_SIZE, VAL_SIZE, TRAIN_SIZE = 400, 197, 1_200


@register_dataset(
    "digits",
    description="scikit-learn 8x8 handwritten digits: real images (8, 8, 1), 10 classes (shipped in the wheel)",
    version="1",
    layout=Layout(task=TASK, train=TRAIN_SIZE, val=VAL_SIZE, test=TEST_SIZE),
    knobs=APPLIED_BY_LOAD,
)
def prepare() -> Splits:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype(np.float32)[..., None]
    y = data.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(y))
    test, val, train = np.split(order, [TEST_SIZE, TEST_SIZE + VAL_SIZE])
    return Splits(
        task=TASK, x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val], x_test=x[test], y_test=y[test],
        version="",
    )
