"""``visibility``: receive with a short visibility timeout, so messages reappear too soon.

With ``seconds`` below the time a batch really takes, a message is delivered again while
its first delivery is still being handled: duplicate deliveries on demand. Idempotent
handlers shrug; anything that counts deliveries counts too many.
"""

from __future__ import annotations

from exodus2045.chaos.faults.base import BoardFault, Param


class Visibility(BoardFault):
    name = "visibility"
    summary = "receive with a visibility timeout of seconds, so messages reappear early"
    kinds = ("parser", "pod-worker")
    probability_per = "receive"
    params = (Param("seconds", "visibility timeout used by receives while on", float,
                    required=True, lo=0.05, hi=43_200),)


FAULT = Visibility()
