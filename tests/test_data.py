"""benchmarks/data: the registry, the Arrow cache, the procedural sets, and the
`datasets.load_dataset` path on parquet files and image folders written here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import PIL.Image
import pytest

from benchmarks import data
from benchmarks.data import hub, listops, mnist1d, recall
from benchmarks.spec import UserError

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"mnist1d", "mnist1d-shuffled", "digits", "listops", "recall", "mnist", "fashion_mnist", "cifar10", "imdb"}
EMBEDDED = [n for n in data.names() if data.info(n).offline]  # a new embedded dataset is tested with no edit here


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _network_cut_prefix() -> list[str]:
    """Run a command in a network namespace with no interfaces up, where the system allows it."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-rn"]
    return []


def _run(args: list[str], env: dict[str, str], *, cut: bool = True, timeout: float = 120):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    prefix = _network_cut_prefix() if cut else []
    return subprocess.run([*prefix, sys.executable, *args], env=full_env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def embedded_cache(tmp_path_factory) -> tuple[Path, dict]:
    """Every embedded dataset at its default options, prepared in a subprocess with the network cut off."""
    cache = tmp_path_factory.mktemp("embedded")
    code = (
        "import json, time; from benchmarks import data\n"
        "out = {}\n"
        f"for n in {EMBEDDED!r}:\n"
        "    t = time.perf_counter(); s = data.load(n)\n"
        "    out[n] = {'seconds': time.perf_counter() - t, 'sizes': [len(s.y_train), len(s.y_val), len(s.y_test)],\n"
        "              'shape': list(s.x_train.shape[1:]), 'version': s.version}\n"
        "print(json.dumps(out))\n"
    )
    proc = _run(["-c", code], {"ARCHBENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    return cache, json.loads(proc.stdout.strip().splitlines()[-1])


# -- registry, listing, offline behaviour ---------------------------------------------------------------------------


def test_embedded_datasets_load_with_network_cut_and_match_their_description(embedded_cache):
    _, loaded = embedded_cache
    assert set(loaded) == set(EMBEDDED)
    for name, got in loaded.items():
        d = data.describe(name)
        assert got["sizes"] == [d["max_train_size"], d["val_size"], d["test_size"]], name
        assert got["shape"] == d["input_shape"], name
        assert got["seconds"] < 30, (name, got["seconds"])  # the largest default size generates in seconds


def test_version_is_known_without_preparing_and_is_the_loaded_arrays_version(embedded_cache, tmp_path, monkeypatch):
    _, loaded = embedded_cache
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "empty"))
    assert {n: data.version(n) for n in EMBEDDED} == {n: got["version"] for n, got in loaded.items()}
    assert not (tmp_path / "empty").exists()  # nothing prepared, nothing read
    assert data.version("listops?length=512") not in (data.version("listops"), loaded["listops"]["version"])


def test_second_load_of_a_prepared_dataset_is_well_under_a_second(embedded_cache, monkeypatch):
    cache, loaded = embedded_cache
    monkeypatch.setenv("ARCHBENCH_CACHE", str(cache))
    for name in EMBEDDED:
        start = time.perf_counter()
        splits = data.load(name)
        assert time.perf_counter() - start < 1.0, name
        assert splits.version == loaded[name]["version"]


def test_datasets_json_lists_every_dataset_with_its_sizes(tmp_path):
    proc = _run(["-m", "benchmarks.cli", "datasets", "--json"],
                {"ARCHBENCH_CACHE": str(tmp_path / "c"), "HF_DATASETS_CACHE": str(tmp_path / "hf")})
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert REQUIRED <= set(rows) and {"parquet:PATH", "imagefolder:PATH"} <= set(rows)
    for name in EMBEDDED:
        assert rows[name]["available_offline"] and rows[name]["max_train_size"] > 0
    for name in ("mnist", "fashion_mnist", "cifar10", "imdb"):
        assert rows[name]["source"] == "hub" and not rows[name]["available_offline"]
    assert rows["cifar10"]["input_shape"] == [32, 32, 3] and rows["cifar10"]["test_size"] == 10_000
    assert rows["listops"]["vocab_size"] == listops.VOCAB_SIZE and rows["imdb"]["vocab_size"] == hub.BYTE_VOCAB
    assert rows["digits"]["input_kind"] == "image" and rows["digits"]["input_shape"] == [8, 8, 1]


def test_hub_dataset_without_network_exits_2_at_once_with_one_line(tmp_path):
    env = {"ARCHBENCH_CACHE": str(tmp_path / "c"), "HF_DATASETS_CACHE": str(tmp_path / "hf")}
    if not _network_cut_prefix():
        env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there: the same refusal a cut network gives
    start = time.perf_counter()
    proc = _run(["-m", "benchmarks.cli", "datasets", "--download", "cifar10"], env, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "archbench datasets --download cifar10" in lines[0], proc.stderr
    assert elapsed < 30  # interpreter + imports; the check itself is a 2 s probe at most


def test_hub_probe_fails_fast_on_offline_flag_and_on_a_dead_endpoint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub.hub_reachable()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    assert not hub.hub_reachable()
    assert time.perf_counter() - start < hub.PROBE_TIMEOUT_S + 1


def test_describe_of_a_hub_dataset_prepares_nothing_and_says_it_needs_a_download(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    d = data.describe("imdb?length=64")
    assert (d["input_shape"], d["available_offline"], d["prepared"]) == ([64], False, False)
    (tmp_path / "hf" / "stanfordnlp___imdb" / "plain_text" / "0.0.0" / "abc").mkdir(parents=True)
    assert data.describe("imdb")["available_offline"]  # found in the Hugging Face cache


def test_names_options_and_typos_are_user_errors():
    with pytest.raises(UserError, match="did you mean mnist1d-shuffled"):
        data.load("mnist1d-shufled")
    with pytest.raises(UserError, match="no option 'lenght=3'"):
        data.load("listops?lenght=3")
    with pytest.raises(UserError, match="must be int"):
        data.load("listops?depth=deep")
    with pytest.raises(UserError, match="parquet:PATH"):
        data.load("parquet")
    assert data.parse("listops?length=128&depth=6").name == "listops?depth=6"  # defaults drop out
    assert data.parse("listops?depth=6&length=512").name == data.parse("listops?length=512&depth=6").name


# -- splits: nesting, balance, determinism, normalisation -----------------------------------------------------------


def test_balanced_order_makes_every_prefix_balanced_and_keeps_fixed_prefix_sets():
    y = np.random.default_rng(0).integers(0, 4, 400)
    order = data.balanced_order(y, fixed_prefixes=(100,))
    assert sorted(order) == list(range(400))
    assert set(order[:100]) == set(range(100))
    rounds = np.bincount(y[:100]).min()  # before the first class of the segment runs out
    for n in range(1, 4 * rounds + 1):
        counts = np.bincount(y[order[:n]], minlength=4)
        assert counts.max() - counts.min() <= 1, n
    assert np.array_equal(data.balanced_order(y[order], (100,)), np.arange(400))  # stable: ordering twice is a no-op


def test_training_sets_are_nested_class_balanced_prefixes():
    splits = data.load("recall?train=3000")
    small, large = data.training_view(splits, 320), data.training_view(splits, 2000)
    assert np.array_equal(small.x_train, large.x_train[:320]) and np.array_equal(small.y_train, large.y_train[:320])
    assert np.array_equal(np.bincount(small.y_train, minlength=32), np.full(32, 10))
    assert np.array_equal(small.x_test, large.x_test)


def test_same_split_loads_identical_arrays_from_independent_caches(tmp_path, monkeypatch):
    loads = []
    for run in ("a", "b"):
        monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / run))
        loads.append([data.load(n) for n in ("listops?train=2000", "recall?train=2000")])
    for a, b in zip(*loads, strict=True):
        assert a.version == b.version
        for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), (a.task.name, field)


