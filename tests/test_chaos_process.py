"""A real pod-worker process picks up faults.json changes while it runs."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from exodus2045.app_under_test import pod_worker
from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.ports import Message, OutgoingMessage
from exodus2045.app_under_test.sqs_event import sqs_event
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.board import ActiveFault, FaultBoard
from exodus2045.chaos.faults.crash_after_store import EXIT_CODE
from exodus2045.chaos.faults.poison import poison_body
from exodus2045.chaos.processes import is_component
from exodus2045.chaos.stack import component_command
from tests.conftest import frontend_body, wait_for

VISIBILITY_S = 0.5


@pytest.fixture
def worker(state: StateDir) -> Iterator[tuple[subprocess.Popen, LocalBackend]]:
    env = {**os.environ, s.ENV_STATE_DIR: str(state.root), s.ENV_FLAWS: "",
           s.ENV_WAIT_TIME: "0.2", s.ENV_VISIBILITY_TIMEOUT: str(VISIBILITY_S),
           s.ENV_MAX_RECEIVE_COUNT: "1000"}
    backend = open_local(state)
    proc = subprocess.Popen([sys.executable, "-m", "exodus2045.chaos.entry", "pod-worker"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc, backend
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        proc.stderr.close()
        backend.close()


def _send(backend: LocalBackend, n: int) -> str:
    body = frontend_body(n)
    backend.parsed.send_batch([OutgoingMessage(json.dumps(body))])
    return body["wish_id"]


def _receive_counts(state: StateDir) -> dict[str, int]:
    with sqlite3.connect(state.parsed_queue_db) as conn:
        rows = conn.execute("SELECT body, receive_count FROM messages WHERE queue = 'parsed'")
        return {json.loads(body)["wish_id"]: count for body, count in rows}


class Feeder:
    """Sends a wish every ``every_s`` while a condition is polled: the component may pick a
    fault up at any moment, so the test keeps traffic flowing instead of guessing when."""

    def __init__(self, backend: LocalBackend, every_s: float = 0.05) -> None:
        self.backend, self.every_s = backend, every_s
        self.sent: list[str] = []
        self._next = 0.0

    def __call__(self, condition):
        def poll():
            if time.monotonic() >= self._next:
                self.sent.append(_send(self.backend, len(self.sent)))
                self._next = time.monotonic() + self.every_s
            return condition()
        return poll


def test_a_running_worker_follows_the_board(state: StateDir, worker) -> None:
    proc, backend = worker
    board = FaultBoard(state)
    first = _send(backend, 1)
    wait_for(lambda: backend.store.get(first), timeout=20, what="the worker to start storing")

    # on: every store call fails, so a wish sent after the pickup is redelivered, not stored
    entry = board.add(ActiveFault.new("error", "pod-worker/store.put", 1.0, {}, 1, "cli"))
    feed = Feeder(backend)
    wait_for(feed(lambda: any(c >= 2 for c in _receive_counts(state).values())),
             timeout=1.0 + VISIBILITY_S, what="a redelivery under the fault")
    failing = [w for w, c in _receive_counts(state).items() if c >= 2]
    assert all(backend.store.get(w) is None for w in failing)

    # off: within a second (plus one visibility timeout) every redelivery is stored, once
    board.remove(entry.id)
    cleared = time.monotonic()
    wait_for(lambda: backend.store.count() == 1 + len(feed.sent), timeout=5,
             what="every wish after clearing")
    assert time.monotonic() - cleared < 1.0 + VISIBILITY_S
    wait_for(lambda: not _receive_counts(state), timeout=5, what="the queue to empty")

    # crash-after-store: the process dies after storing a batch, before deleting it
    board.add(ActiveFault.new("crash-after-store", "pod-worker", 1.0, {}, 1, "cli"))
    armed = time.monotonic()
    crash_feed = Feeder(backend)
    wait_for(crash_feed(lambda: proc.poll() is not None), timeout=5, what="the crash")
    assert time.monotonic() - armed < 1.0, "the change reached the running worker within 1 s"
    assert proc.returncode == EXIT_CODE
    delivered = [w for w, count in _receive_counts(state).items() if count >= 1]
    assert delivered, "the crashed batch was not deleted: it will be delivered again"
    assert all(backend.store.get(w) is not None for w in delivered), "...and it was stored first"
    assert b"crash-after-store" in proc.stderr.read()


def test_invalid_utf8_poison_is_dead_lettered_without_failing_its_batch(
        backend: LocalBackend) -> None:
    """Found by this fault: a lone surrogate used to make the store raise and fail the whole
    batch, so its good neighbours were redelivered with it until maxReceiveCount sent them
    all to the DLQ unstored. The pod worker now dead-letters the poison alone."""
    body = poison_body("invalid-utf8", 0, random.Random(1))
    good = frontend_body(9)
    handler = pod_worker.make_handler(backend.store, backend.parsed)
    event = sqs_event([Message("poison", body, "r1", 1, time.time()),
                       Message("good", json.dumps(good), "r2", 1, time.time())], "parsed")
    assert handler(event, None) == {"batchItemFailures": []}
    assert backend.store.get(good["wish_id"]) is not None
    assert [d["reason"] for d in backend.parsed.dead_letters()] == [
        "invalid unicode: message holds a lone surrogate"]


def test_chaos_recognises_both_entry_points_and_no_stranger(state: StateDir) -> None:
    """A pid from stack.json is signalled only if it still runs a component: the plain
    pipeline's process or chaos's entry point around it, never anything else."""
    env = {**os.environ, s.ENV_STATE_DIR: str(state.root), s.ENV_WAIT_TIME: "0.2"}
    argvs = {
        "plain": [sys.executable, "-m", "exodus2045.app_under_test.functions", "parser"],
        "chaos": [*component_command("parser"), "--index", "1"],
        "stranger": [sys.executable, "-c", "import time; time.sleep(60)"],
    }
    procs = {k: subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for k, argv in argvs.items()}
    try:
        seen = {k: is_component(p.pid) for k, p in procs.items()}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=10)
    assert seen == {"plain": True, "chaos": True, "stranger": False}
    assert not is_component(procs["chaos"].pid), "a dead pid is nobody"
