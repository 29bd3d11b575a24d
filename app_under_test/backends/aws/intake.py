"""The frontend's intake on AWS: an idempotency claim in DynamoDB, then SendMessageBatch.

The local intake claims and enqueues in one SQLite transaction. AWS has no transaction
across DynamoDB and SQS, so the claim carries a state instead:

1. claim: a conditional Put of ``CLAIM#<wish_id>`` with the content digest and
   ``queued = false`` (``attribute_not_exists``), one per submission;
2. enqueue: the fresh claims' bodies go out in SendMessageBatch calls;
3. mark: only after SQS accepted them, the claims are rewritten with ``queued = true``.

The frontend answers 202 only after step 2 returned, so a 202 always means "SQS has it". A
claim found with another digest is a 409. A claim found with the same digest and
``queued = true`` is a retry of a wish already queued (202, nothing sent). A claim found
with ``queued = false`` is a retry of a wish whose enqueue may have failed (a crash, a 503
between 1 and 2): it is sent again -- at-least-once, which the store's put-once makes
harmless -- so no claim can ever strand a wish that was never enqueued.

Claims live in the pipeline's own table beside the wishes (``sk = "CLAIM"``: the store's
reads filter on ``sk = "WISH"``), so the stack needs nothing more. Every AWS failure here
becomes :class:`QueueUnavailable`: the frontend answers 503 and the client retries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exodus2045.app_under_test.backends.aws.errors import error_code
from exodus2045.app_under_test.backends.aws.queue import SqsQueue
from exodus2045.app_under_test.backends.local.intake import (
    CONFLICT,
    DUPLICATE,
    QUEUED,
    Submission,
)
from exodus2045.app_under_test.errors import ExodusError, QueueUnavailable
from exodus2045.app_under_test.ports import OutgoingMessage

CLAIM_SK = "CLAIM"
BATCH_WRITE = 25  # DynamoDB's BatchWriteItem limit
CLAIM_THREADS = 8  # conditional puts in flight at once for one batch


def claim_key(wish_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CLAIM#{wish_id}"}, "sk": {"S": CLAIM_SK}}


class AwsIntake:
    """Claim in ``table``, enqueue on ``queue``: the frontend's group commit calls
    :meth:`accept` with each batch, from its one writer thread."""

    def __init__(self, queue: SqsQueue, dynamodb: Any, table: str) -> None:
        self.queue = queue
        self.ddb = dynamodb
        self.table = table
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def accept(self, submissions: Sequence[Submission]) -> list[str]:
        """One outcome per submission (``queued``/``duplicate``/``conflict``)."""
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(CLAIM_THREADS, thread_name_prefix="claim")
            now = time.time()
            claims = list(self._pool.map(lambda s: self._claim(s, now), submissions))
            send = [s for s, (_, must_send) in zip(submissions, claims, strict=True) if must_send]
            if send:
                self.queue.send_batch([OutgoingMessage(s.body, s.attributes) for s in send])
                self._mark_queued(send, now)
        except QueueUnavailable:
            raise
        except ExodusError as exc:  # the store's retryable errors, a refused message
            raise QueueUnavailable(f"{self.queue.name}: intake: {exc}") from exc
        except (BotoCoreError, ClientError) as exc:  # no connection, a 5xx after retries, ...
            raise QueueUnavailable(f"{self.queue.name}: intake: {exc}",
                                   code=error_code(exc)) from exc
        return [outcome for outcome, _ in claims]

    def _claim(self, sub: Submission, now: float) -> tuple[str, bool]:
        """(outcome, whether its body must be sent now)."""
        item = {**claim_key(sub.wish_id), "digest": {"S": sub.digest},
                "queued": {"BOOL": False}, "claimed_at": {"N": repr(now)}}
        try:
            self.ddb.put_item(TableName=self.table, Item=item,
                              ConditionExpression="attribute_not_exists(pk)")
            return QUEUED, True
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        found = self.ddb.get_item(TableName=self.table, Key=claim_key(sub.wish_id),
                                  ConsistentRead=True).get("Item") or {}
        if found.get("digest", {}).get("S") != sub.digest:
            return CONFLICT, False
        return DUPLICATE, not found.get("queued", {}).get("BOOL", False)

    def _mark_queued(self, sent: Sequence[Submission], now: float) -> None:
        requests = [{"PutRequest": {"Item": {
            **claim_key(s.wish_id), "digest": {"S": s.digest}, "queued": {"BOOL": True},
            "claimed_at": {"N": repr(now)}}}} for s in sent]
        for start in range(0, len(requests), BATCH_WRITE):
            todo = {self.table: requests[start:start + BATCH_WRITE]}
            for _attempt in range(5):
                left = self.ddb.batch_write_item(RequestItems=todo).get("UnprocessedItems")
                if not left:
                    break
                todo = left
                time.sleep(0.05)
            # A claim left unmarked is harmless: a retry of that wish sends it once more.