def test_data_size_above_the_pool_is_an_error_not_a_cap():
    splits = data.load("digits")
    with pytest.raises(UserError, match="at most 1,200"):
        data.training_view(splits, 1_201)


def test_normalisation_statistics_come_from_the_training_prefix_only():
    splits = data.load("digits")
    view = data.training_view(splits, 100)
    raw = splits.x_train[:100].astype(np.float64)
    mean, std = raw.mean(), raw.std()
    assert abs(view.x_train.mean()) < 1e-5 and abs(view.x_train.std() - 1) < 1e-4
    np.testing.assert_allclose(view.x_test, (splits.x_test - mean) / std, rtol=1e-5, atol=1e-5)
    assert not np.allclose(data.training_view(splits, 1_000).x_test, view.x_test)


def test_splits_are_disjoint_in_the_procedural_sets():
    splits = data.load("listops?train=2000")
    rows = {split: {r.tobytes() for r in getattr(splits, "x_" + split)} for split in ("train", "val", "test")}
    # identical short expressions can recur by chance; distinct streams make overlaps rare
    assert len(rows["train"] & rows["test"]) < 0.01 * len(rows["test"])
    assert len(rows["val"] & rows["test"]) < 0.01 * len(rows["test"])


# -- procedural sets ------------------------------------------------------------------------------------------------


