"""The ``aws`` backend: the queue port on SQS, the store port on DynamoDB, through boto3.

Clients are built once per process (:func:`clients.make_clients`, from one
:class:`~exodus2045.app_under_test.settings.AwsConfig`) and injected; nothing here talks to
AWS at import, so a Lambda container, a poller or a test decides where the clients point.
"""

from __future__ import annotations

from dataclasses import dataclass

from exodus2045.app_under_test.backends.aws.clients import AwsClients
from exodus2045.app_under_test.backends.aws.intake import AwsIntake
from exodus2045.app_under_test.backends.aws.queue import SqsQueue
from exodus2045.app_under_test.backends.aws.store import DynamoWishStore
from exodus2045.app_under_test.settings import AwsResources
from exodus2045.app_under_test.statedir import PARSED_QUEUE, WISHES_QUEUE


@dataclass
class AwsBackend:
    wishes: SqsQueue  # frontend -> parser
    parsed: SqsQueue  # parser -> pod worker
    store: DynamoWishStore
    intake: AwsIntake  # the frontend's claim + enqueue (the Lambdas never use it)

    def close(self) -> None:
        for part in (self.wishes, self.parsed, self.store, self.intake):
            part.close()


def open_aws(
    clients: AwsClients, resources: AwsResources, flaws: frozenset[str] = frozenset()
) -> AwsBackend:
    """The queues and store a stack's resources name, on the injected clients."""
    wishes = SqsQueue(clients.sqs, WISHES_QUEUE, resources.wishes_queue_url,
                      resources.wishes_dlq_url)
    return AwsBackend(
        wishes=wishes,
        parsed=SqsQueue(clients.sqs, PARSED_QUEUE, resources.parsed_queue_url,
                        resources.parsed_dlq_url),
        store=DynamoWishStore(clients.dynamodb, resources.table, flaws),
        intake=AwsIntake(wishes, clients.dynamodb, resources.table),
    )
