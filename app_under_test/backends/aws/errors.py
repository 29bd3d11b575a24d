"""Which AWS failures are transient: throttling, 5xx and lost connections become the port's
retryable errors; everything else (a validation error, a missing queue, no permission) is a
bug or a bad setting and propagates, as app_under_test/errors.py says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from exodus2045.app_under_test.errors import Retryable

T = TypeVar("T")

#: Error codes AWS uses for "slow down" across SQS and DynamoDB (botocore's own list, plus
#: the per-service spellings).
THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceeded",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestLimitExceededException",
    "SlowDown", "TransactionInProgressException", "KmsThrottled",
    "AWS.SimpleQueueService.RequestThrottled",
})
#: Cancellation reasons of a DynamoDB transaction that a retry can fix.
TRANSIENT_CANCELLATIONS = frozenset({
    "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "InternalError",
})


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "") or type(exc).__name__)


def is_transient(exc: BaseException) -> bool:
    """True for throttling, any 5xx, and connection or read failures."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_code(exc) in THROTTLING or int(status) >= 500
    return False


def as_retryable(exc: BaseException, error: type[Retryable], what: str) -> Retryable | None:
    """The port's retryable error for ``exc``, or None if it is not transient."""
    if not is_transient(exc):
        return None
    code = error_code(exc)
    return error(f"{what}: {code}: {exc}", code=code)  # type: ignore[call-arg]


def call(error: type[Retryable], what: str, fn: Callable[..., T], **kwargs: Any) -> T:
    """``fn(**kwargs)``, with a transient AWS failure raised as the port's ``error``."""
    try:
        return fn(**kwargs)
    except Exception as exc:
        retryable = as_retryable(exc, error, what)
        if retryable is not None:
            raise retryable from exc
        raise