def test_vectorised_mnist1d_equals_the_package_generator():
    from mnist1d.data import get_dataset_args, make_dataset

    for seed, n in ((42, 200), (7, 100)):
        args = get_dataset_args()
        args.seed, args.num_samples, args.train_split = seed, n, 1.0
        state = np.random.get_state()
        expected = make_dataset(args)
        np.random.set_state(state)
        x, y = mnist1d.make_dataset(seed, n)
        np.testing.assert_allclose(x, expected["x"], atol=1e-9)
        assert np.array_equal(y, expected["y"])


def test_mnist1d_first_4000_are_the_papers_training_set_and_test_is_its_test_set():
    splits = data.load("mnist1d?train=4000")
    x, y = mnist1d.make_dataset(42, 5_000)  # the package's default dataset (checked against the package above)
    expected = {row.tobytes() for row in x[:4000].astype(np.float32)}
    assert {row.tobytes() for row in splits.x_train[:4000, :, 0]} == expected
    assert np.array_equal(splits.x_test[..., 0], x[4000:].astype(np.float32))
    assert np.array_equal(np.bincount(splits.y_train[:100]), np.full(10, 10))


def test_mnist1d_shuffled_is_one_fixed_permutation_of_mnist1d():
    base, shuffled = data.load("mnist1d?train=4000"), data.load("mnist1d-shuffled?train=4000")
    perm = mnist1d.position_permutation()
    assert sorted(perm) == list(range(40)) and not np.array_equal(perm, np.arange(40))
    assert np.array_equal(shuffled.x_train, base.x_train[:, perm])
    assert np.array_equal(shuffled.x_test, base.x_test[:, perm])
    assert np.array_equal(shuffled.y_train, base.y_train)


def _evaluate(words: list[str]) -> int:
    """Reference ListOps evaluator over the token words (recursive descent)."""

    def expr(i: int) -> tuple[int, int]:
        if words[i].isdigit():
            return int(words[i]), i + 1
        op, i, args = words[i], i + 1, []
        while words[i] != "]":
            v, i = expr(i)
            args.append(v)
        result = {"[MAX": max(args), "[MIN": min(args), "[MED": int(np.median(args)), "[SM": sum(args) % 10}[op]
        return result, i + 1

    value, end = expr(0)
    assert end == len(words)
    return value


def test_listops_labels_are_the_values_of_their_expressions():
    x, y = listops.generate(300, length=128, depth=4, args=10, seed=3, split="train")
    assert x.shape == (300, 128) and x.dtype == np.int32
    for tokens, label in zip(x, y, strict=True):
        words = listops.detokenize(tokens).split()
        assert 32 <= len(words) <= 128
        assert _evaluate(words) == label
        assert np.all(tokens[len(words):] == listops.PAD)


def test_listops_options_change_length_and_nesting():
    splits = data.load("listops?length=256&depth=6&args=5&train=500")
    assert splits.task.input_shape == (256,) and splits.x_train.shape == (500, 256)
    depth = max(max(np.cumsum(np.where(t >= listops.OP0, np.where(t == listops.CLOSE, -1, 1), 0)))
                for t in splits.x_train)
    assert 4 < depth <= 6


def test_recall_label_is_the_value_bound_to_the_last_query():
    opts = {"pairs": 8, "queries": 3, "keys": 20, "values": 5, "seed": 1}
    x, y = recall.generate(200, split="test", **opts)
    assert x.shape == (200, 22)
    for tokens, label in zip(x, y, strict=True):
        context = dict(zip(tokens[0:16:2], tokens[1:16:2], strict=True))
        assert len(context) == 8 and tokens[16] == recall.SEP
        queries = tokens[17::2]
        assert len(set(queries)) == 3
        for q, a in zip(queries[:-1], tokens[18::2], strict=True):
            assert context[q] == a
        assert context[queries[-1]] - recall.KEY0 - opts["keys"] == label


