"""Ports with faults around them: the same Queue / WishStore / intake, one check in front.

The wrappers change nothing but the call they guard: they ask the injector first (which may
raise the service's retryable error or sleep), then call the real port. Everything else is
passed through untouched, so handlers, the poller and the frontend cannot tell a wrapped
port from a real one -- which is the point: they must survive the faults as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exodus2045.app_under_test.ports import Message, OutgoingMessage, Queue
from exodus2045.chaos.injector import Injector
from exodus2045.chaos.targets import QUEUE_DELETE, QUEUE_RECEIVE, QUEUE_SEND, STORE_PUT


class _Passthrough:
    def __init__(self, inner: Any, injector: Injector) -> None:
        self._inner = inner
        self._injector = injector

    def __getattr__(self, name: str) -> Any:  # everything not guarded goes straight through
        return getattr(self._inner, name)


class ChaosQueue(_Passthrough):
    """A Queue whose send, receive and delete may be throttled, failed, slowed or shrunk."""

    def __init__(self, inner: Queue, injector: Injector) -> None:
        super().__init__(inner, injector)
        self.name = inner.name

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        self._injector.before(QUEUE_SEND)
        return self._inner.send_batch(messages)

    def send_dead_letter(self, body: str, reason: str) -> str:
        self._injector.before(QUEUE_SEND)  # on SQS a dead letter is a SendMessage too
        return self._inner.send_dead_letter(body, reason)

    def receive(self, max_messages: int = 10, wait_time_s: float = 0.0,
                visibility_timeout: float | None = None) -> list[Message]:
        self._injector.before(QUEUE_RECEIVE)
        shrunk = self._injector.visibility_timeout()
        return self._inner.receive(max_messages, wait_time_s,
                                   shrunk if shrunk is not None else visibility_timeout)

    def delete_batch(self, receipt_handles: Sequence[str]) -> int:
        if receipt_handles:
            self._injector.before(QUEUE_DELETE)
        return self._inner.delete_batch(receipt_handles)


class ChaosStore(_Passthrough):
    """A WishStore whose writes may be throttled, failed or slowed; reads are untouched."""

    def put_wishes(self, wishes: Sequence[Mapping[str, Any]]) -> list[bool]:
        self._injector.before(STORE_PUT)
        return self._inner.put_wishes(wishes)


class ChaosIntake(_Passthrough):
    """The frontend's intake: ``accept`` is its queue.send (claim + enqueue in one commit)."""

    def accept(self, submissions: Sequence[Any]) -> list[str]:
        self._injector.before(QUEUE_SEND)
        return self._inner.accept(submissions)

