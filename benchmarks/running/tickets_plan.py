"""A suite's `[tickets]` section: how `archbench tickets` prunes (docs/tickets.md).

    [tickets]
    prune_fraction = 0.2             # of the surviving weights, pruned at every round (in (0, 1))
    target_sparsity = 0.95           # the rounds go at least this far (rounds = 0: as many as it takes)
    rounds = 0                       # or a fixed number, which must reach target_sparsity
    rewind_step = 25                 # survivors rewound to their values at this step (0: the initialisation)
    scope = "layer"                  # "layer": prune each layer's own fraction; "global": one threshold
    transfer = ["mnist1d-fresh"]     # datasets each ticket is also retrained on, against random masks there
    transfer_archs = ["mlp"]         # the families whose tickets are carried (default: every family)
    margin = 0.01                    # accuracy the ticket may lose against the dense model and still "match" it

    [tickets.also_on]                # optional: a family's tickets are also found on these datasets
    mlp = ["mnist1d-shuffled"]       # (the MLP's first-layer masks on shuffled inputs: the spatial prior's control)

Read here into a frozen `TicketsPlan`, checked once, with errors naming the file, line and key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import architectures
from benchmarks import data
from benchmarks.running import pruning
from benchmarks.spec import UserError


@dataclass(frozen=True)
class TicketsPlan:
    prune_fraction: float = 0.2
    target_sparsity: float = 0.95
    rounds: int = 0  # 0: rounds_to_reach(prune_fraction, target_sparsity)
    rewind_step: int = 0
    scope: str = "layer"
    transfer: tuple[str, ...] = ()  # dataset names as the RunSpecs record them
    transfer_archs: tuple[str, ...] = ()  # families whose tickets are carried to `transfer` (empty: every family)
    margin: float = 0.01
    also_on: tuple[tuple[str, tuple[str, ...]], ...] = ()  # family -> more datasets its tickets are found on

    @property
    def n_rounds(self) -> int:
        return self.rounds or pruning.rounds_to_reach(self.prune_fraction, self.target_sparsity)

    def mask_name(self, kind: str, round_: int, found_on: str = "") -> str:
        """The RunSpec's `mask`: what made the mask, so that it is part of the run id."""
        name = f"{kind}:{self.scope}:p={self.prune_fraction:g}:round={round_}:rewind={self.rewind_step}"
        return name + (f":from={found_on}" if found_on else "")


def check_plan(plan: TicketsPlan, shortest_steps: int, eval_every: int, where: str = "") -> None:
    """Refuse a plan that cannot run: a fraction outside (0, 1), a rewind step past the training or between
    evaluations, a target the rounds cannot reach. `where(key)` gives the `FILE:LINE: ` of a key."""
    p = plan.prune_fraction
    if not 0 < p < 1:
        raise UserError(f"{where}[tickets] prune_fraction must be in (0, 1), got {p:g}")
    if not 0 < plan.target_sparsity < 1:
        raise UserError(f"{where}[tickets] target_sparsity must be in (0, 1), got {plan.target_sparsity:g}")
    if plan.rounds < 0:
        raise UserError(f"{where}[tickets] rounds must be 0 (as many as the target needs) or more, got {plan.rounds}")
    reached = pruning.nominal_sparsity(p, plan.n_rounds)
    if reached < plan.target_sparsity - 1e-9:
        need = pruning.rounds_to_reach(p, plan.target_sparsity)
        raise UserError(f"{where}[tickets] target_sparsity {plan.target_sparsity:g} is out of reach: {plan.rounds} rounds "
                        f"of prune_fraction {p:g} reach {reached:.3f} (it needs {need} rounds)")
    if plan.rewind_step < 0 or plan.rewind_step >= shortest_steps:
        raise UserError(f"{where}[tickets] rewind_step {plan.rewind_step} is beyond the training length "
                        f"(the shortest run trains {shortest_steps} steps; rewind to 0 .. {shortest_steps - eval_every})")
    if plan.rewind_step % eval_every:
        raise UserError(f"{where}[tickets] rewind_step {plan.rewind_step} must be 0 or a multiple of eval_every ({eval_every})")
    if plan.scope not in pruning.SCOPES:
        raise UserError(f"{where}[tickets] scope must be one of {', '.join(pruning.SCOPES)}, got {plan.scope!r}")
    if not 0 <= plan.margin < 1:
        raise UserError(f"{where}[tickets] margin must be an accuracy difference in [0, 1), got {plan.margin:g}")


def _also_on(raw: object, line_of, path: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`[tickets.also_on]`: family = [datasets], each a known family and known datasets."""
    if not isinstance(raw, dict):
        raise UserError(f"{path}:{line_of('also_on')}: [tickets.also_on] must be a table: family = [datasets]")
    out = []
    for family, names in raw.items():
        where = f"{path}:{line_of(family)}: [tickets.also_on] {family}"
        try:
            architectures.get(family)
        except architectures.PluginError as e:
            raise UserError(f"{where}: {e}") from e
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise UserError(f"{where} must be a non-empty list of dataset names, got {names!r}")
        for name in names:
            try:
                data.info(name)
            except UserError as e:
                raise UserError(f"{where}: {e}") from e
        out.append((architectures.get(family).name, tuple(data.spec_name(n) for n in names)))
    return tuple(out)


def parse_plan(raw: object, line_of, path: str, shortest_steps: int, eval_every: int) -> TicketsPlan:
    """The `[tickets]` table of a suite, checked (`line_of(key)` is the key's line in the file)."""
    if not isinstance(raw, dict):
        raise UserError(f"{path}:{line_of('tickets')}: [tickets] must be a table")
    kinds = {f.name: type(f.default) for f in fields(TicketsPlan)}
    for key, value in raw.items():
        where = f"{path}:{line_of(key)}: "
        if key not in kinds:
            raise UserError(f"{where}unknown key {key!r} in [tickets] (accepted: {', '.join(sorted(kinds))})")
        if key == "also_on":
            continue
        kind = kinds[key]
        ok = (isinstance(value, list) and all(isinstance(v, str) for v in value)) if kind is tuple else (
            isinstance(value, kind) or (kind is float and isinstance(value, int))) and not isinstance(value, bool)
        if not ok:
            what = {int: "an integer", float: "a number", str: "a string", tuple: "a list of dataset names"}[kind]
            raise UserError(f"{where}[tickets] {key} must be {what}, got {value!r}")
    transfer = []
    for name in raw.get("transfer", []):
        try:
            data.info(name)
        except UserError as e:
            raise UserError(f"{path}:{line_of('transfer')}: [tickets] transfer: {e}") from e
        transfer.append(data.spec_name(name))
    carried = []
    for name in raw.get("transfer_archs", []):
        try:
            carried.append(architectures.get(name).name)
        except architectures.PluginError as e:
            raise UserError(f"{path}:{line_of('transfer_archs')}: [tickets] transfer_archs: {e}") from e
    plan = TicketsPlan(**{k: v for k, v in raw.items() if k not in ("transfer", "also_on", "transfer_archs")},
                       transfer=tuple(transfer), transfer_archs=tuple(carried),
                       also_on=_also_on(raw.get("also_on", {}), line_of, path))
    first_bad = {"prune_fraction", "target_sparsity", "rounds", "rewind_step", "scope", "margin"}
    try:
        check_plan(plan, shortest_steps, eval_every)
    except UserError as e:
        key = next((k for k in first_bad if f"[tickets] {k} " in str(e)), "tickets")
        raise UserError(f"{path}:{line_of(key)}: {e}") from e
    return plan