def test_procedural_splits_scale_to_any_size_as_prefixes():
    small, _ = recall.generate(100, pairs=4, queries=2, keys=8, values=4, seed=0, split="train")
    large, _ = recall.generate(recall.CHUNK + 100, pairs=4, queries=2, keys=8, values=4, seed=0, split="train")
    assert np.array_equal(small, large[:100])
    small, _ = listops.generate(50, length=64, depth=3, args=4, seed=0, split="val")
    large, _ = listops.generate(3_000, length=64, depth=3, args=4, seed=0, split="val")
    assert np.array_equal(small, large[:50])


# -- the datasets.load_dataset path on local files ------------------------------------------------------------------


def _png_folder(root: Path, classes: list[str], per_class: dict[str, int], shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    for split, n in per_class.items():
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / split / c / f"{i}.png")


def test_cifar10_loader_reads_local_parquet_with_the_hub_columns(tmp_path):
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)})
    for split, n in (("train", 40), ("test", 10)):
        images = [PIL.Image.fromarray(np.full((32, 32, 3), i, np.uint8)) for i in range(n)]
        ds = datasets.Dataset.from_dict({"img": images, "label": [i % 10 for i in range(n)]}, features=features)
        ds.to_parquet(str(tmp_path / f"{split}.parquet"))
    splits = hub.prepare_hub(hub.HUB["cifar10"], data_dir=str(tmp_path))
    assert splits.task.input_shape == (32, 32, 3) and splits.task.num_classes == 10
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (36, 4, 10)
    assert splits.x_test.dtype == np.uint8
    assert [int(img[0, 0, 0]) for img in splits.x_test] == list(range(10))  # pixels and order survive
    train_pixels = {int(img[0, 0, 0]) for img in np.concatenate([splits.x_train, splits.x_val])}
    assert train_pixels == set(range(40)) and all(int(x[0, 0, 0]) % 10 == y for x, y in
                                                 zip(splits.x_train, splits.y_train, strict=True))


def test_mnist_loader_reads_a_local_image_folder(tmp_path):
    _png_folder(tmp_path, [str(d) for d in range(10)], {"train": 3, "test": 1}, (28, 28))
    splits = hub.prepare_hub(hub.HUB["mnist"], data_dir=str(tmp_path))
    assert splits.task.input_shape == (28, 28, 1) and splits.x_train.shape[1:] == (28, 28, 1)
    assert (len(splits.y_train) + len(splits.y_val), len(splits.y_test)) == (30, 10)


def test_imdb_loader_byte_tokenises_local_parquet_to_a_fixed_length(tmp_path):
    texts = ["great film", "awful", "très bien, vraiment", "no"]
    pd.DataFrame({"text": texts * 5, "label": [1, 0, 1, 0] * 5}).to_parquet(tmp_path / "train.parquet")
    pd.DataFrame({"text": texts, "label": [1, 0, 1, 0]}).to_parquet(tmp_path / "test.parquet")
    splits = hub.prepare_hub(hub.HUB["imdb"], length=8, data_dir=str(tmp_path))
    assert splits.task.input_kind == "tokens" and splits.task.vocab_size == 257
    assert splits.x_test.shape == (4, 8)
    assert list(splits.x_test[0]) == [b + 1 for b in b"great fi"]  # truncated
    assert list(splits.x_test[3]) == [ord("n") + 1, ord("o") + 1, 0, 0, 0, 0, 0, 0]  # padded with 0
    assert list(splits.x_test[2][2:4]) == [0xC3 + 1, 0xA8 + 1]  # UTF-8 bytes of è


def test_user_parquet_with_x_column_and_string_labels_loads_through_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "mine").mkdir()
    for split, n in (("train", 60), ("test", 12)):
        labels = np.array(["cat", "dog", "emu"])[np.arange(n) % 3]
        pd.DataFrame({"x": list(rng.normal(size=(n, 16, 2)).astype(np.float32).tolist()), "label": labels}) \
            .to_parquet(tmp_path / "mine" / f"{split}.parquet")
    splits = data.load(f"parquet:{tmp_path / 'mine'}")
    assert splits.task.input_kind == "signal1d" and splits.task.input_shape == (16, 2)
    assert splits.task.num_classes == 3 and (len(splits.y_train), len(splits.y_val)) == (54, 6)
    assert list(splits.y_train[:6]) == [0, 1, 2, 0, 1, 2]  # balanced prefix
    assert list(splits.y_test[:3]) == [0, 1, 2]  # cat, dog, emu
    again = data.load(f"parquet:{tmp_path / 'mine'}")
    assert np.array_equal(again.x_train, splits.x_train) and again.version == splits.version

    time.sleep(0.01)
    df = pd.read_parquet(tmp_path / "mine" / "test.parquet")
    df.iloc[:6].to_parquet(tmp_path / "mine" / "test.parquet")  # the user's data changes: so does the dataset
    changed = data.load(f"parquet:{tmp_path / 'mine'}")
    assert changed.version != splits.version and len(changed.y_test) == 6
    assert data.version(f"parquet:{tmp_path / 'mine'}") == changed.version  # known from the files' sizes and times


