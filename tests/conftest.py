"""Shared fixtures: temp state dirs, realistic SQS events, a running stack on port 0."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.ports import Message
from exodus2045.app_under_test.settings import QueueConfig
from exodus2045.app_under_test.sqs_event import sqs_event
from exodus2045.app_under_test.statedir import StateDir


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state").ensure()


@pytest.fixture
def backend(state: StateDir) -> Iterator[LocalBackend]:
    b = open_local(state, QueueConfig(visibility_timeout=30.0, max_receive_count=3))
    yield b
    b.close()


def frontend_body(n: int = 0, **overrides) -> dict:
    """A queued submission exactly as the frontend enqueues it."""
    body = {
        "wish_id": str(uuid.uuid4()), "run_id": "r-test", "source": "swarm",
        "evacuee": f"Ada Evacuee {n}", "destination": "mars" if n % 2 == 0 else "jupiter",
        "message": f"Plant a tree for me, number {n}.", "accepted_at": time.time(),
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_sqs_event() -> Callable[..., dict]:
    """Build an SQS event like Lambda's event source mapping delivers it."""

    def build(bodies: list, queue: str = "wishes", receive_count: int = 1) -> dict:
        messages = [
            Message(
                message_id=str(uuid.uuid4()),
                body=b if isinstance(b, str) else json.dumps(b),
                receipt_handle=uuid.uuid4().hex,
                receive_count=receive_count,
                sent_at=time.time(),
            )
            for b in bodies
        ]
        return sqs_event(messages, queue)

    return build


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """Poll a condition with a deadline (never a bare sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.02)
