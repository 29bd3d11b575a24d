"""What an answer from the frontend means to an evacuee: fine, a failure, or worth a retry.

Pure (no Locust): these rules are the contract's (docs/architecture.md "Ledger" and "Input
limits"), so tests and the audit can check them without importing Locust, which
monkey-patches the whole process with gevent on import.
"""

from __future__ import annotations

from typing import Any

MAX_ATTEMPTS = 3
THROTTLED = 429
RETRY_AFTER_CAP_S = 1.0
BACKOFF_S = 0.1


def should_retry(status: int, attempt: int) -> bool:
    """Connection errors (0), 429, 503 and other 5xx get another attempt, up to three in all."""
    return (status == 0 or status >= 500 or status == THROTTLED) and attempt < MAX_ATTEMPTS


def judge(expect: str, status: int) -> str | None:
    """None when the answer is what a sound pipeline gives, else why it is a failure.

    Reasons are few and fixed so Locust's failure table groups them. A 4xx for a request
    that had to be refused is a success: Locust's failure ratio then means real failures.
    """
    if status == 0:
        return "connection error"
    if status >= 500:
        return f"HTTP {status}"
    if expect == "accept":
        return None if status == 202 else f"legal wish answered {status}"
    if 400 <= status < 500:
        return None
    return f"bad input answered {status}"


def retry_delay(attempt: int, retry_after: Any) -> float:
    """Seconds before the next attempt: ``Retry-After`` (capped) or a short linear backoff."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), RETRY_AFTER_CAP_S)
        except (TypeError, ValueError):
            pass  # an HTTP date, or garbage: fall back to our own backoff
    return BACKOFF_S * attempt
