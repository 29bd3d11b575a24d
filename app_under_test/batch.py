"""Partial batch responses, the powertools way: pure record logic behind a thin runner.

A handler classifies every record of an SQS batch as done, dead-lettered (it can never
succeed: kept with its reason) or failed (transient: reported in ``batchItemFailures`` so
SQS redelivers it, and after maxReceiveCount redrives it to the DLQ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exodus2045.app_under_test.errors import Retryable
from exodus2045.app_under_test.ports import Queue


class PermanentFailure(Exception):
    """This record can never be processed; ``reason`` goes with it to the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class BatchOutcome:
    failures: list[str] = field(default_factory=list)  # messageIds to redeliver
    dead_lettered: list[tuple[str, str]] = field(default_factory=list)  # (messageId, reason)
    done: list[str] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in self.failures]}


def decode_records(
    event: dict[str, Any],
    decode: Callable[[str], dict[str, Any]],
    dead_letters: Queue,
    outcome: BatchOutcome,
    *,
    drop_poison: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """Decode every record; what can never succeed goes to the DLQ with its reason.

    Returns ``(messageId, decoded)`` for the records worth processing. A dead letter that
    cannot be sent is a transient failure (redelivered). ``drop_poison`` is the ``no-dlq``
    flaw: poison is reported as failed, so it is retried until something gives up on it.
    """
    decoded: list[tuple[str, dict[str, Any]]] = []
    for record in event.get("Records", []):
        mid = record["messageId"]
        try:
            decoded.append((mid, decode(record["body"])))
        except PermanentFailure as exc:
            if drop_poison:
                outcome.failures.append(mid)
                continue
            try:
                dead_letters.send_dead_letter(record["body"], exc.reason)
                outcome.dead_lettered.append((mid, exc.reason))
            except Retryable:
                outcome.failures.append(mid)
    return decoded
