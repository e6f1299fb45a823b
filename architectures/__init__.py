"""Architecture families. Each module in this package registers one or more families.

Adding a family is adding one file here that calls `register`; the registry
imports every module of the package on first use, so nothing else changes.
A family that lives elsewhere loads with `load_plugin(path_or_module)`.

Names a user can give (`--arch`, suite files), in the syntax datasets use:

    convnet                  a registered family, every option at its default
    convnet?head=dense       the same family with options (`name?key=value&key=value`);
                             each family declares its options and defaults in `register`

`canonical(name)` leaves out options equal to their default and sorts the rest, so
`convnet?head=pool` is `convnet`: the name (and so the run id) of a family at its
defaults is what it was before the family had options.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI reads the registry's names without importing flax
    from flax import nnx

from architectures.spec import ArchShape, Builder, DepthRule, Family, Option, StateSize, TaskSpec, Unsupported

__all__ = [
    "ArchRef", "ArchShape", "Family", "TaskSpec", "build", "canonical", "get", "load_plugin", "names", "parse",
    "register", "state_size", "Unsupported", "wildcard_names",
]

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
    options: Mapping[str, Option | tuple[str, ...]] | None = None,
    fixed_size: bool = False,
    wildcard: bool = True,
    hidden_min: int = 1,
    hidden_step: int = 1,
    cpu_vmap: bool = False,
    state_size: StateSize | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator: register `build(task, shape, rngs, **options) -> nnx.Module` as family `name`.

    `options` maps each option to its default (an int, float or string: any value of that
    type is accepted) or to a tuple of the strings it accepts, the first the default.
    `fixed_size`: the family has no width or hidden knob (the solver builds it at width and
    hidden 0 and reports its real count, whatever the target); `hidden_ratio=0`: it has no
    hidden knob (the solver searches width alone, hidden 0). `wildcard=False` keeps the
    family out of `architectures = ["*"]`: a suite runs it only where it names it.
    `hidden_min` and `hidden_step` are the fine knob's limits, as `min_width` and `width_multiple` are
    the coarse one's: the solver only tries `hidden` >= hidden_min that are multiples of hidden_step
    (e.g. `hidden_step=2` for a block that splits `hidden` in two halves).
    `cpu_vmap=True`: on a CPU, train a run's members (seeds x rates) as one vmapped program rather than one
    at a time; set it only where `archbench perf` measures vmap faster for the family (it changes speed,
    never results).
    `state_size(task, shape, **options)`: the floats one example carries between positions (a
    recurrence's state, attention's KV cache at the task's length), shown by `archbench archs`.
    """
    declared = dict(options or {})
    defaults = {k: v[0] if isinstance(v, tuple) else v for k, v in declared.items()}
    choices = {k: v for k, v in declared.items() if isinstance(v, tuple)}

    def decorate(build: Builder) -> Builder:
        source = getattr(build, "__module__", "?")
        if name in _REGISTRY and _REGISTRY[name].source != source:
            raise PluginError(f"architecture {name!r} is registered twice ({_REGISTRY[name].source} and {source})")
        if any(not v or not all(isinstance(c, str) for c in v) for v in choices.values()):
            raise PluginError(f"architecture {name!r}: a choice option is a non-empty tuple of strings")
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
            options=defaults,
            choices=choices,
            fixed_size=fixed_size,
            wildcard=wildcard,
            hidden_min=hidden_min,
            hidden_step=hidden_step,
            cpu_vmap=cpu_vmap,
            state_size=state_size,
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


def wildcard_names() -> list[str]:
    """The families `architectures = ["*"]` picks: every registered one not registered `wildcard=False`."""
    return [n for n in names() if _REGISTRY[n].wildcard]


@dataclass(frozen=True)
class ArchRef:
    """A parsed architecture name: which family, with which options."""

    family: Family
    options: dict[str, Option]  # every option, defaults filled in

    @property
    def name(self) -> str:
        """Canonical name: options equal to their default are left out, the rest sorted."""
        changed = {k: v for k, v in sorted(self.options.items()) if v != self.family.options[k]}
        return self.family.name + ("?" + "&".join(f"{k}={v}" for k, v in changed.items()) if changed else "")


def _lookup(base: str) -> Family:
    _discover()
    if base not in _REGISTRY:
        import difflib

        lower = {name.lower(): name for name in _REGISTRY}  # case-insensitive: MLP -> mlp
        same = [lower[base.lower()]] if base.lower() in lower else []  # only its case is wrong: that one alone
        close = same or [lower[m] for m in difflib.get_close_matches(base.lower(), lower, n=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PluginError(f"unknown architecture {base!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[base]


def _describe_options(family: Family) -> str:
    return ", ".join(
        f"{k}={'|'.join(family.choices[k])}" if k in family.choices else f"{k}={v}" for k, v in family.options.items()
    ) or "none"


def parse(name: str) -> ArchRef:
    """`convnet`, `convnet?head=dense` -> ArchRef (PluginError if it names no family or option)."""
    base, _, query = name.partition("?")
    family = _lookup(base)
    options = dict(family.options)
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if key not in family.options or not eq:
            raise PluginError(f"architecture {family.name} has no option {item!r} (options: {_describe_options(family)})")
        if key in family.choices:
            if value not in family.choices[key]:
                raise PluginError(f"option {key} of {family.name} must be one of {', '.join(family.choices[key])}, "
                                  f"got {value!r}")
            options[key] = value
            continue
        kind = type(family.options[key])
        try:
            options[key] = kind(value)
        except ValueError:
            raise PluginError(f"option {key} of {family.name} must be {kind.__name__}, got {value!r}") from None
    return ArchRef(family, options)


def canonical(name: str) -> str:
    """The name a run records: `convnet?head=pool` -> `convnet` (see the module docstring)."""
    return parse(name).name


def get(name: str) -> Family:
    """The family a name refers to (options allowed: `convnet?head=dense` -> convnet)."""
    return parse(name).family


def build(name: str, task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    """Build family `name` (options included) for `task` at `shape`."""
    ref = parse(name)
    return ref.family.build(task, shape, rngs, **ref.options)


def state_size(name: str, task: TaskSpec, shape: ArchShape) -> int | None:
    """Floats family `name` carries between positions per example at `shape` (None: it declares none)."""
    ref = parse(name)
    return None if ref.family.state_size is None else int(ref.family.state_size(task, shape, **ref.options))


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
