"""The store contract (tests/store_contract.py) against the embedded SQLite store."""

from __future__ import annotations

import pytest

from exodus2045.app_under_test.backends.local.store import COLUMNS, LocalWishStore, _row
from tests.store_contract import StoreContract


class TestLocalStoreContract(StoreContract):
    @pytest.fixture
    def store_opener(self, tmp_path):
        opened: list[LocalWishStore] = []

        def open_store() -> LocalWishStore:
            store = LocalWishStore(tmp_path / "store.db")
            opened.append(store)
            return store

        yield open_store
        for store in opened:
            store.close()


def test_a_row_is_its_columns_in_order():
    """``_row`` spells the columns out: it keeps COLUMNS' names and order (the snapshot's key
    order, hence its bytes), with the two flags as booleans."""
    values = list(range(len(COLUMNS)))
    wish = _row(values)
    assert list(wish) == list(COLUMNS)
    flags = {"markup", "hidden"}
    assert wish == {c: bool(v) if c in flags else v for c, v in zip(COLUMNS, values, strict=True)}
    assert wish["markup"] is True and wish["hidden"] is True
