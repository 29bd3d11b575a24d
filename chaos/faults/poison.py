"""``poison``: put messages that can never succeed straight into the queue a component reads.

Target ``parser`` poisons the wishes queue (frontend -> parser), ``pod-worker`` the parsed
queue (parser -> pod worker). A sound consumer dead-letters each with its reason at once;
a consumer without a DLQ retries them forever (the ``no-dlq`` flaw).

Kinds (``count`` messages are spread over them in turn):

- ``malformed-json``: a body cut off mid-string.
- ``invalid-utf8``: SQS (and our SQLite queue, :class:`InvalidMessageContents`) refuse bodies
  that are not UTF-8, so raw bytes cannot be sent. We send what such bytes become after a
  sloppy decode instead: the Latin-1 byte ``0xE9`` kept as Python's surrogate escape, written
  as the JSON escape ``\\udce9``. The body is valid UTF-8 text; the decoded message holds a
  lone surrogate, which the parser's Unicode validation rejects ("is not valid Unicode") and
  the pod worker dead-letters ("invalid unicode"). (A U+FFFD replacement character would
  not do: it is a valid character and passes both.)
- ``wrong-schema``: a well-formed object in the 2019 demo's shape, none of our fields.
- ``oversize``: a 450,000-character message: under SQS's 1 MiB, over DynamoDB's 400 KB item.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from exodus2045.app_under_test.backends.local.queue import LocalQueue
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.settings import QueueConfig
from exodus2045.app_under_test.statedir import PARSED_QUEUE, WISHES_QUEUE, StateDir
from exodus2045.chaos.faults.base import FORBIDDEN, Fault, FaultContext, Param

KINDS = ("malformed-json", "invalid-utf8", "wrong-schema", "oversize")
OVERSIZE_CHARS = 450_000


def poison_body(kind: str, n: int, rng: random.Random) -> str:
    """The body of poison message ``n`` of ``kind`` (repeatable from the seeded ``rng``)."""
    wish_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    wish = {"wish_id": wish_id, "evacuee": f"Poison Pill {n}", "destination": "mars"}
    if kind == "malformed-json":
        return json.dumps({**wish, "message": "this message never ends"})[:-12]
    if kind == "invalid-utf8":
        body = json.dumps({**wish, "message": "caf@ au lait"})
        return body.replace("@", "\\udce9")  # the escape, as text: six ASCII characters
    if kind == "wrong-schema":
        return json.dumps({"CHANNEL": "1", "TIMESTAMP": "2019-05-21T10:00:00.000Z",
                           "text": f"POISON PILL {n}", "id": wish_id})
    if kind == "oversize":
        return json.dumps({**wish, "message": "x" * OVERSIZE_CHARS})
    raise ValueError(f"unknown poison kind {kind!r}")


def queue_of(state: StateDir, kind: str) -> LocalQueue:
    """The queue a component kind consumes from, opened for this process."""
    if kind == "parser":
        return LocalQueue(state.wishes_queue_db, WISHES_QUEUE, QueueConfig())
    return LocalQueue(state.parsed_queue_db, PARSED_QUEUE, QueueConfig())


class Poison(Fault):
    name = "poison"
    summary = "put count never-valid messages straight into the queue the target consumes"
    kinds = ("parser", "pod-worker")
    allow_index = False
    duration = FORBIDDEN
    duration_why = "it puts its messages in once (use every to repeat)"
    params = (
        Param("count", "how many poison messages", int, default=10, lo=1, hi=10_000),
        Param("kinds", "which kinds, spread in turn", list, default=KINDS, choices=KINDS),
    )

    def is_instant(self, duration_s: float | None) -> bool:
        return True

    def apply(self, ctx: FaultContext) -> dict[str, Any]:
        rng = random.Random(ctx.seed)
        kinds = list(ctx.params["kinds"])
        bodies = [poison_body(kinds[n % len(kinds)], n, rng) for n in range(ctx.params["count"])]
        queue = queue_of(ctx.state, ctx.target.kind)
        try:
            queue.send_batch([OutgoingMessage(b) for b in bodies])
        finally:
            queue.close()
        return {"queue": queue.name}


FAULT = Poison()
