"""What every fault is: a name, the targets it may hit, its keys, and how it is switched.

A fault validates a plan step before anything runs (chaostoolkit-lib style: every problem is
a ConfigError naming the key and the rule), then the schedule or the CLI turns it on with
:meth:`Fault.apply` and off with :meth:`Fault.revert`. Faults that live inside the
components (port faults, holds, visibility, crash-after-store) are *published* on the fault
board (``faults.json``) and acted on by the processes that read it; the others act directly
on processes or queues.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from exodus2045.app_under_test.errors import ConfigError, QueueUnavailable, StoreUnavailable
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.board import ActiveFault, FaultBoard
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.targets import KINDS, OPERATIONS_BY_KIND, Target, parse_target

# How a fault treats ``duration``.
OPTIONAL, REQUIRED, FORBIDDEN = "optional", "required", "forbidden"


@dataclass(frozen=True)
class Param:
    """One fault-specific key: its type, bounds and default, checked with a precise message."""

    name: str
    help: str
    kind: type = float  # int, float or list (of strings)
    required: bool = False
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, fault: str, value: Any) -> Any:
        """The value, normalised (ints to float, lists to tuples), or ConfigError."""
        where = f"fault {fault!r}: {self.name}"
        if self.kind is list:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"{where} must be a list of names, got {value!r}")
            items = [i.strip() for i in items if i.strip()]
            if not items:
                raise ConfigError(f"{where} must name at least one of {', '.join(self.choices)}")
            unknown = [i for i in items if i not in self.choices]
            if unknown:
                raise ConfigError(f"{where}: unknown {unknown[0]!r}; choose from "
                                  f"{', '.join(self.choices)}")
            return tuple(dict.fromkeys(items))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if self.kind is int and value != int(value):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        if self.lo is not None and value < self.lo:
            raise ConfigError(f"{where} must be at least {self.lo:g}, got {value:g}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(f"{where} must be at most {self.hi:g}, got {value:g}")
        return int(value) if self.kind is int else float(value)

    def from_text(self, fault: str, text: str) -> Any:
        """A CLI ``--param k=v`` value (always a string) converted, then checked."""
        if self.kind is list:
            return self.check(fault, text)
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"fault {fault!r}: {self.name} must be a number, got {text!r}") from None
        return self.check(fault, int(number) if number.is_integer() else number)

    def describe(self) -> str:
        if self.kind is list:
            shape = "|".join(self.choices)
        else:
            shape = "integer" if self.kind is int else "number"
        default = "required" if self.required else f"default {_show(self.default)}"
        return f"{self.name}={shape} ({default}): {self.help}"


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, (list, tuple)) else f"{value:g}" \
        if isinstance(value, (int, float)) else str(value)


@dataclass
class FaultContext:
    """One occurrence of a fault: where, with what, and what ``apply`` did (for ``revert``)."""

    state: StateDir
    target: Target
    params: dict[str, Any]
    probability: float = 1.0
    duration_s: float | None = None
    seed: int = 0
    source: str = "scenario"
    until: float | None = None  # epoch seconds the fault ends by itself (board faults)
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def board(self) -> FaultBoard:
        return FaultBoard(self.state)


class Fault:
    """Base class. Subclasses set the class attributes and, when needed, override hooks."""

    name: ClassVar[str]
    summary: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = KINDS
    #: Non-empty: the target must name one of these operations (port faults).
    operations: ClassVar[tuple[str, ...]] = ()
    allow_index: ClassVar[bool] = True
    params: ClassVar[tuple[Param, ...]] = ()
    duration: ClassVar[str] = OPTIONAL
    duration_why: ClassVar[str] = ""
    #: What one roll of the probability decides: "occurrence" (rolled once by whoever
    #: switches the fault on), or "call" / "batch" / "receive" (rolled in the component).
    probability_per: ClassVar[str] = "occurrence"

    @property
    def per_call(self) -> bool:
        return self.probability_per != "occurrence"

    # -- validation ------------------------------------------------------------------------
    def validate(self, step: ChaosStep) -> None:
        """Raise ConfigError naming the first thing wrong with ``step`` for this fault."""
        self.check_target(step.target)
        if not 0.0 < step.probability <= 1.0:
            raise ConfigError(f"probability must be greater than 0 and at most 1, got "
                              f"{step.probability:g}")
        self.check_timing(step.duration_s, step.every_s)
        self.resolve_params(step.params)

    def check_target(self, text: str) -> Target:
        target = parse_target(text)
        kinds = ", ".join(self.kinds)
        if target.kind not in self.kinds:
            raise ConfigError(f"fault {self.name!r} cannot target {text!r}: it acts on {kinds}")
        if target.index is not None and not self.allow_index:
            raise ConfigError(f"fault {self.name!r} cannot target one instance ({text!r}): it acts "
                              f"on a queue every {target.kind} shares; give {target.kind!r}")
        if self.operations and target.operation is None:
            ops = [o for o in OPERATIONS_BY_KIND[target.kind] if o in self.operations]
            example = next((o for o in ("store.put", "queue.send") if o in ops), ops[0])
            raise ConfigError(f"fault {self.name!r} needs an operation in its target, e.g. "
                              f"'{target.component}/{example}'; the {target.kind} does "
                              f"{', '.join(ops)}")
        if not self.operations and target.operation is not None:
            raise ConfigError(f"fault {self.name!r} acts on a whole component, not an operation: "
                              f"give {target.component!r}, not {text!r}")
        if target.operation is not None and target.operation not in self.operations:
            raise ConfigError(f"fault {self.name!r} cannot sit on {target.operation}; it works on "
                              f"{', '.join(self.operations)}")
        return target

    def check_timing(self, duration_s: float | None, every_s: float | None) -> None:
        if duration_s is not None and duration_s <= 0:
            raise ConfigError(f"duration must be greater than 0, got {duration_s:g}s")
        if every_s is not None and every_s <= 0:
            raise ConfigError(f"every must be greater than 0, got {every_s:g}s")
        if self.duration == REQUIRED and duration_s is None:
            raise ConfigError(f"fault {self.name!r} needs a duration: {self.duration_why}")
        if self.duration == FORBIDDEN and duration_s is not None:
            raise ConfigError(f"fault {self.name!r} takes no duration: {self.duration_why}")
        if every_s is not None and duration_s is not None and every_s <= duration_s:
            raise ConfigError(f"every ({every_s:g}s) must be longer than duration "
                              f"({duration_s:g}s), so one window ends before the next begins")
        if every_s is not None and duration_s is None and not self.is_instant(None):
            raise ConfigError(f"fault {self.name!r} with every needs a duration: a fault that "
                              "never ends cannot repeat")

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every key of this fault with its value (defaults filled in), or ConfigError."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key not in known:
                if not known:
                    raise ConfigError(f"fault {self.name!r} takes no fault-specific keys, got "
                                      f"{key!r}")
                raise ConfigError(f"fault {self.name!r} has no key {key!r}; its keys: "
                                  f"{', '.join(known)}")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = p.check(self.name, given[p.name])
            elif p.required:
                raise ConfigError(f"fault {self.name!r} needs {p.name} ({p.help})")
            else:
                out[p.name] = p.default
        return out

    # -- running ---------------------------------------------------------------------------
    def is_instant(self, duration_s: float | None) -> bool:
        """True when the fault is over as soon as it is applied (``off`` follows ``on``)."""
        return False

    def apply(self, ctx: FaultContext) -> dict[str, Any]:
        """Turn the fault on; returns evidence for the timeline (which components, ...)."""
        raise NotImplementedError

    def revert(self, ctx: FaultContext) -> dict[str, Any]:
        """Turn it off again (undo exactly what :meth:`apply` did)."""
        return {}


class BoardFault(Fault):
    """A fault the components act on themselves: published in ``faults.json`` while on."""

    probability_per = "call"

    def apply(self, ctx: FaultContext) -> dict[str, Any]:
        probability = ctx.probability if self.per_call else 1.0  # else: already rolled
        entry = ctx.board.add(ActiveFault.new(
            self.name, str(ctx.target), probability, ctx.params, ctx.seed, ctx.source,
            ctx.until))
        ctx.memo["entry"] = entry.id
        return {}

    def revert(self, ctx: FaultContext) -> dict[str, Any]:
        if "entry" in ctx.memo:
            ctx.board.remove(ctx.memo.pop("entry"))
        return {}


class PortFault(BoardFault):
    """A fault on a queue or store call, injected at the port inside the component.

    On the ``aws`` backend the same behaviour becomes a botocore hook; locally the chaos
    wrappers call :meth:`inject` before the real call, with the fault's probability.
    """

    operations: ClassVar[tuple[str, ...]] = tuple(OPERATIONS_BY_KIND["pod-worker"])

    def inject(self, operation: str, params: Mapping[str, Any]) -> None:
        """Act on one call: raise the service's error, or delay it."""
        raise NotImplementedError


def unavailable(operation: str, code: str, what: str) -> Exception:
    """The retryable error the real service would raise for ``operation``, with AWS's code."""
    service = operation.partition(".")[0]
    message = f"chaos: {what} on {operation} ({code})"
    return StoreUnavailable(message, code=code) if service == "store" else \
        QueueUnavailable(message, code=code)
