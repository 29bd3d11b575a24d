"""Per-client token buckets for audience wishes (``EXODUS_RATE_LIMIT``; 0 = unlimited).

On stage the join link is public: one phone in a loop must not fill the wall. The swarm
names its run (``X-Exodus-Run``) and is never limited, so a limit cannot distort a load
test. Pure: the clock is passed in, so tests need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_CLIENTS = 10_000  # bounded memory even if every request comes from a new address


class TokenBuckets:
    """``rate`` tokens a second per key, bursts up to ``burst``."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else 2 * rate)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """0.0 if ``key`` may go now (a token is spent), else seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= MAX_CLIENTS and key not in self._buckets:
            self._forget_idle(now)
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket has refilled: forgetting them changes nothing."""
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) >= MAX_CLIENTS:  # all busy: forget the oldest half
            keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[MAX_CLIENTS // 2:]
            self._buckets = dict(keep)
