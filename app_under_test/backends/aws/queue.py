"""The queue port on SQS: one standard queue and the DLQ its redrive policy names.

SQS does what the local backend imitates (visibility timeout, ApproximateReceiveCount,
redrive after maxReceiveCount), so this is mostly translation. Where SQS differs:

- SQS has whole-second timeouts: a fractional visibility or wait is rounded up.
- A batch send can fail in part. Failed entries are retried once; if some still fail,
  :class:`QueueUnavailable` is raised and a caller's retry may send the others again --
  at-least-once, which the store's put-once makes harmless.
- SQS has no peek. :meth:`dead_letters` receives the DLQ's messages with visibility 0:
  nothing is consumed or hidden, but each read raises their receive count.
- A message SQS itself redrove carries no reason; it is reported as "maxReceiveCount N
  exceeded", N from the redrive policy. Our own dead letters carry theirs as the message
  attribute ``reason``.
- Real SQS answers success to a delete with a stale receipt handle (and deletes nothing);
  the count returned is what SQS reported.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from exodus2045.app_under_test.backends.aws.errors import call, error_code
from exodus2045.app_under_test.errors import InvalidMessageContents, QueueUnavailable
from exodus2045.app_under_test.ports import Message, OutgoingMessage, QueueDepth

BATCH = 10  # SQS's batch limit
MAX_WAIT_S = 20  # SQS's longest long poll
REASON = "reason"  # message attribute a dead letter carries
# Characters SQS refuses in a body (it takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000+).
_SQS_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_STALE_RECEIPT = frozenset({"ReceiptHandleIsInvalid", "InvalidParameterValue",
                            "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"})

T = TypeVar("T")


def _seconds(value: float, upper: int) -> int:
    return max(0, min(upper, math.ceil(value)))


def _escape_forbidden(text: str) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _SQS_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _attributes(attrs: dict[str, Any] | None) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in (attrs or {}).items() if "StringValue" in v}


class SqsQueue:
    """One SQS queue (``url``) and its dead-letter queue (``dlq_url``)."""

    def __init__(self, sqs: Any, name: str, url: str, dlq_url: str | None) -> None:
        self.sqs = sqs
        self.name = name
        self.url = url
        self.dlq_url = dlq_url
        self._max_receive: int | None = None

    def close(self) -> None:
        """The clients belong to whoever built them; nothing to release here."""

    def _call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        return call(QueueUnavailable, f"{self.name}: {what}", fn, **kwargs)

    # -- producing ---------------------------------------------------------------------
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        for m in messages:
            try:
                m.body.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidMessageContents(f"{self.name}: body is not valid UTF-8") from None
            if _SQS_FORBIDDEN.search(m.body):
                raise InvalidMessageContents(f"{self.name}: body holds a character SQS refuses")
        ids: list[str] = []
        for start in range(0, len(messages), BATCH):
            ids.extend(self._send_chunk(messages[start:start + BATCH]))
        return ids

    def _send_chunk(self, chunk: Sequence[OutgoingMessage]) -> list[str]:
        entries = {
            str(i): {
                "Id": str(i), "MessageBody": m.body,
                **({"MessageAttributes": {
                    k: {"DataType": "String", "StringValue": v} for k, v in m.attributes.items()
                }} if m.attributes else {}),
            }
            for i, m in enumerate(chunk)
        }
        sent: dict[str, str] = {}
        for _attempt in range(2):
            todo = [e for key, e in entries.items() if key not in sent]
            answer = self._call("send", self.sqs.send_message_batch, QueueUrl=self.url,
                                Entries=todo)
            sent.update({ok["Id"]: ok["MessageId"] for ok in answer.get("Successful", [])})
            failed = answer.get("Failed", [])
            if any(f.get("SenderFault") for f in failed):
                bad = next(f for f in failed if f.get("SenderFault"))
                raise InvalidMessageContents(f"{self.name}: SQS refused a message: "
                                             f"{bad.get('Code')}: {bad.get('Message', '')}")
            if not failed:
                return [sent[str(i)] for i in range(len(chunk))]
        raise QueueUnavailable(f"{self.name}: send: {len(entries) - len(sent)} of "
                               f"{len(entries)} messages not accepted", code="InternalError")

    def send_dead_letter(self, body: str, reason: str) -> str:
        if not self.dlq_url:
            raise QueueUnavailable(f"{self.name}: has no dead-letter queue", code="NoDLQ")
        answer = self._call(
            "send dead letter", self.sqs.send_message, QueueUrl=self.dlq_url,
            MessageBody=_escape_forbidden(body) or "(empty)",
            MessageAttributes={REASON: {"DataType": "String",
                                        "StringValue": _escape_forbidden(reason) or "?"}},
        )
        return answer["MessageId"]

    # -- consuming ---------------------------------------------------------------------
    def _receive_raw(self, url: str, max_messages: int, wait_s: int,
                     visibility: int | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueueUrl": url, "MaxNumberOfMessages": max(1, min(BATCH, max_messages)),
            "WaitTimeSeconds": wait_s,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
            "MessageAttributeNames": ["All"],
        }
        if visibility is not None:
            kwargs["VisibilityTimeout"] = visibility
        return self._call("receive", self.sqs.receive_message, **kwargs).get("Messages", [])

    def receive(self, max_messages: int = 10, wait_time_s: float = 0.0,
                visibility_timeout: float | None = None) -> list[Message]:
        vt = None if visibility_timeout is None else _seconds(visibility_timeout, 43200)
        raw = self._receive_raw(self.url, max_messages, _seconds(wait_time_s, MAX_WAIT_S), vt)
        return [
            Message(
                message_id=m["MessageId"], body=m["Body"], receipt_handle=m["ReceiptHandle"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                sent_at=int(m.get("Attributes", {}).get("SentTimestamp", 0)) / 1000,
                attributes=_attributes(m.get("MessageAttributes")),
            )
            for m in raw
        ]

    def delete_batch(self, receipt_handles: Sequence[str]) -> int:
        deleted = 0
        for start in range(0, len(receipt_handles), BATCH):
            chunk = receipt_handles[start:start + BATCH]
            answer = self._call("delete", self.sqs.delete_message_batch, QueueUrl=self.url,
                                Entries=[{"Id": str(i), "ReceiptHandle": h}
                                         for i, h in enumerate(chunk)])
            deleted += len(answer.get("Successful", []))
        return deleted

    def change_visibility(self, receipt_handle: str, timeout_s: float) -> bool:
        try:
            self._call("change visibility", self.sqs.change_message_visibility,
                       QueueUrl=self.url, ReceiptHandle=receipt_handle,
                       VisibilityTimeout=_seconds(timeout_s, 43200))
        except QueueUnavailable:
            raise
        except Exception as exc:
            if error_code(exc) in _STALE_RECEIPT:
                return False
            raise
        return True

    # -- observing ---------------------------------------------------------------------
    def _counts(self, url: str) -> tuple[int, int]:
        attrs = self._call(
            "depth", self.sqs.get_queue_attributes, QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (int(attrs.get("ApproximateNumberOfMessages", 0)),
                int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)))

    def depth(self) -> QueueDepth:
        visible, in_flight = self._counts(self.url)
        dead = sum(self._counts(self.dlq_url)) if self.dlq_url else 0
        return QueueDepth(visible=visible, in_flight=in_flight, dead_letters=dead)

    def max_receive_count(self) -> int | None:
        """maxReceiveCount from the queue's redrive policy (read once)."""
        if self._max_receive is None:
            attrs = self._call("attributes", self.sqs.get_queue_attributes, QueueUrl=self.url,
                               AttributeNames=["RedrivePolicy"])["Attributes"]
            policy = json.loads(attrs.get("RedrivePolicy") or "{}")
            self._max_receive = int(policy.get("maxReceiveCount", 0)) or None
        return self._max_receive

    def dead_letters(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """The DLQ's messages, read WITHOUT consuming them (visibility 0: their receive count
        rises, nothing else changes). Stops when every message SQS counts has been seen, or
        after a few reads that bring nothing new (SQS samples its hosts)."""
        if not self.dlq_url:
            return []
        expected = sum(self._counts(self.dlq_url))
        seen: dict[str, dict[str, Any]] = {}
        idle = 0
        deadline = time.monotonic() + 30
        while len(seen) < min(expected, limit) and idle < 5 and time.monotonic() < deadline:
            batch = self._receive_raw(self.dlq_url, BATCH, 0, 0)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            idle = 0 if fresh else idle + 1
            for m in fresh:
                attrs = _attributes(m.get("MessageAttributes"))
                reason = attrs.get(REASON) or (
                    f"maxReceiveCount {self.max_receive_count()} exceeded (redriven by SQS)")
                seen[m["MessageId"]] = {
                    "message_id": m["MessageId"], "body": m["Body"], "reason": reason,
                    "receive_count": int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                    "sent_at": int(m.get("Attributes", {}).get("SentTimestamp", 0)) / 1000,
                }
        return sorted(seen.values(), key=lambda d: d["sent_at"])

    def purge(self) -> None:
        for url in filter(None, (self.url, self.dlq_url)):
            self._call("purge", self.sqs.purge_queue, QueueUrl=url)
