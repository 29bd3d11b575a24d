"""Every ``EXODUS_*`` environment variable, and one frozen config dataclass per component.

Configuration is read once, here, from the environment (CLI flags default to these values
and override them). Nothing else in the code reads ``os.environ`` for a tunable, so a test
changes behaviour by building a config, never by patching a module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.flaws import parse_flaws

# The one list of environment variables Exodus reads.
ENV_STATE_DIR = "EXODUS_STATE_DIR"
ENV_HOST = "EXODUS_HOST"
ENV_PORT = "EXODUS_PORT"
ENV_FRONTENDS = "EXODUS_FRONTENDS"
ENV_PARSERS = "EXODUS_PARSERS"
ENV_POD_WORKERS = "EXODUS_POD_WORKERS"
ENV_FLAWS = "EXODUS_FLAWS"
ENV_PRESENTER_TOKEN = "EXODUS_PRESENTER_TOKEN"
ENV_VISIBILITY_TIMEOUT = "EXODUS_VISIBILITY_TIMEOUT"
ENV_MAX_RECEIVE_COUNT = "EXODUS_MAX_RECEIVE_COUNT"
ENV_BATCH_SIZE = "EXODUS_BATCH_SIZE"
ENV_WAIT_TIME = "EXODUS_WAIT_TIME"
ENV_LINGER_MS = "EXODUS_LINGER_MS"
ENV_RATE_LIMIT = "EXODUS_RATE_LIMIT"
ENV_RUNS_DIR = "EXODUS_RUNS_DIR"
ENV_PUBLIC_URL = "EXODUS_PUBLIC_URL"

ALL_ENV = (
    ENV_STATE_DIR,
    ENV_HOST,
    ENV_PORT,
    ENV_FRONTENDS,
    ENV_PARSERS,
    ENV_POD_WORKERS,
    ENV_FLAWS,
    ENV_PRESENTER_TOKEN,
    ENV_VISIBILITY_TIMEOUT,
    ENV_MAX_RECEIVE_COUNT,
    ENV_BATCH_SIZE,
    ENV_WAIT_TIME,
    ENV_LINGER_MS,
    ENV_RATE_LIMIT,
    ENV_RUNS_DIR,
    ENV_PUBLIC_URL,
)


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return default if value is None or value == "" else value


def public_url(raw: str | None) -> str | None:
    """The audience's join URL as configured (``EXODUS_PUBLIC_URL``): http(s), no query.

    Checked here, once, because the projector prints it as a link and a QR code: a typo
    should stop ``exodus stage`` with a message, not put a broken code on the big screen.
    """
    if raw is None or not raw.strip():
        return None
    from urllib.parse import urlsplit

    text = raw.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or \
            parts.fragment or any(c.isspace() or ord(c) < 32 for c in text):
        raise ConfigError(f"{ENV_PUBLIC_URL}={raw!r} must be an http(s) URL without query or "
                          "fragment, e.g. https://exodus.example.org/")
    return text if parts.path else text + "/"


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _get(env, name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class QueueConfig:
    """SQS-like queue attributes for the local backend (per queue, same for both queues)."""

    visibility_timeout: float = 10.0
    max_receive_count: int = 5
    dead_letter: bool = True  # False only under the ``no-dlq`` flaw

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, flaws: frozenset[str] = frozenset()):
        return cls(
            visibility_timeout=env_float(env, ENV_VISIBILITY_TIMEOUT, 10.0, minimum=0.05),
            max_receive_count=env_int(env, ENV_MAX_RECEIVE_COUNT, 5, minimum=1),
            dead_letter="no-dlq" not in flaws,
        )


@dataclass(frozen=True)
class FrontendConfig:
    """The HTTP frontend: where its queue lives, how it batches commits, what it allows."""

    state_dir: Path
    flaws: frozenset[str] = frozenset()
    linger_ms: float = 2.0
    max_batch: int = 256
    presenter_token: str | None = None
    rate_limit_per_s: float = 0.0  # audience wishes per client per second; 0 = unlimited
    queue: QueueConfig = field(default_factory=QueueConfig)
    public_url: str | None = None  # the join link the projector shows; None = from the request
    stream_max: int = 100  # live projector streams one frontend process serves at once
    stream_lifetime_s: float = 300.0  # then the browser reconnects (EventSource does it)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides) -> FrontendConfig:
        flaws = parse_flaws(env.get(ENV_FLAWS))
        values = dict(
            state_dir=Path(_get(env, ENV_STATE_DIR, "state")),
            flaws=flaws,
            linger_ms=env_float(env, ENV_LINGER_MS, 2.0),
            presenter_token=env.get(ENV_PRESENTER_TOKEN) or None,
            rate_limit_per_s=env_float(env, ENV_RATE_LIMIT, 0.0),
            queue=QueueConfig.from_env(env, flaws),
            public_url=public_url(env.get(ENV_PUBLIC_URL)),
        )
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class PollerConfig:
    """One Lambda-style poller: which handler, which queue, batch and long-poll settings."""

    state_dir: Path
    role: str  # "parser" | "pod-worker"
    index: int = 0
    flaws: frozenset[str] = frozenset()
    batch_size: int = 10
    wait_time_s: float = 1.0
    queue: QueueConfig = field(default_factory=QueueConfig)

    @classmethod
    def from_env(cls, role: str, env: Mapping[str, str] = os.environ, **overrides) -> PollerConfig:
        flaws = parse_flaws(env.get(ENV_FLAWS))
        values = dict(
            state_dir=Path(_get(env, ENV_STATE_DIR, "state")),
            role=role,
            flaws=flaws,
            batch_size=env_int(env, ENV_BATCH_SIZE, 10, minimum=1),
            wait_time_s=env_float(env, ENV_WAIT_TIME, 1.0),
            queue=QueueConfig.from_env(env, flaws),
        )
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class StackConfig:
    """``exodus up``: where to bind, where state lives, how many of each component."""

    state_dir: Path = Path("state")
    host: str = "127.0.0.1"
    port: int = 8045
    frontends: int = 1
    parsers: int = 2
    pod_workers: int = 2
    flaws: frozenset[str] = frozenset()
    presenter_token: str | None = None
    rate_limit_per_s: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides) -> StackConfig:
        values = dict(
            state_dir=Path(_get(env, ENV_STATE_DIR, "state")),
            host=_get(env, ENV_HOST, "127.0.0.1"),
            port=env_int(env, ENV_PORT, 8045),
            frontends=env_int(env, ENV_FRONTENDS, 1, minimum=1),
            parsers=env_int(env, ENV_PARSERS, 2, minimum=1),
            pod_workers=env_int(env, ENV_POD_WORKERS, 2, minimum=1),
            flaws=parse_flaws(env.get(ENV_FLAWS)),
            presenter_token=env.get(ENV_PRESENTER_TOKEN) or None,
            rate_limit_per_s=env_float(env, ENV_RATE_LIMIT, 0.0),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
