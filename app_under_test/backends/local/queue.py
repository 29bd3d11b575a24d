"""An SQS standard queue on SQLite: visibility timeout, receive count, redrive, long poll.

One table holds a queue and its dead-letter queue (``queue`` column), so redrive is a single
UPDATE in the same transaction as the receive that exceeded maxReceiveCount: a message is
never in both, never in neither.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.backends.local.db import connect, write_txn
from exodus2045.app_under_test.errors import InvalidMessageContents, QueueUnavailable
from exodus2045.app_under_test.ports import Message, OutgoingMessage, QueueDepth
from exodus2045.app_under_test.settings import QueueConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,  -- a uuid4, unindexed: never looked up on a hot path
    body TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages(queue, visible_at);
-- Only delivered messages have a receipt: new ones cost the frontend no index entry.
CREATE INDEX IF NOT EXISTS messages_receipt_live ON messages(receipt) WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS accepted (
    wish_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    accepted_at REAL NOT NULL
);
"""


def _uuid4s(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs as ``str(uuid.uuid4())`` spells them, from one read
    of the OS's randomness: one per message of a batch, on the frontend's writer thread."""
    raw = os.urandom(16 * n).hex()
    ids = []
    for i in range(0, 32 * n, 32):
        h = raw[i:i + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


def _attributes_json(attributes: Mapping[str, str]) -> str:
    """``json.dumps(dict(attributes))``; string pairs (a traceparent) spelled out directly,
    as the encoder would, without setting one up for every message."""
    if all(type(k) is str and type(v) is str for k, v in attributes.items()):
        return "{" + ", ".join(f"{_ascii(k)}: {_ascii(v)}" for k, v in attributes.items()) + "}"
    return json.dumps(dict(attributes))


_ascii = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
#: Messages per INSERT: 6 parameters a row stays under SQLite's oldest
#: ``SQLITE_MAX_VARIABLE_NUMBER`` (999).
INSERT_ROWS = 150
_INSERT = ("INSERT INTO messages (queue, message_id, body, attributes, sent_at, visible_at)"
           " VALUES {}")
_VARIANT = "89ab"  # RFC 4122: the top two bits of clock_seq_hi are 10

# Long-poll backoff between empty looks; capped so a new message waits at most this long.
_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.05


class LocalQueue:
    """A named queue in an SQLite file. Safe to share one instance within one thread."""

    def __init__(self, path: Path, name: str, config: QueueConfig | None = None) -> None:
        self.path = Path(path)
        self.name = name
        self.dlq_name = f"{name}-dlq"
        self.config = config or QueueConfig()
        self._conn = connect(self.path, SCHEMA)
        #: Once set (a poller's stop), a long poll ends at its next look, empty, instead of
        #: waiting out ``wait_time_s``: a stopping process exits promptly. Read, never waited
        #: on, so a signal handler may set it at any moment.
        self.stop_waiting: threading.Event | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    # -- producing ---------------------------------------------------------------------
    def insert_rows(self, conn: sqlite3.Connection, messages: Sequence[OutgoingMessage], now: float) -> list[str]:
        """Insert inside the caller's transaction (the intake commits claim + send together).

        One multi-row INSERT per :data:`INSERT_ROWS` messages, not one step per message:
        sqlite3 lets go of the GIL around every step, and on the frontend's writer thread
        each retake waits on the event loop.
        """
        ids = _uuid4s(len(messages))
        for start in range(0, len(messages), INSERT_ROWS):
            chunk = messages[start:start + INSERT_ROWS]
            params: list[object] = []
            for mid, m in zip(ids[start:start + INSERT_ROWS], chunk, strict=True):
                attributes = _attributes_json(m.attributes) if m.attributes else "{}"
                params += (self.name, mid, m.body, attributes, now, now)
            conn.execute(_INSERT.format(",".join(["(?,?,?,?,?,?)"] * len(chunk))), params)
        return ids

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        if not messages:
            return []
        for m in messages:
            try:
                m.body.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidMessageContents(f"{self.name}: body is not valid UTF-8") from None
        try:
            with write_txn(self._conn) as conn:
                return self.insert_rows(conn, messages, time.time())
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.name}: send failed: {exc}") from exc

    def send_dead_letter(self, body: str, reason: str) -> str:
        # A poison body may hold what UTF-8 cannot (lone surrogates): keep it as evidence.
        body = body.encode("utf-8", "backslashreplace").decode("utf-8")
        mid = str(uuid.uuid4())
        now = time.time()
        try:
            with write_txn(self._conn) as conn:
                conn.execute(
                    "INSERT INTO messages (queue, message_id, body, sent_at, visible_at, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (self.dlq_name, mid, body, now, now, reason),
                )
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.dlq_name}: send failed: {exc}") from exc
        return mid

    # -- consuming ---------------------------------------------------------------------
    def receive(
        self,
        max_messages: int = 10,
        wait_time_s: float = 0.0,
        visibility_timeout: float | None = None,
    ) -> list[Message]:
        deadline = time.monotonic() + max(0.0, wait_time_s)
        pause = _POLL_MIN_S
        while True:
            messages = self._receive_once(max_messages, visibility_timeout)
            if messages or time.monotonic() >= deadline or self._stopping():
                return messages
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _POLL_MAX_S)

    def _stopping(self) -> bool:
        return self.stop_waiting is not None and self.stop_waiting.is_set()

    def _receive_once(self, max_messages: int, visibility_timeout: float | None) -> list[Message]:
        vt = self.config.visibility_timeout if visibility_timeout is None else visibility_timeout
        now = time.time()
        try:
            # A cheap read first: an idle poller must not take the write lock every look.
            if not self._conn.execute(
                "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1",
                (self.name, now),
            ).fetchone():
                return []
            out: list[Message] = []
            with write_txn(self._conn) as conn:
                rows = conn.execute(
                    "SELECT seq, message_id, body, attributes, sent_at, receive_count"
                    " FROM messages WHERE queue = ? AND visible_at <= ?"
                    " ORDER BY visible_at LIMIT ?",
                    (self.name, now, max_messages),
                ).fetchall()
                for seq, mid, body, attrs, sent_at, count in rows:
                    count += 1
                    if self.config.dead_letter and count > self.config.max_receive_count:
                        conn.execute(
                            "UPDATE messages SET queue = ?, receipt = NULL, reason = ?"
                            " WHERE seq = ?",
                            (self.dlq_name, f"maxReceiveCount {self.config.max_receive_count}"
                             " exceeded", seq),
                        )
                        continue
                    receipt = uuid.uuid4().hex
                    conn.execute(
                        "UPDATE messages SET visible_at = ?, receive_count = ?, receipt = ?"
                        " WHERE seq = ?",
                        (now + vt, count, receipt, seq),
                    )
                    out.append(
                        Message(mid, body, receipt, count, sent_at, json.loads(attrs or "{}"))
                    )
            return out
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.name}: receive failed: {exc}") from exc

    def delete_batch(self, receipt_handles: Sequence[str]) -> int:
        if not receipt_handles:
            return 0
        try:
            with write_txn(self._conn) as conn:
                marks = ",".join("?" * len(receipt_handles))
                cur = conn.execute(
                    # ``+queue``: look rows up by receipt (indexed), never scan the queue.
                    f"DELETE FROM messages WHERE +queue = ? AND receipt IN ({marks})",
                    (self.name, *receipt_handles),
                )
                return cur.rowcount
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.name}: delete failed: {exc}") from exc

    def change_visibility(self, receipt_handle: str, timeout_s: float) -> bool:
        try:
            with write_txn(self._conn) as conn:
                cur = conn.execute(
                    "UPDATE messages SET visible_at = ? WHERE +queue = ? AND receipt = ?",
                    (time.time() + timeout_s, self.name, receipt_handle),
                )
                return cur.rowcount == 1
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.name}: change visibility failed: {exc}") from exc

    # -- observing ---------------------------------------------------------------------
    def depth(self) -> QueueDepth:
        now = time.time()

        def count(sql: str, *args: Any) -> int:
            return self._conn.execute(sql, args).fetchone()[0]

        base = "SELECT COUNT(*) FROM messages WHERE queue = ?"
        return QueueDepth(
            visible=count(base + " AND visible_at <= ?", self.name, now),
            in_flight=count(base + " AND visible_at > ?", self.name, now),
            dead_letters=count(base, self.dlq_name),
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT message_id, body, reason, receive_count, sent_at FROM messages"
            " WHERE queue = ? ORDER BY seq",
            (self.dlq_name,),
        ).fetchall()
        return [
            {"message_id": r[0], "body": r[1], "reason": r[2], "receive_count": r[3],
             "sent_at": r[4]}
            for r in rows
        ]

    def purge(self) -> None:
        with write_txn(self._conn) as conn:
            conn.execute("DELETE FROM messages WHERE queue IN (?, ?)", (self.name, self.dlq_name))
