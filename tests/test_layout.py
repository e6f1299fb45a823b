"""File names derived from names a user spells (`benchmarks.layout.slug`)."""

from __future__ import annotations

import re

import pytest

from benchmarks.layout import SLUG_MAX, plot_file, slug


@pytest.mark.parametrize("name", ["mnist1d", "mnist1d-shuffled", "recall", "fashion_mnist", "cifar10"])
def test_a_safe_name_is_its_own_slug_so_built_in_file_names_do_not_move(name):
    assert slug(name) == name
    assert plot_file(name, "params") == f"{name}-loss-vs-params.png"


@pytest.mark.parametrize("name", [
    "parquet:/abs/path/to/data", "imagefolder:relative/path", "listops?length=512&depth=6", "parquet:../up/../x",
    "imagefolder:/data/my set (v2)", ".hidden", "-dash", "", "parquet:/" + "deep/" * 40 + "leaf",
])
def test_any_other_name_becomes_a_short_safe_file_name(name):
    s = slug(name)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", s) and len(s) <= SLUG_MAX
    assert s == slug(name)  # the same name always gives the same file


def test_names_that_clean_up_alike_get_different_slugs():
    names = ["parquet:/a/b", "parquet:/a-b", "parquet:a/b", "parquet:/a/b/"]
    assert len({slug(n) for n in names}) == len(names)


def test_a_long_path_keeps_its_end_where_folders_differ():
    assert slug("parquet:/" + "deep/" * 40 + "my_leaf_folder").split("-")[-2] == "my_leaf_folder"
