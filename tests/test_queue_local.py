"""The queue contract against the embedded SQLite backend, plus crash-safety."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from exodus2045.app_under_test import functions
from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.backends.local.queue import LocalQueue
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.settings import PollerConfig, QueueConfig
from exodus2045.app_under_test.statedir import StateDir
from tests.queue_contract import QueueContract


class TestLocalQueueContract(QueueContract):
    @pytest.fixture
    def queue_factory(self, tmp_path):
        made = []

        def make(visibility: float, max_receive: int) -> LocalQueue:
            q = LocalQueue(tmp_path / f"q{len(made)}.db", "wishes",
                           QueueConfig(visibility_timeout=visibility, max_receive_count=max_receive))
            made.append(q)
            return q

        yield make
        for q in made:
            q.close()


def test_no_dlq_flaw_retries_forever(tmp_path):
    """GIVEN the no-dlq flaw, WHEN a message keeps failing, THEN it is never redriven."""
    q = LocalQueue(tmp_path / "q.db", "wishes",
                   QueueConfig(visibility_timeout=0.05, max_receive_count=1, dead_letter=False))
    q.send_batch([OutgoingMessage("x")])
    counts = [m.receive_count for _ in range(4) for m in q.receive(1, wait_time_s=1.0)]
    assert counts == [1, 2, 3, 4]
    assert q.depth().dead_letters == 0


def test_kill_9_mid_stream_loses_no_committed_message(tmp_path):
    """GIVEN a writer process that prints each id once send_batch returned,
    WHEN it is SIGKILLed mid-stream, THEN every id it reported is in the queue."""
    db = tmp_path / "q.db"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from exodus2045.app_under_test.backends.local.queue import LocalQueue
        from exodus2045.app_under_test.ports import OutgoingMessage
        q = LocalQueue(Path({str(db)!r}), "wishes")
        n = 0
        while True:
            ids = q.send_batch([OutgoingMessage(str(n + i)) for i in range(10)])
            n += 10
            print(" ".join(ids), flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    acknowledged: list[str] = []
    for line in proc.stdout:
        acknowledged.extend(line.split())
        if len(acknowledged) >= 3000:
            proc.kill()
            break
    proc.wait()
    q = LocalQueue(db, "wishes")
    stored = {r[0] for r in q.connection.execute("SELECT message_id FROM messages")}
    q.close()
    assert set(acknowledged) <= stored
    assert len(acknowledged) >= 3000


def test_a_stop_ends_an_idle_long_poll_at_once(tmp_path):
    """GIVEN a long poll of 30 s on an empty queue, WHEN its stop is set, THEN it returns
    empty at its next look (a stopping poller exits promptly: the teardown waits on it)."""
    q = LocalQueue(tmp_path / "q.db", "wishes")
    q.stop_waiting = threading.Event()
    threading.Timer(0.2, q.stop_waiting.set).start()
    start = time.monotonic()
    assert q.receive(10, wait_time_s=30.0) == []
    assert time.monotonic() - start < 10.0


def test_a_stop_never_drops_what_is_visible(tmp_path):
    """GIVEN a stop already set, WHEN a message is visible, THEN the receive still hands it
    over (the poller handles and deletes the batch in hand before it exits)."""
    q = LocalQueue(tmp_path / "q.db", "wishes")
    q.stop_waiting = threading.Event()
    q.stop_waiting.set()
    q.send_batch([OutgoingMessage("x")])
    assert [m.body for m in q.receive(10, wait_time_s=30.0)] == ["x"]


@pytest.mark.parametrize("role", ["parser", "pod-worker"])
def test_a_pollers_stop_reaches_its_queues_long_poll(state: StateDir, backend: LocalBackend,
                                                     role: str):
    """The poller a component runs: its stop event is the one its queue's long poll reads."""
    config = PollerConfig(state_dir=state.root, role=role, wait_time_s=30.0)
    poller = functions.build_poller(config, backend)
    runner = threading.Thread(target=poller.run)
    runner.start()
    poller.stop_event.set()
    runner.join(timeout=10.0)
    assert not runner.is_alive()
