"""Public reads on stage: one shared snapshot, limited per client; the run's own reads exempt.

A room refreshing ``/wall``, ``/api/wall``, ``/tally`` (or one laptop in a loop) costs one
store read per second, not one per request (counted at the store, not timed); a public
client that reads too fast gets 429, while the runner's evidence reads, signed with the
run key (app_under_test/runkey.py ``read_signature``), in the same second from the same
address never do. A forged, replayed or unsigned read is just a public one.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.frontend.public_view import MAX_AGE_S
from exodus2045.app_under_test.runkey import RUN_HEADER, SIG_HEADER, read_signature, write_key
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.scenarios.evidence.http import HttpSource, HttpSourceConfig
from tests.conftest import wait_for
from tests.frontend_fixtures import config_for, running_frontend, signed_post, stored_wish, wish
from tests.stack_fixtures import running_stack

PUBLIC_PATHS = ("/wall", "/api/wall?limit=10", "/tally", "/api/tally", "/api/tally/snapshot",
                "/wall?limit=200")
RUN_ID = "run-public-reads"
TOKEN = "p" * 32


class CountingStore:
    """The real store, with every read a public view could make counted."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.reads = 0

    def _count(self) -> None:
        with self._lock:
            self.reads += 1

    def latest(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return self._store.latest(*args, **kwargs)

    def tally(self) -> Any:
        self._count()
        return self._store.tally()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_concurrent_public_reads_share_one_store_read_per_interval(
    state: StateDir, backend: LocalBackend
) -> None:
    backend.store.put_wishes([stored_wish(n) for n in range(30)])
    counting = CountingStore(backend.store)
    shared = LocalBackend(backend.wishes, backend.parsed, counting, backend.intake)
    n = 120
    with running_frontend(config_for(state.root), shared) as fe:
        def read(i: int) -> int:
            with httpx.Client(base_url=fe.url, timeout=20.0) as client:
                return client.get(PUBLIC_PATHS[i % len(PUBLIC_PATHS)]).status_code

        before = counting.reads
        started = time.monotonic()
        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(read, range(n)))
        elapsed = time.monotonic() - started
        reads = counting.reads - before
    assert statuses == [200] * n, statuses
    # one snapshot = latest + tally; at most one snapshot per interval the burst spanned
    snapshots_allowed = math.ceil(elapsed / MAX_AGE_S) + 1
    assert reads <= 2 * snapshots_allowed, (
        f"{n} public reads over {elapsed:.2f}s made {reads} store reads")


def test_public_reads_are_limited_but_the_runners_signed_reads_never_are(tmp_path: Path) -> None:
    state = tmp_path / "state"
    k = 12
    with running_stack(state, presenter_token=TOKEN, rate_limit_per_s=1.0) as stack, \
            httpx.Client(base_url=stack.url, timeout=10.0) as public:
        key = b"\x07" * 32
        write_key(state, RUN_ID, key)
        ids = []
        for i in range(k):
            body = wish(i)
            assert signed_post(public, state, RUN_ID, body).status_code == 202
            ids.append(body["wish_id"])

        seen: list[tuple[str, int]] = []
        config = HttpSourceConfig(presenter_token=TOKEN, run_id=RUN_ID, run_key=key,
                                  concurrency=4, attempts=1)
        source = HttpSource(stack.url, config)
        source.client.event_hooks["response"].append(
            lambda r: seen.append((r.request.url.path, r.status_code)))
        try:
            def stored() -> bool:  # signed: read fresh from the store, never limited
                return sum(source.tally().values()) == k

            wait_for(stored, 30, "the run's wishes stored")
            hammered = [public.get("/api/wall").status_code for _ in range(30)]
            assert 429 in hammered, hammered
            seen.clear()
            found = source.lookup(ids)  # the runner's reads, in the same second
            tally = source.tally()
            listed = list(source.stored_wishes(RUN_ID))
            pages = source.pages(ids[:3])
            backlog = source.backlog()
        finally:
            source.close()

        # the public, same address, is still limited; forged, replayed, unsigned reads too
        def sig(path: str, with_key: bytes = key) -> dict[str, str]:
            return {RUN_HEADER: RUN_ID, SIG_HEADER: read_signature(with_key, RUN_ID, "GET", path)}

        still = public.get("/api/wall").status_code
        forged = public.get("/api/wall", headers=sig("/api/wall", b"\x08" * 32)).status_code
        replayed = public.get("/api/wall", headers=sig("/api/tally")).status_code
        unsigned = public.get("/api/wall", headers={RUN_HEADER: RUN_ID}).status_code
        signed = public.get("/api/wall", headers=sig("/api/wall")).status_code

    assert seen and not [s for s in seen if s[1] == 429], seen
    assert all(x.found for x in found) and sum(tally.values()) == k
    assert sorted(w["wish_id"] for w in listed) == sorted(ids)
    assert pages and {p.status for p in pages} == {200} and backlog == 0, pages
    assert (still, forged, replayed, unsigned) == (429, 429, 429, 429)
    assert signed == 200


@pytest.mark.slow
def test_a_run_against_a_stage_target_is_never_limited_in_its_own_reads(tmp_path: Path) -> None:
    """The runner's evidence reads (the drain's /metrics polls, ten a second; the tally; the
    pages; the listing) against a frontend on stage, while a public client on the same
    address reads flat out and is limited: signed, so not one of the runner's is."""
    state, out = tmp_path / "state", tmp_path / "run"
    env = {**os.environ, "EXODUS_PRESENTER_TOKEN": TOKEN, "EXODUS_RATE_LIMIT": "1"}
    up = subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", "up", "--port", "0",
                           "--state-dir", str(state), "--parsers", "1", "--pod-workers", "1"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (state / "stack.json").exists() and all(
            c["pid"] for c in json.loads((state / "stack.json").read_text())["components"]),
            what="exodus up")
        url = json.loads((state / "stack.json").read_text())["url"]
        done, hammered = threading.Event(), []

        def hammer() -> None:  # a public client on the runner's own address, reading flat out
            with httpx.Client(base_url=url, timeout=10.0) as public:
                while not done.is_set():
                    hammered.append(public.get("/api/tally").status_code)
                    done.wait(0.02)

        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        try:
            run = subprocess.run(
                [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--target", url,
                 "--out", str(out), "--evacuees", "120", "--arrival-rate", "60",
                 "--allow-partial"],  # HTTP alone cannot see dead letters: unproven, not unsound
                env=env, capture_output=True, text=True, timeout=300)
        finally:
            done.set()
            thread.join(10)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    evidence = json.loads((out / "evidence.json").read_text())
    meta = json.loads((out / "run.json").read_text())
    pages = json.loads((out / "pages" / "index.json").read_text())
    assert 429 in hammered, "the public client on that address was limited throughout"
    assert [src.get("signed_reads") for src in evidence["sources"]] == [True]
    assert meta["drain"]["drained"] and meta["drain"]["by"] == "backlog", meta["drain"]
    assert len(pages) >= 5 and {p["status"] for p in pages} <= {200, 404}, pages
