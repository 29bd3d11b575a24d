"""The wish-store contract every backend must honour: put once, tally in the same step.

Backends plug in through a ``store_opener`` fixture of the test module that imports this
suite: each call opens another handle onto the same fresh, empty store (the race test needs
one per thread, as separate pods would have).
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

from exodus2045.app_under_test.errors import Retryable


def wish(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A parsed wish exactly as the parser hands it to the pod worker."""
    value = {
        "wish_id": str(uuid.uuid4()), "run_id": "r-contract", "source": "swarm",
        "evacuee": f"Ada {n}", "destination": "mars" if n % 2 == 0 else "jupiter",
        "message": f"Plant a tree for me, number {n}.", "markup": False,
        "accepted_at": 1_700_000_000.25 + n, "parsed_at": 1_700_000_001.5 + n,
    }
    value.update(overrides)
    return value


def _put_until_done(store, wishes: list[dict[str, Any]]) -> list[bool]:
    """Put as a pod worker would: a retryable error means "try again" (a redelivery)."""
    for _ in range(50):
        try:
            return store.put_wishes(wishes)
        except Retryable:
            continue
    raise AssertionError("the store stayed unavailable for 50 attempts")


class StoreContract:
    """Mix into a test class that provides ``store_opener()``."""

    def test_put_stores_once_and_bumps_the_tally(self, store_opener):
        store = store_opener()
        w = wish(0)
        assert store.put_wishes([w]) == [True]
        got = store.get(w["wish_id"])
        for key in ("wish_id", "run_id", "source", "evacuee", "destination", "message"):
            assert got[key] == w[key]
        assert got["markup"] is False and got["hidden"] is False
        assert got["accepted_at"] == w["accepted_at"] and got["parsed_at"] == w["parsed_at"]
        assert isinstance(got["stored_at"], float) and got["stored_at"] > w["parsed_at"]
        assert store.tally() == {"jupiter": 0, "mars": 1}
        assert store.count() == 1

    def test_empty_store_has_zero_tallies_and_nothing_to_get(self, store_opener):
        store = store_opener()
        assert store.tally() == {"jupiter": 0, "mars": 0}
        assert store.count() == 0
        assert store.get(str(uuid.uuid4())) is None
        assert store.latest() == []
        assert list(store.iterate()) == []

    def test_redelivery_changes_nothing(self, store_opener):
        store = store_opener()
        w = wish(1)
        assert store.put_wishes([w]) == [True]
        before = store.get(w["wish_id"])
        changed = {**w, "message": "a different text on the second delivery"}
        assert store.put_wishes([w]) == [False]
        assert store.put_wishes([changed]) == [False]
        assert store.get(w["wish_id"]) == before
        assert store.tally() == {"jupiter": 1, "mars": 0}
        assert store.count() == 1

    def test_duplicate_within_one_batch_is_stored_once(self, store_opener):
        store = store_opener()
        a, b = wish(0), wish(1)
        assert store.put_wishes([a, b, a]) == [True, True, False]
        assert store.tally() == {"jupiter": 1, "mars": 1}
        assert store.count() == 2

    def test_tally_is_exact_under_a_race_of_four_on_the_same_ids(self, store_opener):
        wishes = [wish(n) for n in range(24)]
        stored: dict[str, int] = {w["wish_id"]: 0 for w in wishes}
        lock = threading.Lock()
        errors: list[BaseException] = []

        def pod(seed: int) -> None:
            store = store_opener()
            order = wishes[:]
            random.Random(seed).shuffle(order)
            try:
                for start in range(0, len(order), 3):
                    chunk = order[start:start + 3]
                    for w, new in zip(chunk, _put_until_done(store, chunk), strict=True):
                        if new:
                            with lock:
                                stored[w["wish_id"]] += 1
            except BaseException as exc:  # surfaced below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=pod, args=(seed,)) for seed in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert set(stored.values()) == {1}, "each wish stored exactly once, by one pod"
        store = store_opener()
        assert store.tally() == {"jupiter": 12, "mars": 12}
        assert store.count() == 24

    def test_latest_is_newest_first_and_bounded(self, store_opener):
        store = store_opener()
        wishes = [wish(n) for n in range(7)]
        for w in wishes:
            store.put_wishes([w])
        assert [w["wish_id"] for w in store.latest(3)] == \
            [w["wish_id"] for w in reversed(wishes)][:3]
        assert len(store.latest(50)) == 7

    def test_hidden_wish_leaves_the_wall_but_stays_stored(self, store_opener):
        store = store_opener()
        wishes = [wish(n) for n in range(4)]
        store.put_wishes(wishes)
        target = wishes[2]["wish_id"]
        assert store.hide(target) is True
        assert target not in {w["wish_id"] for w in store.latest(10)}
        assert len(store.latest(10)) == 3
        assert target in {w["wish_id"] for w in store.latest(10, include_hidden=True)}
        assert store.get(target)["hidden"] is True
        assert store.count() == 4
        assert target in {w["wish_id"] for w in store.iterate()}
        assert store.hide(str(uuid.uuid4())) is False

    def test_iterate_all_or_one_run(self, store_opener):
        store = store_opener()
        ours = [wish(n, run_id="r-ours") for n in range(5)]
        theirs = [wish(n, run_id="r-theirs") for n in range(3)]
        audience = [wish(9, run_id=None, source="audience")]
        store.put_wishes(ours + theirs + audience)
        assert {w["wish_id"] for w in store.iterate("r-ours")} == {w["wish_id"] for w in ours}
        everything = list(store.iterate())
        assert len(everything) == 9
        [aud] = [w for w in everything if w["source"] == "audience"]
        assert aud["run_id"] is None

    def test_iterate_one_source_is_filtered_by_the_store(self, store_opener):
        store = store_opener()
        swarm = [wish(n, run_id="r-ours") for n in range(4)]
        store.put_wishes(swarm)
        assert list(store.iterate(source="audience")) == []  # a run without audience
        audience = [wish(9, run_id=None, source="audience")]
        store.put_wishes(audience)
        assert [w["wish_id"] for w in store.iterate(source="audience")] == [audience[0]["wish_id"]]
        assert {w["wish_id"] for w in store.iterate(source="swarm")} == {
            w["wish_id"] for w in swarm}
        assert list(store.iterate("r-ours", source="audience")) == []
        assert len(list(store.iterate("r-ours", source="swarm"))) == 4

    def test_text_and_flags_round_trip_exactly(self, store_opener):
        store = store_opener()
        w = wish(2, message='Ἀθηνᾶ 🚀 <script>alert("x")</script>\nline two', markup=True,
                 evacuee="Zoë Ångström")
        store.put_wishes([w])
        got = store.get(w["wish_id"])
        assert (got["message"], got["evacuee"], got["markup"]) == \
            (w["message"], w["evacuee"], True)

    def test_many_wishes_all_iterated_and_counted(self, store_opener):
        store = store_opener()
        wishes = [wish(n, message="x" * 1500) for n in range(60)]
        for start in range(0, 60, 10):
            store.put_wishes(wishes[start:start + 10])
        assert {w["wish_id"] for w in store.iterate()} == {w["wish_id"] for w in wishes}
        assert store.count() == 60
        assert store.tally() == {"jupiter": 30, "mars": 30}