def _user_parquet(folder: Path, n_train: int = 30, n_test: int = 9) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        pd.DataFrame({"x": rng.normal(size=(n, 8)).astype(np.float32).tolist(), "label": np.arange(n) % 3}) \
            .to_parquet(folder / f"{split}.parquet")


def test_user_files_are_one_dataset_by_any_path_and_known_by_content_in_the_run_id(tmp_path, monkeypatch):
    _user_parquet(tmp_path / "mine")
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    spellings = ["parquet:mine", "parquet:./mine", f"parquet:{tmp_path / 'mine'}", f"parquet:{tmp_path / 'link'}"]
    assert {data.spec_name(n) for n in spellings} == {f"parquet:{(tmp_path / 'mine').resolve()}"}
    assert {data.run_identity(n) for n in spellings} == {"parquet"}
    assert len({data.load(n).version for n in spellings}) == 1
    assert data.spec_fields("parquet:mine")["dataset_as_given"] == "parquet:mine"
    assert data.spec_fields("mnist1d") == {"dataset": "mnist1d", "dataset_as_given": ""}
    assert data.run_identity("listops?length=64") == "listops?length=64"  # registered datasets: as given

    shutil.copytree(tmp_path / "mine", tmp_path / "copy")  # the same content elsewhere: the same data version
    copy = data.load("parquet:copy")
    assert copy.version == data.load("parquet:mine").version and copy.task.name == data.spec_name("parquet:copy")
    assert data.run_identity("parquet:copy?length=64") == "parquet?length=64"


def test_user_image_folder_loads_with_class_names_as_labels(tmp_path):
    _png_folder(tmp_path / "pets", ["cat", "dog"], {"train": 5, "test": 2}, (6, 5, 3))
    splits = data.load(f"imagefolder:{tmp_path / 'pets'}")
    assert splits.task.input_kind == "image" and splits.task.input_shape == (6, 5, 3)
    assert splits.task.num_classes == 2 and list(splits.y_test) == [0, 0, 1, 1]
    assert re.fullmatch(r"imagefolder-[0-9a-f]{12}", splits.version)


def test_user_files_without_a_test_split_or_input_column_are_user_errors(tmp_path):
    (tmp_path / "a").mkdir()
    pd.DataFrame({"x": [[1.0, 2.0]] * 4, "label": [0, 1] * 2}).to_parquet(tmp_path / "a" / "train.parquet")
    with pytest.raises(UserError, match="needs a train and a test split"):
        data.load(f"parquet:{tmp_path / 'a'}")
    (tmp_path / "b").mkdir()
    for split in ("train", "test"):
        pd.DataFrame({"feature": [1.0] * 4, "label": [0, 1] * 2}).to_parquet(tmp_path / "b" / f"{split}.parquet")
    with pytest.raises(UserError, match="one input column"):
        data.load(f"parquet:{tmp_path / 'b'}")
    with pytest.raises(UserError, match="does not exist"):
        data.load(f"imagefolder:{tmp_path / 'missing'}")


def test_user_parquet_says_how_it_read_2d_arrays_and_the_column_name_declares_the_other_reading(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for column in ("x", "image"):
        (tmp_path / column).mkdir()
        for split, n in (("train", 20), ("test", 6)):
            pd.DataFrame({column: rng.normal(size=(n, 8, 8)).astype(np.float32).tolist(), "label": np.arange(n) % 2}) \
                .to_parquet(tmp_path / column / f"{split}.parquet")
    as_signal = data.load(f"parquet:{tmp_path / 'x'}")
    assert (as_signal.task.input_kind, as_signal.task.input_shape) == ("signal1d", (8, 8))
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.endswith("read column 'x' as a signal of 8 positions x 8 channels; to read it as an image 8x8x1, "
                         "name the column 'image'")
    as_image = data.load(f"parquet:{tmp_path / 'image'}")
    assert (as_image.task.input_kind, as_image.task.input_shape) == ("image", (8, 8, 1))
    assert "read column 'image' as an image 8x8x1; to read it as a signal of 8 positions x 8 channels, name the " \
           "column 'x'" in capsys.readouterr().err
