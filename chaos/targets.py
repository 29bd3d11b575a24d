"""Fault targets: ``parser``, ``parser:0``, ``pod-worker/store.put`` (docs/architecture.md "Fault targets").

A target names a kind of component (every instance), optionally one instance (``:N``), and
for port faults the operation the fault sits on. The same names appear in ``exodus status
--json`` and in the timeline, so one parser here keeps plans, components and reports in
agreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exodus2045.app_under_test.errors import ConfigError

KINDS = ("frontend", "parser", "pod-worker")

QUEUE_RECEIVE = "queue.receive"
QUEUE_SEND = "queue.send"
QUEUE_DELETE = "queue.delete"
STORE_PUT = "store.put"
OPERATIONS = (QUEUE_RECEIVE, QUEUE_SEND, QUEUE_DELETE, STORE_PUT)

#: What each kind of component actually calls: a fault on anything else could never fire.
OPERATIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "frontend": (QUEUE_SEND,),
    "parser": (QUEUE_RECEIVE, QUEUE_SEND, QUEUE_DELETE),
    "pod-worker": (QUEUE_RECEIVE, QUEUE_SEND, QUEUE_DELETE, STORE_PUT),
}

_PATTERN = re.compile(r"^(?P<kind>[a-z][a-z-]*)(?::(?P<index>\d+))?(?:/(?P<op>[a-z.]+))?$")


@dataclass(frozen=True)
class Target:
    kind: str
    index: int | None = None
    operation: str | None = None

    @property
    def component(self) -> str:
        """``parser`` (all of them) or ``parser:0`` (one): what stack.json calls it."""
        return self.kind if self.index is None else f"{self.kind}:{self.index}"

    def __str__(self) -> str:
        return self.component + (f"/{self.operation}" if self.operation else "")

    def matches(self, name: str, kind: str, operation: str | None = None) -> bool:
        """Does this target cover component ``name`` (``parser:1``) doing ``operation``?"""
        if kind != self.kind:
            return False
        if self.index is not None and name != self.component:
            return False
        return self.operation is None or operation is None or operation == self.operation


def parse_target(text: str) -> Target:
    """``"pod-worker:1/store.put"`` -> Target, or ConfigError saying what a target looks like."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("target is empty; give a component like 'parser', 'parser:0' or "
                          "'pod-worker/store.put'")
    match = _PATTERN.match(text.strip())
    if not match:
        raise ConfigError(f"target {text!r} is not of the form KIND[:N][/OPERATION], e.g. "
                          "'parser', 'parser:0' or 'pod-worker/store.put'")
    kind, index, op = match["kind"], match["index"], match["op"]
    if kind not in KINDS:
        raise ConfigError(f"target {text!r}: unknown component {kind!r}; known: {', '.join(KINDS)}")
    if op is not None and op not in OPERATIONS_BY_KIND[kind]:
        if op not in OPERATIONS:
            raise ConfigError(f"target {text!r}: unknown operation {op!r}; known: "
                              f"{', '.join(OPERATIONS)}")
        raise ConfigError(f"target {text!r}: the {kind} never calls {op}; its operations: "
                          f"{', '.join(OPERATIONS_BY_KIND[kind])}")
    return Target(kind, int(index) if index is not None else None, op)


def split_component(name: str) -> tuple[str, int | None]:
    """``"parser:1"`` -> ``("parser", 1)``; ``"frontend"`` -> ``("frontend", None)``."""
    kind, _, index = name.partition(":")
    return kind, int(index) if index.isdigit() else None
