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

A team's own stack (an adapter's ``[evidence.aws]``, :func:`open_team_aws_source`) is read
the same way, by the names the adapter gives: its queues and DLQs through the same SQS
queue class, its table through :class:`~.aws_team.TeamTable` (stored-wishes and
stored-counts; lookups and the tally stay with the team's HTTP API, which shows them as the
team's users see them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from exodus2045.app_under_test.backends.aws import AwsBackend, open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients, make_clients
from exodus2045.app_under_test.backends.aws.queue import SqsQueue
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import AwsConfig, AwsResources
from exodus2045.scenarios.evidence.ports import PortsSource
from exodus2045.scenarios.evidence.protocol import Question

if TYPE_CHECKING:
    from exodus2045.app_under_test.ports import Queue
    from exodus2045.scenarios.evidence.aws_team import TeamAws, TeamTable

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

    _team: TeamTable | None = None
    _team_queues: tuple[Queue, ...] = ()

    @classmethod
    def for_team(cls, clients: AwsClients, team: TeamAws,
                 endpoint: str | None = None) -> AwsSource:
        """The same source over a team's table and queues, by the adapter's names."""
        from botocore.exceptions import BotoCoreError, ClientError

        from exodus2045.scenarios.evidence.aws_team import TeamTable

        source = cls.__new__(cls)
        source.stack, source.endpoint, source.resources = None, endpoint, None
        source.errors = (BotoCoreError, ClientError, ExodusError)
        source._team = TeamTable(clients.dynamodb, team)
        source._team_queues = tuple(SqsQueue(clients.sqs, q.name, q.url, q.dead_letter_url)
                                    for q in team.spec.queues)
        queues = {Question.QUEUE_DEPTHS, Question.BACKLOG, Question.DEAD_LETTERS}
        source.ANSWERS = frozenset({Question.STORED_WISHES, Question.STORED_COUNTS}
                                   | (queues if source._team_queues else set()))
        http = "the team's HTTP API answers it (as its users see it)"
        source.WHY_NOT = {**cls.WHY_NOT, Question.WISH_LOOKUP: http, Question.TALLY: http,
                          Question.AUDIENCE_WISHES: "a team's table has no audience wishes",
                          **({q: "[evidence.aws] names no queues" for q in queues}
                             if not source._team_queues else {})}
        return source

    def describe(self) -> dict[str, Any]:
        if self._team is not None:
            return {"name": self.name, "endpoint": self.endpoint, "table": self._team.spec.table,
                    "queues": [q.name for q in self._team_queues], "dead_letters": DLQ_READ,
                    "rows": "only those whose id this run sent"}
        return {"name": self.name, "stack": self.stack, "endpoint": self.endpoint,
                "table": self.resources.table, "dead_letters": DLQ_READ}

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]:
        if self._team is not None:
            return self._team.rows(run_id)
        return super().stored_wishes(run_id)

    def stored_counts(self) -> dict[str, int]:
        if self._team is not None:
            return self._team.counts()
        return super().stored_counts()

    def dead_letters(self) -> list[dict[str, Any]]:
        letters = super().dead_letters()
        if self._team is not None:  # the team's message shape: say whose wish it held
            for letter in letters:
                letter["wish_id"] = self._team.wish_id_of(letter.get("body"))
        return letters

    def _queues(self) -> tuple[Queue, ...]:
        return self._team_queues if self._team is not None else super()._queues()


def open_aws_source(config: AwsConfig, resources: AwsResources,
                    stack: str | None = None) -> AwsSource:
    """An aws source with clients of its own (one set per source: boto3 clients are
    thread-safe, but each evidence twin opens its own sources anyway)."""
    return AwsSource(make_clients(config), resources, stack=stack, endpoint=config.endpoint_url)


def open_team_aws_source(config: AwsConfig, team: TeamAws) -> AwsSource:
    """An aws source over a team's own table and queues (an adapter's ``[evidence.aws]``)."""
    return AwsSource.for_team(make_clients(config), team, endpoint=config.endpoint_url)
