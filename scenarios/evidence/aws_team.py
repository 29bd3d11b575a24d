"""A team's own DynamoDB table, read as the audit's rows (an adapter's ``[evidence.aws]``).

The ``aws`` source (:mod:`.aws`) reads the bundled stack's table through the store port;
a team's table has its own key and attribute names, so this reader maps each item onto
Exodus's row by the names the adapter file gives (:mod:`exodus2045.scenarios.adapter.evidence_spec`).
A table is shared with every other writer, so a row is this run's only when its id is one
the run sent (``claim``, from the translator): another run's rows, or real users', are not
the run's phantoms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exodus2045.app_under_test.backends.aws.errors import call
from exodus2045.app_under_test.errors import StoreUnavailable
from exodus2045.scenarios.adapter.evidence_spec import AwsEvidence


@dataclass(frozen=True)
class TeamAws:
    """The team's table and queues, and how their rows become this run's."""

    spec: AwsEvidence
    #: (key, is it the team's own id) -> our wish id when the row is this run's, else None
    claim: Callable[[str, bool], str | None]
    #: the team's destination value -> ours
    our_destination: Callable[[Any], Any]


class TeamTable:
    """Consistent, paginated Scans of the team's table (the audit reads after the run)."""

    def __init__(self, dynamodb: Any, team: TeamAws) -> None:
        from boto3.dynamodb.types import TypeDeserializer

        self.ddb, self.team, self.spec = dynamodb, team, team.spec
        self._de = TypeDeserializer()

    def _items(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.spec.table, "ConsistentRead": True,
            "FilterExpression": "attribute_exists(#id)",
            "ExpressionAttributeNames": {"#id": self.spec.id},
        }
        while True:
            page = call(StoreUnavailable, f"{self.spec.table}: scan", self.ddb.scan, **kwargs)
            for item in page.get("Items", []):
                yield {k: self._de.deserialize(v) for k, v in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _value(self, item: dict[str, Any], field: str) -> Any:
        value = item.get(self.spec.attributes[field])
        if field == "destination":
            return self.team.our_destination(value)
        if isinstance(value, Decimal):  # DynamoDB numbers come back as Decimal
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def rows(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every row this run can claim, duplicates included, in Exodus's shape."""
        theirs = self.spec.ids == "theirs"
        for item in self._items():
            key = str(item[self.spec.id])
            ours = self.team.claim(key, theirs)
            if ours is None:
                continue
            row = {"wish_id": ours, "run_id": run_id,
                   **{f: self._value(item, f) for f in self.spec.attributes}}
            if theirs:
                row["target_id"] = key
            yield row

    def counts(self) -> dict[str, int]:
        """Rows per destination, everyone's (the tally check compares deltas)."""
        counts: dict[str, int] = {}
        for item in self._items():
            destination = str(self._value(item, "destination"))
            counts[destination] = counts.get(destination, 0) + 1
        return counts

    def wish_id_of(self, body: str) -> str | None:
        """Our wish id in a dead letter's body, when it is JSON carrying the id attribute."""
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            return None
        key = data.get(self.spec.id) if isinstance(data, dict) else None
        if key is None:
            return None
        return self.team.claim(str(key), self.spec.ids == "theirs") or (
            None if self.spec.ids == "theirs" else str(key))
