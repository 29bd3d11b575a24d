"""``latency``: a queue or store call takes ``ms`` longer (a slow network or a hot partition).

The call still succeeds: what breaks, if anything, is whatever had a deadline -- a long poll,
a visibility timeout shorter than the slowed batch, the submit SLO.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from exodus2045.chaos.faults.base import Param, PortFault


class Latency(PortFault):
    name = "latency"
    summary = "delay queue/store calls by ms milliseconds"
    params = (Param("ms", "milliseconds added to each affected call", float, required=True,
                    lo=1, hi=60_000),)

    def inject(self, operation: str, params: Mapping[str, Any]) -> None:
        time.sleep(float(params["ms"]) / 1000.0)


FAULT = Latency()
