"""A real stack with a few of one run's wishes stored, one audience wish and one dead letter.

Shared by the evidence source and collector tests: the stack runs on 127.0.0.1:0 under the
supervisor, the wishes go in over HTTP like the swarm's (``X-Exodus-Run``), the poison goes
straight into the wishes queue so the real parser dead-letters it with its reason.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir

from tests.conftest import wait_for
from tests.stack_fixtures import running_stack

RUN_ID = "r-evidence-test"
POISON = "this is not a wish"


@dataclass(frozen=True)
class FilledStack:
    url: str
    state: StateDir
    run_ids: tuple[str, ...]  # wish ids of RUN_ID, in the order sent
    audience_id: str
    started: float


def _submit(client: httpx.Client, n: int, run: str | None) -> str:
    wish_id = str(uuid.uuid4())
    body = {"wish_id": wish_id, "evacuee": f"Evacuee {n}",
            "destination": "mars" if n % 3 else "jupiter",
            "message": f"Keep the <b>lights</b> on, number {n}"}
    headers = {"x-exodus-run": run} if run else {}
    r = client.post("/api/wishes", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return wish_id


@contextmanager
def filled_stack(root: Path) -> Iterator[FilledStack]:
    """Start the stack in ``root``, fill it, and yield it (a module fixture wraps this)."""
    with running_stack(root) as supervisor:
        started = time.time()
        state = StateDir(root)
        with httpx.Client(base_url=supervisor.url, timeout=10) as client:
            ids = tuple(_submit(client, n, RUN_ID) for n in range(6))
            audience = _submit(client, 99, None)
        backend = open_local(state)
        try:
            backend.wishes.send_batch([OutgoingMessage(POISON)])
            wait_for(lambda: backend.store.count() == 7
                     and len(backend.wishes.dead_letters()) == 1
                     and sum(q.depth().visible + q.depth().in_flight
                             for q in (backend.wishes, backend.parsed)) == 0,
                     what="wishes stored and the poison dead-lettered")
        finally:
            backend.close()
        yield FilledStack(supervisor.url, state, ids, audience, started)


def write_ledger(run_dir: Path, run_id: str, wish_ids, status: int = 202) -> None:
    """A minimal ledger (one acknowledged attempt per wish) so RunData can load the folder."""
    lines = [{"wish_id": w, "run_id": run_id, "status": status, "attempt": 1, "n": n,
              "destination": "mars" if n % 3 else "jupiter"} for n, w in enumerate(wish_ids)]
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_id, "scenario": {"name": "t"}}))
