"""Create (and delete) the aws backend's queues and table directly, without a stack.

For tests and for trying the backend against a local AWS by hand; a real deployment uses the
CloudFormation template (app_under_test/backends/aws/template.yaml), which declares the same
resources with the same shapes: a standard queue with a redrive policy onto its DLQ, and
one table keyed ``pk``/``sk`` with the ``latest`` index (see store.py).
"""

from __future__ import annotations

import json
import math
from typing import Any

from exodus2045.app_under_test.backends.aws.store import LATEST_INDEX


def create_queue_pair(sqs: Any, name: str, visibility_s: float = 30.0,
                      max_receive_count: int = 5) -> tuple[str, str]:
    """A queue and its DLQ (``<name>-dlq``); returns their URLs."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq",
                               Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url,
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(max(0, math.ceil(visibility_s))),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(max_receive_count)}),
    })["QueueUrl"]
    return url, dlq_url


def delete_queue_pair(sqs: Any, url: str, dlq_url: str) -> None:
    for u in (url, dlq_url):
        sqs.delete_queue(QueueUrl=u)


def table_definition(name: str) -> dict[str, Any]:
    """The table as store.py expects it (on-demand; the ``latest`` index projects all)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "feed", "feed_sk")
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": LATEST_INDEX,
            "KeySchema": [{"AttributeName": "feed", "KeyType": "HASH"},
                          {"AttributeName": "feed_sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    }


def create_table(dynamodb: Any, name: str) -> str:
    dynamodb.create_table(**table_definition(name))
    dynamodb.get_waiter("table_exists").wait(TableName=name,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


def delete_table(dynamodb: Any, name: str) -> None:
    dynamodb.delete_table(TableName=name)
