"""``throttle``: a queue or store call is refused as AWS refuses it under load.

SQS answers ``ThrottlingException``, DynamoDB ``ProvisionedThroughputExceededException``
(the 2019 demo's 5 WCU table said exactly that). Both are retryable, so a sound pipeline
reports the messages for redelivery and loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exodus2045.chaos.faults.base import PortFault, unavailable

CODES = {"queue": "ThrottlingException", "store": "ProvisionedThroughputExceededException"}


class Throttle(PortFault):
    name = "throttle"
    summary = "refuse queue/store calls with AWS's throttling error"

    def inject(self, operation: str, params: Mapping[str, Any]) -> None:
        code = CODES[operation.partition(".")[0]]
        raise unavailable(operation, code, "throttled")


FAULT = Throttle()
