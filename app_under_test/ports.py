"""The two ports every backend implements: a queue (SQS-shaped) and a wish store.

Handlers and the poller see only these protocols, so the same code runs on the embedded
SQLite backend, on AWS through boto3, and with chaos faults wrapped around either.
Errors a caller may retry are :class:`exodus2045.app_under_test.errors.QueueUnavailable` and
:class:`exodus2045.app_under_test.errors.StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One delivery of a queued message (a new receipt handle each delivery, as in SQS)."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int
    sent_at: float
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingMessage:
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    dead_letters: int

    def as_dict(self) -> dict[str, int]:
        return {"visible": self.visible, "in_flight": self.in_flight, "dlq": self.dead_letters}


class Queue(Protocol):
    """SQS standard queue semantics: at-least-once, visibility timeout, redrive to a DLQ."""

    name: str

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Durably enqueue; returns the message ids. All or nothing."""

    def receive(
        self, max_messages: int = 10, wait_time_s: float = 0.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        """Up to ``max_messages`` visible messages, hidden for the visibility timeout.

        Long-polls up to ``wait_time_s`` when none is visible. A message received more than
        maxReceiveCount times is moved to the dead-letter queue instead of delivered.
        """

    def delete_batch(self, receipt_handles: Sequence[str]) -> int:
        """Delete delivered messages; a stale receipt (redelivered since) deletes nothing."""

    def change_visibility(self, receipt_handle: str, timeout_s: float) -> bool: ...

    def depth(self) -> QueueDepth: ...

    def dead_letters(self) -> list[dict[str, Any]]:
        """The DLQ's messages: ``{message_id, body, reason, receive_count, sent_at}``."""

    def send_dead_letter(self, body: str, reason: str) -> str:
        """Put a message straight into the DLQ with the reason it can never succeed."""


class WishStore(Protocol):
    """Stored wishes plus the per-destination tally, changed together atomically."""

    def put_wishes(self, wishes: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Store each wish once and bump its destination's tally in the same atomic step.

        Returns, per wish, True if it was stored now, False if it was already stored (a
        redelivery: nothing changes).
        """

    def get(self, wish_id: str) -> dict[str, Any] | None: ...

    def latest(self, limit: int = 50, include_hidden: bool = False) -> list[dict[str, Any]]: ...

    def tally(self) -> dict[str, int]: ...

    def count(self) -> int: ...

    def iterate(self, run_id: str | None = None, *,
                source: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored wish (of ``run_id``, of ``source``: filtered by the store itself, so a
        question about the few audience wishes never turns a whole run's rows into dicts)."""

    def hide(self, wish_id: str) -> bool:
        """Keep a wish off the wall and projector (it stays stored and audited)."""
