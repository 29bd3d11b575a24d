"""Audit work done ahead, while the run still goes: the same inputs, code and results.

The audit reads only the run folder (:mod:`exodus2045.reports.runfolder`), yet two of its
biggest inputs exist long before the folder is complete: ``ledger.jsonl`` grows line by line
while the swarm runs, and what each evacuee sent is a pure function of run.json's seed, run
id and load (:mod:`exodus2045.reports.replan`). A runner may build an :class:`Ahead`, let it
read the ledger as it is written and re-plan the seed while the swarm runs, and hand it to
:meth:`RunData.load <exodus2045.reports.runfolder.RunData.load>`, which then reads only the
part of the ledger written since (docs/architecture.md "Audit").

Nothing read ahead is trusted blindly. The ledger prefix is used only when the file's first
bytes still hash to what was parsed (a merged or rewritten ledger fails that), and only when
every line parsed cleanly by the same rules as :func:`~exodus2045.reports.runfolder.load`
(anything unusual, such as a corrupt line, makes the audit read the whole file itself, so
its error names the same file and line). The plan is used only when run.json names the
same seed, run id and load. Either way the verdict is the one a cold audit of the folder
gives, byte for byte (tests/test_ahead.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from exodus2045.reports.runfolder import Attempt, RunFolderError, attempt_of
from exodus2045.reports.series import LedgerPoint

#: The fields of a planned body the content check compares (reports/checks/content.py).
SENT_FIELDS = ("evacuee", "destination", "message")
PLAN_SLICE = 2000  # evacuees re-planned per step, so a step never holds the lock for long


class LedgerAhead:
    """``ledger.jsonl`` parsed in pieces as the swarm appends it (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._offset = 0
        self._lineno = 0
        self._digest = hashlib.blake2b()
        self._seen: dict[Any, Any] = {}
        self._attempts: list[Attempt] = []
        self._points: list[LedgerPoint] = []
        self._broken = False

    def read(self) -> None:
        """Parse the whole lines appended since the last read."""
        with self._lock:
            if self._broken:
                return
            try:
                with self.path.open("rb") as fh:
                    fh.seek(self._offset)
                    chunk = fh.read()
            except FileNotFoundError:
                return
            self._consume(chunk[: chunk.rfind(b"\n") + 1])

    def finish(self, data: bytes) -> tuple[tuple[Attempt, ...], tuple[LedgerPoint, ...]] | None:
        """The whole ledger, given its bytes now: the prefix read ahead plus the rest parsed
        here; None when the prefix no longer matches or a line needs the careful path."""
        with self._lock:
            if self._broken or len(data) < self._offset:
                return None
            if hashlib.blake2b(data[: self._offset]).digest() != self._digest.digest():
                return None
            self._consume(data[self._offset:])
            if self._broken:
                return None
            return tuple(self._attempts), tuple(self._points)

    def _consume(self, chunk: bytes) -> None:
        """Parse ``chunk`` (whole lines; the last may lack its newline) as ``_read_jsonl``
        and ``attempt_of`` would; on anything they would treat specially, give up."""
        if not chunk:
            return
        if b"\r" in chunk:  # text mode splits lines there too: leave it to the careful path
            self._give_up()
            return
        self._digest.update(chunk)
        self._offset += len(chunk)
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        try:
            for raw in lines:
                self._lineno += 1
                if not raw.strip():
                    continue
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                self._attempts.append(
                    attempt_of(obj, f"ledger.jsonl line {self._lineno}", self._seen))
                self._points.append(LedgerPoint(obj))
        except (ValueError, RunFolderError):  # UnicodeDecodeError and JSONDecodeError too
            self._give_up()

    def _give_up(self) -> None:
        self._broken = True
        self._attempts, self._points, self._seen = [], [], {}


class SentAhead:
    """What every evacuee of a plan sent (the :data:`SENT_FIELDS` of its body), re-planned
    from the seed before the audit asks; extended in slices, completed on demand."""

    def __init__(self, seed: Any, run_id: Any, load: Any) -> None:
        self.key = plan_key(seed, run_id, load)
        self._inputs = json.loads(self.key)  # what run.json will say, after its round trip
        self._lock = threading.Lock()
        self._fields: list[tuple[Any, ...]] = []
        self._failed = False

    def step(self, count: int = PLAN_SLICE) -> bool:
        """Re-plan up to ``count`` more evacuees; False once there is nothing left to do."""
        with self._lock:
            if self._failed:
                return False
            try:
                from exodus2045.reports.replan import plan_of

                plan, pools, plan_wish = plan_of(*self._inputs)
                start = len(self._fields)
                for n in range(start, min(plan.evacuees, start + count)):
                    body = plan_wish(plan, n, pools).body
                    body = body if isinstance(body, dict) else {}
                    self._fields.append(tuple(body.get(f) for f in SENT_FIELDS))
                return len(self._fields) < plan.evacuees
            except Exception:  # the audit re-plans itself and reports what went wrong
                self._failed = True
                self._fields = []
                return False

    def fields(self, seed: Any, run_id: Any, load: Any) -> list[tuple[Any, ...]] | None:
        """Every evacuee's sent fields by n, if this is the plan run.json names; else None."""
        if plan_key(seed, run_id, load) != self.key:
            return None
        while self.step(10 * PLAN_SLICE):
            pass
        return None if self._failed else self._fields


def plan_key(seed: Any, run_id: Any, load: Any) -> str:
    """The inputs :func:`exodus2045.reports.replan.replan` reads, as one comparable text."""
    load = load if isinstance(load, dict) else {}
    names = ("evacuees", "mars_share", "infiltrator_share")
    return json.dumps([seed, run_id, *(load.get(n) for n in names)], sort_keys=True)


class Ahead:
    """The ledger and the plan of one run, prepared while it runs (see the module doc)."""

    def __init__(self, ledger: Path, seed: Any, run_id: Any, load: Any) -> None:
        self.ledger = LedgerAhead(ledger)
        self.sent = SentAhead(seed, run_id, load)

    def step(self) -> None:
        """One slice of work: the new ledger lines, then some of the plan."""
        self.ledger.read()
        self.sent.step()
