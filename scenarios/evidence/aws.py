"""The ``aws`` source: a deployed stack's table, queues and DLQs, read through boto3.

Built from the stack's outputs (:class:`~exodus2045.app_under_test.settings.AwsResources`)
with clients injected (:func:`open_aws_source` builds them from one
:class:`~exodus2045.app_under_test.settings.AwsConfig` when the caller has none), it answers
what the table and queues hold:

- stored-wishes, audience-wishes: a strongly consistent, paginated Scan of the table (every
  row, duplicates included, as the store port's ``iterate`` reads it);
- wish-lookup: a consistent GetItem per wish; tally: the tally items; stored-counts: the
  Scan, counted per destination;
- queue-depths, backlog: each queue's ``ApproximateNumberOf*`` attributes (SQS's own
  numbers are approximate; the drain waits until they read zero);
- dead-letters: SQS has no peek, so the DLQs are *received with visibility 0*: nothing is
  consumed or hidden, but each read raises the messages' receive count. evidence.json says so
  (``describe``), and the answer names the read.

It cannot see pages (the frontend serves them: the ``http`` source fetches those) nor
restarts (Lambda has no supervisor whose restarts we could count).
"""

from __future__ import annotations

from typing import Any, ClassVar

from exodus2045.app_under_test.backends.aws import AwsBackend, open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients, make_clients
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import AwsConfig, AwsResources
from exodus2045.scenarios.evidence.ports import PortsSource
from exodus2045.scenarios.evidence.protocol import Question

DLQ_READ = ("dead letters read by ReceiveMessage with VisibilityTimeout=0: SQS has no peek, "
            "so nothing was consumed or hidden, but each read raised their receive count")


class AwsSource(PortsSource):
    """Answers from one deployed stack's DynamoDB table and SQS queues."""

    name: ClassVar[str] = "aws"
    ANSWERS = frozenset(Question) - {Question.PAGES, Question.RESTARTS}
    WHY_NOT = {
        Question.PAGES: "the table and queues hold data, not the pages the frontend serves",
        Question.RESTARTS: "Lambda functions have no supervisor whose restarts could be counted",
    }
    #: how an answer was read, when that matters to whoever reads evidence.json
    HOW: ClassVar[dict[Question, str]] = {Question.DEAD_LETTERS: DLQ_READ}
    DEAD_LETTER_NOTE: ClassVar[dict[str, str]] = {"read": "visibility 0"}

    def __init__(self, clients: AwsClients, resources: AwsResources, stack: str | None = None,
                 endpoint: str | None = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.stack = stack
        self.endpoint = endpoint
        self.resources = resources
        self.errors = (BotoCoreError, ClientError, ExodusError)
        self._backend: AwsBackend = open_aws(clients, resources)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "stack": self.stack, "endpoint": self.endpoint,
                "table": self.resources.table, "dead_letters": DLQ_READ}


def open_aws_source(config: AwsConfig, resources: AwsResources,
                    stack: str | None = None) -> AwsSource:
    """An aws source with clients of its own (one set per source: boto3 clients are
    thread-safe, but each evidence twin opens its own sources anyway)."""
    return AwsSource(make_clients(config), resources, stack=stack, endpoint=config.endpoint_url)
