"""Architecture families. Each module in this package registers one or more families.

Adding a family is adding one file here that calls `register`; the registry
imports every module of the package on first use, so nothing else changes.
A family that lives elsewhere loads with `load_plugin(path_or_module)`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path

from flax import nnx

from architectures.spec import ArchShape, Builder, DepthRule, Family, TaskSpec

__all__ = ["ArchShape", "Family", "TaskSpec", "build", "get", "load_plugin", "names", "register"]

_REGISTRY: dict[str, Family] = {}
_NOT_FAMILIES = {"spec", "layers"}  # modules of this package that register nothing
_discovered = False


class PluginError(Exception):
    """A plugin or architecture name the user gave cannot be loaded."""


def register(
    name: str,
    *,
    depth_for: DepthRule,
    hidden_ratio: float = 4.0,
    width_multiple: int = 1,
    min_width: int | None = None,
    version: str = "1",
    description: str = "",
    hidden_min: int = 1,
    hidden_step: int = 1,
) -> Callable[[Builder], Builder]:
    """Decorator: register `build(task, shape, rngs) -> nnx.Module` as family `name`.

    `hidden_min` and `hidden_step` are the fine knob's limits, as `min_width` and `width_multiple` are
    the coarse one's: the solver only tries `hidden` >= hidden_min that are multiples of hidden_step
    (e.g. `hidden_step=2` for a block that splits `hidden` in two halves).
    """

    def decorate(build: Builder) -> Builder:
        source = getattr(build, "__module__", "?")
        if name in _REGISTRY and _REGISTRY[name].source != source:
            raise PluginError(f"architecture {name!r} is registered twice ({_REGISTRY[name].source} and {source})")
        if hidden_min < 1 or hidden_step < 1:
            raise PluginError(f"architecture {name!r}: hidden_min and hidden_step must be positive integers")
        _REGISTRY[name] = Family(
            name=name,
            build=build,
            depth_for=depth_for,
            hidden_ratio=hidden_ratio,
            width_multiple=width_multiple,
            min_width=min_width if min_width is not None else width_multiple,
            version=version,
            description=description or (build.__doc__ or "").strip().split("\n")[0],
            source=source,
            hidden_min=hidden_min,
            hidden_step=hidden_step,
        )
        return build

    return decorate


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _NOT_FAMILIES and not info.name.startswith("_"):
            importlib.import_module(f"architectures.{info.name}")


def names() -> list[str]:
    """Every registered family, in a stable order."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> Family:
    _discover()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PluginError(f"unknown architecture {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]


def build(name: str, task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    """Build family `name` for `task` at `shape`."""
    return get(name).build(task, shape, rngs)


def load_plugin(path_or_module: str) -> list[str]:
    """Import a family defined outside the package (a .py file or a module name); returns what it registered."""
    _discover()
    before = set(_REGISTRY)
    try:
        if path_or_module.endswith(".py") or Path(path_or_module).is_file():
            path = Path(path_or_module).resolve()
            if not path.is_file():
                raise PluginError(f"plugin file {path_or_module} does not exist")
            mod_name = f"archbench_plugin_{path.stem}"
            spec = importlib.util.spec_from_file_location(mod_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(path_or_module)
    except PluginError:
        raise
    except Exception as e:  # any import-time failure of user code is the user's to fix
        raise PluginError(f"plugin {path_or_module} failed to import: {type(e).__name__}: {e}") from e
    added = sorted(set(_REGISTRY) - before)
    if not added:
        raise PluginError(f"plugin {path_or_module} registered no architecture (call architectures.register)")
    return added
