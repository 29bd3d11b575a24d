"""Build the exact event Lambda's SQS event source mapping hands a function.

The poller uses it locally; tests use it to feed handlers realistic events; on AWS the
real service builds the same shape, so the handlers never know the difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from exodus2045.app_under_test.ports import Message

REGION = "local-1"
ACCOUNT = "000000000000"


def queue_arn(queue_name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"


def sqs_record(message: Message, queue_name: str) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": str(int(message.sent_at * 1000)),
            "SenderId": ACCOUNT,
            "ApproximateFirstReceiveTimestamp": str(int(message.sent_at * 1000)),
        },
        "messageAttributes": {
            k: {"stringValue": v, "dataType": "String"} for k, v in message.attributes.items()
        },
        "md5OfBody": hashlib.md5(message.body.encode("utf-8", "surrogatepass")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue_name),
        "awsRegion": REGION,
    }


def sqs_event(messages: Sequence[Message], queue_name: str) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_name) for m in messages]}
