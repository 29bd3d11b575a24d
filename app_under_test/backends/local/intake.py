"""The frontend's durable intake: idempotency claim and enqueue in one SQLite transaction.

A wish is "accepted" when its claim row and its queue message commit together, so a retry
with the same ``wish_id`` can never enqueue twice nor find a claim without a message. The
frontend calls :meth:`accept` once per group-commit batch: one fsync-free WAL commit for
dozens of requests.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exodus2045.app_under_test.backends.local.db import write_txn
from exodus2045.app_under_test.backends.local.queue import LocalQueue
from exodus2045.app_under_test.errors import QueueUnavailable
from exodus2045.app_under_test.ports import OutgoingMessage

QUEUED = "queued"  # new wish, enqueued now
DUPLICATE = "duplicate"  # same wish_id, same content: already queued, answer 202 again
CONFLICT = "conflict"  # same wish_id, different content: 409


@dataclass(frozen=True)
class Submission:
    wish_id: str
    digest: str
    body: str
    #: Message attributes the queue message carries (the trace context: ``traceparent``).
    attributes: Mapping[str, str] = field(default_factory=dict)


class LocalIntake:
    def __init__(self, queue: LocalQueue) -> None:
        self.queue = queue

    def accept(self, submissions: Sequence[Submission]) -> list[str]:
        """Claim and enqueue each submission atomically; one outcome per submission.

        The whole batch is claimed by one ``INSERT ... RETURNING`` per :data:`CLAIM_ROWS`
        rows rather than one statement per wish: the writer thread releases and retakes the
        GIL around every SQLite call, and each retake waits on the event loop's thread.
        """
        outcomes: list[str] = []
        fresh: list[Submission] = []
        now = time.time()
        try:
            with write_txn(self.queue.connection) as conn:
                claimed = _claim(conn, submissions, now)
                for sub in submissions:
                    if sub.wish_id in claimed:  # a wish_id twice in one batch: the first
                        claimed.discard(sub.wish_id)  # claims it, the second is a repeat
                        fresh.append(sub)
                        outcomes.append(QUEUED)
                        continue
                    (digest,) = conn.execute(
                        "SELECT digest FROM accepted WHERE wish_id = ?", (sub.wish_id,)
                    ).fetchone()
                    outcomes.append(DUPLICATE if digest == sub.digest else CONFLICT)
                self.queue.insert_rows(conn, [OutgoingMessage(s.body, s.attributes) for s in fresh], now)
        except sqlite3.OperationalError as exc:
            raise QueueUnavailable(f"{self.queue.name}: enqueue failed: {exc}") from exc
        return outcomes


#: Rows per claiming statement: 3 parameters a row stays under SQLite's oldest
#: ``SQLITE_MAX_VARIABLE_NUMBER`` (999).
CLAIM_ROWS = 300
_CLAIM = ("INSERT INTO accepted (wish_id, digest, accepted_at) VALUES {}"
          " ON CONFLICT(wish_id) DO NOTHING RETURNING wish_id")


def _claim(conn: sqlite3.Connection, submissions: Sequence[Submission], now: float) -> set[str]:
    """The wish ids this transaction claimed (rows are inserted in order, so of a wish_id
    sent twice the first occurrence claims it)."""
    claimed: set[str] = set()
    for start in range(0, len(submissions), CLAIM_ROWS):
        chunk = submissions[start:start + CLAIM_ROWS]
        params: list[object] = []
        for sub in chunk:
            params += (sub.wish_id, sub.digest, now)
        rows = conn.execute(_CLAIM.format(",".join(["(?,?,?)"] * len(chunk))), params)
        claimed.update(wish_id for (wish_id,) in rows)
    return claimed
