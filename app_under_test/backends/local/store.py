"""The wish store on SQLite: put-once-and-tally in one transaction.

``INSERT OR IGNORE`` on the wish key decides "new or redelivered"; the tally row is bumped
only for a new wish, in the same transaction, so a crash between the two is impossible and
a redelivery changes nothing. The ``timestamp-key`` and ``double-tally`` flaws replace
exactly those two decisions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.backends.local.db import connect, write_txn
from exodus2045.app_under_test.errors import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS wishes (
    key TEXT PRIMARY KEY,
    wish_id TEXT NOT NULL,
    run_id TEXT,
    source TEXT NOT NULL DEFAULT 'audience',
    evacuee TEXT NOT NULL,
    destination TEXT NOT NULL,
    message TEXT NOT NULL,
    markup INTEGER NOT NULL DEFAULT 0,
    accepted_at REAL,
    parsed_at REAL,
    stored_at REAL NOT NULL,
    hidden INTEGER NOT NULL DEFAULT 0,
    trace_id TEXT,
    enqueued_at REAL,
    parse_started_at REAL,
    store_started_at REAL
);
CREATE INDEX IF NOT EXISTS wishes_wish_id ON wishes(wish_id);
CREATE INDEX IF NOT EXISTS wishes_run ON wishes(run_id);
CREATE TABLE IF NOT EXISTS tally (destination TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT OR IGNORE INTO tally (destination, n) VALUES ('mars', 0), ('jupiter', 0);
"""

COLUMNS = (
    "wish_id", "run_id", "source", "evacuee", "destination", "message", "markup",
    "accepted_at", "parsed_at", "stored_at", "hidden",
    "trace_id", "enqueued_at", "parse_started_at", "store_started_at",
)
#: Columns added after the first schema (tracing): a state dir made before gets them added.
ADDED = {"trace_id": "TEXT", "enqueued_at": "REAL", "parse_started_at": "REAL",
         "store_started_at": "REAL"}


def _migrate(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(wishes)")}
    for name, kind in ADDED.items():
        if name not in have:
            conn.execute(f"ALTER TABLE wishes ADD COLUMN {name} {kind}")


def _row(values: Sequence[Any]) -> dict[str, Any]:
    """A selected row as the wish dict, keys in :data:`COLUMNS` order (spelt out: a 65k run's
    snapshot builds 65k of these, in half the time of ``dict(zip(...))``; a test keeps the
    two in step)."""
    (wish_id, run_id, source, evacuee, destination, message, markup, accepted_at, parsed_at,
     stored_at, hidden, trace_id, enqueued_at, parse_started_at, store_started_at) = values
    return {"wish_id": wish_id, "run_id": run_id, "source": source, "evacuee": evacuee,
            "destination": destination, "message": message, "markup": bool(markup),
            "accepted_at": accepted_at, "parsed_at": parsed_at, "stored_at": stored_at,
            "hidden": bool(hidden), "trace_id": trace_id, "enqueued_at": enqueued_at,
            "parse_started_at": parse_started_at, "store_started_at": store_started_at}


def _time(wish: Mapping[str, Any], name: str) -> float | None:
    """A hop timestamp if it is one (a no-validation wish may carry anything)."""
    value = wish.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value[:64] if isinstance(value, str) else None


class LocalWishStore:
    def __init__(self, path: Path, flaws: frozenset[str] = frozenset()) -> None:
        self.path = Path(path)
        self._timestamp_key = "timestamp-key" in flaws
        self._double_tally = "double-tally" in flaws
        self._conn = connect(self.path, SCHEMA)
        with write_txn(self._conn) as conn:
            _migrate(conn)

    def close(self) -> None:
        self._conn.close()

    def put_wishes(self, wishes: Sequence[Mapping[str, Any]]) -> list[bool]:
        results: list[bool] = []
        now = time.time()
        verb = "INSERT OR REPLACE" if self._timestamp_key else "INSERT OR IGNORE"
        try:
            with write_txn(self._conn) as conn:
                for w in wishes:
                    key = str(int(time.time() * 1000)) if self._timestamp_key else w["wish_id"]
                    cur = conn.execute(
                        f"{verb} INTO wishes (key, wish_id, run_id, source, evacuee, destination,"
                        " message, markup, accepted_at, parsed_at, stored_at, trace_id,"
                        " enqueued_at, parse_started_at, store_started_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            key, w["wish_id"], w.get("run_id"), w.get("source") or "audience",
                            w["evacuee"], w["destination"], w["message"], int(bool(w.get("markup"))),
                            w.get("accepted_at"), w.get("parsed_at"), now,
                            _text(w.get("trace_id")), _time(w, "enqueued_at"),
                            _time(w, "parse_started_at"), _time(w, "store_started_at"),
                        ),
                    )
                    stored = cur.rowcount == 1
                    if stored or self._double_tally:
                        conn.execute(
                            "INSERT INTO tally (destination, n) VALUES (?, 1)"
                            " ON CONFLICT(destination) DO UPDATE SET n = n + 1",
                            (w["destination"],),
                        )
                    results.append(stored)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"store: write failed: {exc}") from exc
        return results

    def _select(self, where: str = "", args: Sequence[Any] = (), tail: str = "") -> list[dict]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM wishes {where} {tail}"
        return [_row(r) for r in self._conn.execute(sql, args).fetchall()]

    def get(self, wish_id: str) -> dict[str, Any] | None:
        rows = self._select("WHERE wish_id = ?", (wish_id,), "LIMIT 1")
        return rows[0] if rows else None

    def latest(self, limit: int = 50, include_hidden: bool = False) -> list[dict[str, Any]]:
        where = "" if include_hidden else "WHERE hidden = 0"
        return self._select(where, (), f"ORDER BY rowid DESC LIMIT {int(limit)}")

    def tally(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT destination, n FROM tally ORDER BY destination"))

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM wishes").fetchone()[0]

    def counts_by_destination(self) -> dict[str, int]:
        return dict(
            self._conn.execute("SELECT destination, COUNT(*) FROM wishes GROUP BY destination")
        )

    def iterate(self, run_id: str | None = None, *,
                source: str | None = None) -> Iterator[dict[str, Any]]:
        where = {"run_id = ?": run_id, "source = ?": source}
        terms = [term for term, value in where.items() if value is not None]
        cur = self._conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM wishes"
            + (f" WHERE {' AND '.join(terms)}" if terms else "")
            + " ORDER BY rowid",
            [value for value in where.values() if value is not None],
        )
        yield from map(_row, cur)

    def hide(self, wish_id: str) -> bool:
        with write_txn(self._conn) as conn:
            return conn.execute(
                "UPDATE wishes SET hidden = 1 WHERE wish_id = ?", (wish_id,)
            ).rowcount > 0
