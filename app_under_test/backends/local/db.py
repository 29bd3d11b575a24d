"""SQLite connections tuned for many small, durable, crash-safe transactions.

WAL with ``synchronous=NORMAL``: a commit is in the WAL before ``COMMIT`` returns, so a
``kill -9`` of any process loses nothing committed (power loss may lose the last commits;
out of scope for the local backend). Write transactions start ``IMMEDIATE`` so two writers
queue on the busy timeout instead of failing mid-transaction on a lock upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exodus2045.app_under_test.errors import StateDirError

BUSY_TIMEOUT_MS = 30_000


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating) one SQLite file; a file that cannot be opened is a StateDirError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with write_txn(conn):
            for statement in _statements(schema):
                conn.execute(statement)
    except (sqlite3.Error, OSError) as exc:
        raise StateDirError(f"{path}: cannot open the state database: {exc}") from None
    return conn


def _statements(schema: str) -> list[str]:
    return [s.strip() for s in schema.split(";") if s.strip()]


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
