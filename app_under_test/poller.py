"""The local stand-in for Lambda's SQS event source mapping.

Receive a batch (long poll), hand the handler the exact SQS event, delete what succeeded and
leave the failures to reappear after the visibility timeout. A handler that raises fails
the whole batch, as on Lambda. The handler is the code a real Lambda would run, unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exodus2045.app_under_test.errors import Retryable
from exodus2045.app_under_test.ports import Message, Queue
from exodus2045.app_under_test.sqs_event import sqs_event

log = logging.getLogger("exodus.poller")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class PollerStats:
    batches: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    errors: int = 0


@dataclass
class LambdaContext:
    """The bits of Lambda's context object a handler may read."""

    function_name: str
    aws_request_id: str = ""
    memory_limit_in_mb: int = 128


@dataclass
class Poller:
    queue: Queue
    handler: Handler
    function_name: str
    batch_size: int = 10
    wait_time_s: float = 1.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    stats: PollerStats = field(default_factory=PollerStats)
    #: Called between the handler and the delete (chaos: crash-after-store lives here).
    before_delete: Callable[[list[Message]], None] | None = None

    def poll_once(self) -> int:
        """One receive -> invoke -> delete cycle; returns how many messages it received."""
        try:
            messages = self.queue.receive(self.batch_size, self.wait_time_s)
        except Retryable as exc:
            self.stats.errors += 1
            log.warning("%s: receive failed: %s", self.function_name, exc)
            self.stop_event.wait(0.1)  # back off a failing queue; wakes at once on stop
            return 0
        if not messages:
            return 0
        self.stats.batches += 1
        self.stats.received += len(messages)
        event = sqs_event(messages, self.queue.name)
        try:
            response = self.handler(event, LambdaContext(self.function_name))
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except Exception:  # a raised exception fails the whole batch, as on Lambda
            log.exception("%s: handler raised; the whole batch will be redelivered",
                          self.function_name)
            failed = {m.message_id for m in messages}
        done = [m for m in messages if m.message_id not in failed]
        self.stats.failed += len(messages) - len(done)
        if self.before_delete is not None:
            self.before_delete(done)
        try:
            self.stats.deleted += self.queue.delete_batch([m.receipt_handle for m in done])
        except Retryable as exc:  # they reappear and are handled again: idempotent
            self.stats.errors += 1
            log.warning("%s: delete failed (will be redelivered): %s", self.function_name, exc)
        return len(messages)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.poll_once()

    def drain(self) -> int:
        """Poll until the queue gives nothing (tests and benchmarks); returns total handled."""
        total = 0
        while (n := self.poll_once()) > 0:
            total += n
        return total
