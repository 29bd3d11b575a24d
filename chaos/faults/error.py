"""``error``: a queue or store call fails with the service's internal error (HTTP 500).

SQS calls it ``InternalError``, DynamoDB ``InternalServerError``; both are retryable and
must lead to redelivery, never to a lost or doubled wish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exodus2045.chaos.faults.base import PortFault, unavailable

CODES = {"queue": "InternalError", "store": "InternalServerError"}


class Error(PortFault):
    name = "error"
    summary = "fail queue/store calls with the service's internal error"

    def inject(self, operation: str, params: Mapping[str, Any]) -> None:
        code = CODES[operation.partition(".")[0]]
        raise unavailable(operation, code, "internal error")


FAULT = Error()
