"""The store contract (tests/store_contract.py, unchanged) against DynamoDB on the local AWS,
plus what only the DynamoDB adapter has: pagination, no Scan on the wall's path, faults
mapped to retryable errors, and the seeded flaws."""

from __future__ import annotations

import uuid

import pytest

from exodus2045.app_under_test.backends.aws.provision import create_table, delete_table
from exodus2045.app_under_test.backends.aws.store import DynamoWishStore
from exodus2045.app_under_test.errors import StoreUnavailable
from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.store_contract import StoreContract, wish


@pytest.fixture
def table(ministack: Ministack):
    ddb = ministack.client("dynamodb")
    name = f"wishes-{uuid.uuid4().hex[:12]}"
    create_table(ddb, name)
    yield ddb, name
    delete_table(ddb, name)


class TestDynamoStoreContract(StoreContract):
    @pytest.fixture
    def store_opener(self, table):
        ddb, name = table
        return lambda: DynamoWishStore(ddb, name)


def test_reads_paginate(table):
    ddb, name = table
    store = DynamoWishStore(ddb, name, page_size=4)
    wishes = [wish(n) for n in range(11)]
    store.put_wishes(wishes)
    assert {w["wish_id"] for w in store.iterate()} == {w["wish_id"] for w in wishes}
    assert store.count() == 11
    assert [w["wish_id"] for w in store.latest(6)] == [w["wish_id"] for w in wishes[::-1][:6]]
    store.hide(wishes[-1]["wish_id"])
    assert [w["wish_id"] for w in store.latest(6)] == [w["wish_id"] for w in wishes[-2::-1][:6]]


class _Recording:
    """A DynamoDB client that records which operations were called."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.client, name)


def test_the_wall_never_scans(table):
    ddb, name = table
    recording = _Recording(ddb)
    store = DynamoWishStore(recording, name)
    store.put_wishes([wish(n) for n in range(3)])
    recording.calls.clear()
    assert len(store.latest(2)) == 2
    store.tally()
    store.get(str(uuid.uuid4()))
    assert "scan" not in recording.calls
    assert set(recording.calls) <= {"query", "get_item"}


def test_put_is_one_transaction_per_wish(table):
    ddb, name = table
    recording = _Recording(ddb)
    DynamoWishStore(recording, name).put_wishes([wish(0), wish(1)])
    assert recording.calls == ["transact_write_items", "transact_write_items"]


def test_double_tally_flaw_bumps_on_every_delivery(table):
    ddb, name = table
    store = DynamoWishStore(ddb, name, flaws=frozenset({"double-tally"}))
    w = wish(0)
    assert store.put_wishes([w, w, w]) == [True, False, False]
    assert store.count() == 1
    assert store.tally()["mars"] == 3


class _Failing:
    def __init__(self, code: str, status: int, reasons=None) -> None:
        self.code, self.status, self.reasons = code, status, reasons

    def __getattr__(self, name):
        from botocore.exceptions import ClientError

        def fail(**kwargs):
            response = {"Error": {"Code": self.code, "Message": "injected"},
                        "ResponseMetadata": {"HTTPStatusCode": self.status}}
            if self.reasons is not None:
                response["CancellationReasons"] = [{"Code": c} for c in self.reasons]
            raise ClientError(response, name)

        return fail


@pytest.mark.parametrize(("code", "status", "reasons"), [
    ("ProvisionedThroughputExceededException", 400, None),
    ("ThrottlingException", 400, None),
    ("InternalServerError", 500, None),
    ("TransactionCanceledException", 400, ["None", "TransactionConflict"]),
    ("TransactionCanceledException", 400, ["ThrottlingError", "None"]),
])
def test_throttling_conflicts_and_5xx_are_retryable(code, status, reasons):
    store = DynamoWishStore(_Failing(code, status, reasons), "t")
    with pytest.raises(StoreUnavailable):
        store.put_wishes([wish(0)])
    if reasons is None:
        with pytest.raises(StoreUnavailable):
            store.tally()


def test_validation_errors_are_final():
    from botocore.exceptions import ClientError

    store = DynamoWishStore(_Failing("ValidationException", 400), "t")
    with pytest.raises(ClientError):
        store.put_wishes([wish(0)])
