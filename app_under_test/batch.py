"""Partial batch responses, the powertools way: pure record logic behind a thin runner.

A handler classifies every record of an SQS batch as done, dead-lettered (it can never
succeed: kept with its reason) or failed (transient: reported in ``batchItemFailures`` so
SQS redelivers it, and after maxReceiveCount redrives it to the DLQ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
