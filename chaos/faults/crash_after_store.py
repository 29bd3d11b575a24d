"""``crash-after-store``: the pod worker dies after storing a batch and before deleting it.

The nastiest moment for at-least-once delivery: the wishes are stored, the messages are
not deleted, so every one of them is delivered again. A sound store makes the redelivery a
no-op; a store that is not idempotent doubles the tally. The process exits with
:data:`EXIT_CODE` (``os._exit``: no cleanup, like a crash) and the supervisor restarts it.
"""

from __future__ import annotations

from exodus2045.chaos.faults.base import BoardFault

EXIT_CODE = 86  # recognisable in logs and tests; no Python exit path uses it


class CrashAfterStore(BoardFault):
    name = "crash-after-store"
    summary = "the pod worker exits after storing a batch, before deleting it"
    kinds = ("pod-worker",)
    probability_per = "batch"


FAULT = CrashAfterStore()
