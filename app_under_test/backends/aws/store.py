"""The wish store on DynamoDB: put-once-and-tally as ONE TransactWriteItems.

Key design (one table, ``pk``/``sk`` strings):

- a wish: ``pk = "WISH#<wish_id>"``, ``sk = "WISH"`` -- the idempotency key is the key;
- the tally: ``pk = "TALLY"``, ``sk = <destination>``, counter ``n``;
- the wall: a global secondary index ``latest`` on ``feed`` (``"FEED#<shard>"``, the wish id
  hashed onto a few shards so no partition is hot, unlike the 2019 demo's single channel) and
  ``feed_sk`` (stored time, then wish id). ``latest`` queries every shard newest first and
  merges: no Scan on the path every open wall polls.

Storing a wish is a conditional Put (``attribute_not_exists(pk)``) and the tally's ``ADD``
in one transaction, so both happen or neither; a redelivery is cancelled with
``ConditionalCheckFailed`` and means "already stored" (the ``double-tally`` flaw bumps the
tally anyway; of the seeded flaws only that one lives in the store). Each call carries a fresh
``ClientRequestToken``, so botocore's own retry of a call whose answer was lost cannot apply
it twice. ``iterate`` and ``count`` are the audit's reads: a paginated, strongly consistent
Scan (a GSI is only eventually consistent, and the audit needs every row written so far).
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from exodus2045.app_under_test.backends.aws.errors import (
    TRANSIENT_CANCELLATIONS,
    as_retryable,
    call,
    error_code,
)
from exodus2045.app_under_test.errors import StoreUnavailable
from exodus2045.app_under_test.wish import DESTINATIONS  # tallies reported before a first wish

FEED_SHARDS = 4  # part of the key design: changing it needs a re-index
LATEST_INDEX = "latest"
TALLY_PK = "TALLY"
FIELDS = ("wish_id", "run_id", "source", "evacuee", "destination", "message", "markup",
          "accepted_at", "parsed_at", "stored_at", "hidden",
          "trace_id", "enqueued_at", "parse_started_at", "store_started_at")

T = TypeVar("T")


def wish_key(wish_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"WISH#{wish_id}"}, "sk": {"S": "WISH"}}


def feed_shard(wish_id: str) -> str:
    return f"FEED#{zlib.crc32(wish_id.encode('utf-8', 'replace')) % FEED_SHARDS}"


def _to_ddb(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


TIMES = ("accepted_at", "parsed_at", "stored_at", "enqueued_at", "parse_started_at",
         "store_started_at")


def _from_ddb(name: str, value: Any) -> Any:
    """DynamoDB numbers come back as Decimal (and ``1.0`` as ``1``): times are floats."""
    if isinstance(value, Decimal):
        return float(value) if name in TIMES else int(value)
    return value


class DynamoWishStore:
    """The :class:`~exodus2045.app_under_test.ports.WishStore` port on one DynamoDB table."""

    def __init__(self, dynamodb: Any, table: str, flaws: frozenset[str] = frozenset(),
                 page_size: int | None = None) -> None:
        """``page_size`` bounds each Scan/Query page (None: DynamoDB's 1 MB pages)."""
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.ddb = dynamodb
        self.table = table
        self.page_size = page_size
        self._double_tally = "double-tally" in flaws
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def close(self) -> None:
        """The client belongs to whoever built it; nothing to release here."""

    def _call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        return call(StoreUnavailable, f"store: {what}", fn, **kwargs)

    # -- (de)serialising -----------------------------------------------------------------
    def _item(self, wish: Mapping[str, Any], stored_at: float) -> dict[str, Any]:
        key_id = wish["wish_id"]
        values = {
            "wish_id": wish["wish_id"], "run_id": wish.get("run_id"),
            "source": wish.get("source") or "audience", "evacuee": wish["evacuee"],
            "destination": wish["destination"], "message": wish["message"],
            "markup": bool(wish.get("markup")), "accepted_at": wish.get("accepted_at"),
            "parsed_at": wish.get("parsed_at"), "stored_at": stored_at, "hidden": False,
            "trace_id": wish.get("trace_id"), "enqueued_at": wish.get("enqueued_at"),
            "parse_started_at": wish.get("parse_started_at"),
            "store_started_at": wish.get("store_started_at"),
            "feed": feed_shard(key_id), "feed_sk": f"{stored_at:017.6f}#{key_id}",
        }
        item = {k: self._ser.serialize(_to_ddb(v)) for k, v in values.items()}
        item.update(wish_key(key_id))
        return item

    def _wish(self, item: Mapping[str, Any]) -> dict[str, Any]:
        raw = {k: _from_ddb(k, self._de.deserialize(v)) for k, v in item.items() if k in FIELDS}
        wish = {k: raw.get(k) for k in FIELDS}
        wish["markup"] = bool(wish["markup"])
        wish["hidden"] = bool(wish["hidden"])
        return wish

    # -- writing -------------------------------------------------------------------------
    def put_wishes(self, wishes: Sequence[Mapping[str, Any]]) -> list[bool]:
        return [self._put_one(w) for w in wishes]

    def _tally_update(self, destination: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": {"pk": {"S": TALLY_PK}, "sk": {"S": destination}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }

    def _put_one(self, wish: Mapping[str, Any]) -> bool:
        put = {"TableName": self.table, "Item": self._item(wish, time.time()),
               "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            self.ddb.transact_write_items(
                TransactItems=[{"Put": put}, {"Update": self._tally_update(wish["destination"])}],
                ClientRequestToken=str(uuid.uuid4()),
            )
            return True
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                retryable = as_retryable(exc, StoreUnavailable, "store: put")
                if retryable is not None:
                    raise retryable from exc
                raise
            codes = [r.get("Code", "None") for r in
                     getattr(exc, "response", {}).get("CancellationReasons", [])]
            if codes and codes[0] == "ConditionalCheckFailed":
                if self._double_tally:  # the flaw: a redelivery bumps the tally again
                    self._call("tally", self.ddb.update_item,
                               **self._tally_update(wish["destination"]))
                return False
            if not codes or any(c in TRANSIENT_CANCELLATIONS for c in codes):
                raise StoreUnavailable(f"store: put cancelled: {codes}",
                                       code=next((c for c in codes if c != "None"),
                                                 "TransactionCanceled")) from exc
            raise

    def hide(self, wish_id: str) -> bool:
        try:
            self._call("hide", self.ddb.update_item, TableName=self.table, Key=wish_key(wish_id),
                       UpdateExpression="SET #h = :t", ConditionExpression="attribute_exists(pk)",
                       ExpressionAttributeNames={"#h": "hidden"},  # a reserved word
                       ExpressionAttributeValues={":t": {"BOOL": True}})
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- reading -------------------------------------------------------------------------
    def get(self, wish_id: str) -> dict[str, Any] | None:
        item = self._call("get", self.ddb.get_item, TableName=self.table, Key=wish_key(wish_id),
                          ConsistentRead=True).get("Item")
        return self._wish(item) if item else None

    def latest(self, limit: int = 50, include_hidden: bool = False) -> list[dict[str, Any]]:
        """Newest first: each shard's newest ``limit`` (skipping hidden ones), merged."""
        if limit <= 0:
            return []
        merged: list[tuple[str, dict[str, Any]]] = []
        for shard in range(FEED_SHARDS):
            merged.extend(self._shard_latest(f"FEED#{shard}", limit, include_hidden))
        merged.sort(key=lambda pair: pair[0], reverse=True)
        return [w for _, w in merged[:limit]]

    def _shard_latest(self, feed: str, limit: int,
                      include_hidden: bool) -> list[tuple[str, dict[str, Any]]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": LATEST_INDEX, "ScanIndexForward": False,
            "KeyConditionExpression": "feed = :f", "Limit": min(limit, self.page_size or limit),
            "ExpressionAttributeValues": {":f": {"S": feed}},
        }
        if not include_hidden:
            kwargs["FilterExpression"] = "#h = :no"
            kwargs["ExpressionAttributeNames"] = {"#h": "hidden"}  # a reserved word
            kwargs["ExpressionAttributeValues"][":no"] = {"BOOL": False}
        out: list[tuple[str, dict[str, Any]]] = []
        while len(out) < limit:
            page = self._call("latest", self.ddb.query, **kwargs)
            out.extend((i["feed_sk"]["S"], self._wish(i)) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out[:limit]

    def tally(self) -> dict[str, int]:
        counts = dict.fromkeys(DESTINATIONS, 0)
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :t", "ConsistentRead": True,
            "ExpressionAttributeValues": {":t": {"S": TALLY_PK}},
        }
        if self.page_size:
            kwargs["Limit"] = self.page_size
        for item in self._pages("tally", self.ddb.query, kwargs):
            counts[item["sk"]["S"]] = int(item.get("n", {}).get("N", "0"))
        return dict(sorted(counts.items()))

    def _pages(self, what: str, fn: Callable[..., Any],
               kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call(what, fn, **kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _scan_wishes(self, run_id: str | None, select_count: bool = False,
                     source: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "FilterExpression": "sk = :w", "ExpressionAttributeValues": {":w": {"S": "WISH"}},
        }
        if run_id is not None:
            kwargs["FilterExpression"] += " AND run_id = :r"
            kwargs["ExpressionAttributeValues"][":r"] = {"S": run_id}
        if source is not None:  # SOURCE is a DynamoDB reserved word: through a name
            kwargs["FilterExpression"] += " AND #source = :s"
            kwargs["ExpressionAttributeNames"] = {"#source": "source"}
            kwargs["ExpressionAttributeValues"][":s"] = {"S": source}
        if select_count:
            kwargs["Select"] = "COUNT"
        if self.page_size:
            kwargs["Limit"] = self.page_size
        return kwargs

    def iterate(self, run_id: str | None = None, *,
                source: str | None = None) -> Iterator[dict[str, Any]]:
        scan = self._scan_wishes(run_id, source=source)
        for item in self._pages("iterate", self.ddb.scan, scan):
            yield self._wish(item)

    def count(self) -> int:
        kwargs = self._scan_wishes(None, select_count=True)
        total = 0
        while True:
            page = self._call("count", self.ddb.scan, **kwargs)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def counts_by_destination(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for wish in self.iterate():
            counts[wish["destination"]] = counts.get(wish["destination"], 0) + 1
        return counts
