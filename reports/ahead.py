"""Audit work done ahead, while the run still goes: the same inputs, code and results.

The audit reads only the run folder (:mod:`exodus2045.reports.runfolder`), yet two of its
biggest inputs exist long before the folder is complete: ``ledger.jsonl`` grows line by line
while the swarm runs, and what each evacuee sent is a pure function of run.json's seed, run
id and load (:mod:`exodus2045.reports.replan`). A runner may build an :class:`Ahead`, let it
read the ledger as it is written and re-plan the seed while the swarm runs, keep the store
rows the evidence collector wrote into ``store-snapshot.jsonl``, and hand it to
:meth:`RunData.load <exodus2045.reports.runfolder.RunData.load>`, which then reads only the
part of the ledger written since and not the snapshot again (docs/architecture.md "Data flow of a run").

Nothing read ahead is trusted blindly. The ledger prefix is used only when the file's first
bytes still hash to what was parsed (a merged or rewritten ledger fails that), and only when
every line parsed cleanly by the same rules as :func:`~exodus2045.reports.runfolder.load`
(anything unusual, such as a corrupt line, makes the audit read the whole file itself, so
its error names the same file and line). The plan is used only when run.json names the
same seed, run id and load. The store rows are used only if each one round-trips through
JSON unchanged and the file is still the one written. Either way the verdict is the one a cold audit of the folder
gives, byte for byte (tests/test_ahead.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
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
        self.lines_ahead: int | None = None  # lines parsed before finish(): None if unused

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
            self.lines_ahead = self._lineno
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
        self.planned_ahead: int | None = None  # evacuees re-planned before the audit asked

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
        if self.planned_ahead is None:
            self.planned_ahead = len(self._fields)
        while self.step(10 * PLAN_SLICE):
            pass
        return None if self._failed else self._fields


def plan_key(seed: Any, run_id: Any, load: Any) -> str:
    """The inputs :func:`exodus2045.reports.replan.replan` reads, as one comparable text."""
    load = load if isinstance(load, dict) else {}
    names = ("evacuees", "mars_share", "infiltrator_share")
    return json.dumps([seed, run_id, *(load.get(n) for n in names)], sort_keys=True)


class RowsAhead:
    """The rows a runner wrote into a JSON-lines file of the folder, kept as written.

    Kept only while every row reads back from its line unchanged (a ``dict`` of ``str`` keys
    and plain ``str``/``int``/``float``/``bool``/``None`` values, no NaN or infinity: what
    ``json.loads(json.dumps(row))`` returns equal, in the same key order), and handed over
    only while the file is the one written (same size, inode and modification time).
    """

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] | None = []
        self._identity: tuple[int, ...] | None = None
        self.used: int | None = None  # rows handed to the audit

    def reset(self) -> None:
        """A new write begins (a source failed half way and another writes the file)."""
        self._rows, self._identity = [], None

    def keep(self, row: Any) -> None:
        if self._rows is not None:
            if _plain(row):
                self._rows.append(row)
            else:
                self._rows = None  # the audit reads this file itself

    def written(self, path: Path) -> None:
        self._identity = _identity(path)

    def rows(self, path: Path) -> list[dict[str, Any]] | None:
        """The rows, if ``path`` is still the file they were written to; else None."""
        if self._rows is None or self._identity is None or _identity(path) != self._identity:
            return None
        self.used = len(self._rows)
        return self._rows


_PLAIN = (str, int, bool, type(None))


def _plain(row: Any) -> bool:
    if type(row) is not dict:
        return False
    for key, value in row.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind not in _PLAIN and not (kind is float and math.isfinite(value)):
            return False
    return True


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns


class Ahead:
    """The ledger, the plan and the store snapshot of one run, prepared before the audit
    asks (see the module doc)."""

    def __init__(self, ledger: Path, seed: Any, run_id: Any, load: Any) -> None:
        self.ledger = LedgerAhead(ledger)
        self.sent = SentAhead(seed, run_id, load)
        self.store = RowsAhead()  # store-snapshot.jsonl, as the evidence collector wrote it

    def used(self) -> dict[str, Any]:
        """What the audit took from here (run.json ``ahead``): lines, evacuees, rows."""
        return {"ledger_lines": self.ledger.lines_ahead,
                "planned": self.sent.planned_ahead, "store_rows": self.store.used}

    def step(self) -> None:
        """One slice of work: the new ledger lines, then some of the plan."""
        self.ledger.read()
        self.sent.step()
