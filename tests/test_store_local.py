"""The store contract (tests/store_contract.py) against the embedded SQLite store."""

from __future__ import annotations

import pytest

from exodus2045.app_under_test.backends.local.store import LocalWishStore
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
