"""The ledger: one JSON line per HTTP attempt, the swarm's sworn statement of what it sent.

The audit trusts nothing the pipeline says about itself; it compares the store against this
file. Each line carries exactly the docs/architecture.md "Ledger" fields plus ``n``, the evacuee
number, so the audit can recompute the body with :func:`exodus2045.locustfiles.generate.plan_wish`
instead of the ledger copying it.

Cheap on the hot path: the fields that do not change between attempts are serialised once
per wish (:func:`ledger_prefix`), each attempt only formats numbers onto it. Lines are
buffered in memory and written in batches (:class:`LedgerFile`); who writes depends on the
run: the only process in a local run, the master in a distributed one (workers ship their
lines to it as Locust messages).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.tracing import trace_id_for
from exodus2045.locustfiles.generate import PlannedWish

FIELDS = (
    "wish_id", "run_id", "kind", "destination", "payload", "expect", "trace_id", "attempt", "status",
    "intended_at", "sent_at", "latency_ms", "response_ms", "n",
)  # fmt: skip


class LedgerError(ExodusError):
    """The ledger could not be written or read: the run's evidence is incomplete."""


def ledger_prefix(wish: PlannedWish, run_id: str) -> str:
    """The per-wish part of every line for this wish, serialised once: ``{"wish_id":...,``."""
    return prefix_of(wish.wish_id, run_id, wish.kind, wish.destination, wish.payload, wish.expect)


def prefix_of(
    wish_id: str, run_id: str, kind: str, destination: str, payload: str | None, expect: str,
    trace_id: str | None = None,
) -> str:
    """:func:`ledger_prefix` from the fields themselves (the swarm's planner has no wish).

    Built by formatting rather than ``json.dumps`` (this runs once per evacuee on the hot
    path); only the free-text fields go through the JSON encoder. Ids, kinds, markers and
    expectations are plain ASCII by construction.
    """
    payload_json = "null" if payload is None else f'"{payload}"'
    return _PREFIX % (
        wish_id,
        _json_text(run_id),
        kind,
        _json_text(destination),
        payload_json,
        expect,
        trace_id_for(wish_id) if trace_id is None else trace_id,
    )


_PREFIX = (
    '{"wish_id":"%s","run_id":%s,"kind":"%s","destination":%s,"payload":%s,"expect":"%s",'
    '"trace_id":"%s",'
)

#: The per-attempt rest of a line: ``LINE % (prefix, attempt, status, intended_at, sent_at,
#: latency_ms, response_ms, n)``. One ``%`` with positional values is the cheapest way
#: Python has to format it; :func:`ledger_line` is the readable spelling of the same.
LINE = (
    '%s"attempt":%d,"status":%d,"intended_at":%.6f,"sent_at":%.6f,"latency_ms":%.3f,'
    '"response_ms":%.3f,"n":%d}\n'
)


@functools.lru_cache(maxsize=64)
def _json_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def ledger_line(
    prefix: str,
    *,
    attempt: int,
    status: int,
    intended_at: float,
    sent_at: float,
    latency_ms: float,
    response_ms: float,
    n: int,
) -> str:
    """One attempt's line (newline included), completing ``prefix``."""
    return LINE % (prefix, attempt, status, intended_at, sent_at, latency_ms, response_ms, n)


class LedgerFile:
    """A ledger on disk, written in batches. Not thread-safe; one greenlet loop owns it.

    Opening truncates: a ledger describes one run. :meth:`flush` pushes to the OS (a crash of
    the swarm keeps what was flushed; the flusher calls it at least every second).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.lines = 0
        self._pending: list[str] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - lives for the run
        except OSError as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from None

    def append(self, line: str) -> None:
        self._pending.append(line)

    def extend(self, lines: Iterable[str]) -> None:
        self._pending.extend(lines)

    def flush(self) -> None:
        if self._file.closed:
            return
        if self._pending:
            batch, self._pending = self._pending, []
            try:
                self._file.write("".join(batch))
            except OSError as exc:
                raise LedgerError(f"cannot write ledger {self.path}: {exc}") from None
            self.lines += len(batch)
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


def read_ledger(path: Path | str) -> Iterator[dict[str, Any]]:
    """Every line of a ledger as a dict (what the audit and the tests read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            for number, text in enumerate(fh, 1):
                if text.strip():
                    try:
                        yield json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise LedgerError(f"{path}:{number}: not JSON ({exc.msg})") from None
    except OSError as exc:
        raise LedgerError(f"cannot read ledger {path}: {exc}") from None
