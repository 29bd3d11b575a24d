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
from typing import TypeVar

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
ENV_TRACING = "EXODUS_TRACING"  # "off": no spans even with the SDK installed (hop times stay)
ENV_TRACE_SAMPLE = "EXODUS_TRACE_SAMPLE"  # share of wishes (traces) whose spans are kept: 0..1
#: Spans of this share of wishes unless EXODUS_TRACE_SAMPLE (or --trace-sample) says
#: otherwise, for every stack (run, up, stage): every span costs the frontend a quarter of its
#: accept rate, a tenth of them stays within the 10% goal (`exodus bench tracing`; README
#: "Tracing"). Hop times are kept for every wish.
DEFAULT_TRACE_SAMPLE = 0.1
ENV_BACKEND = "EXODUS_BACKEND"
BACKENDS = ("local", "aws")
ENV_TRUST_PROXY = "EXODUS_TRUST_PROXY"
#: prometheus-client's own name: set (by the supervisor) only for N > 1 frontend processes,
#: whose /metrics then answers for all of them (app_under_test/frontend/metrics.py).
ENV_PROMETHEUS_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
#: The read end of the parent's lifeline pipe (app_under_test/lifeline.py), set by the parent.
ENV_LIFELINE_FD = "EXODUS_LIFELINE_FD"
#: A folder a local Locust worker writes every ledger line to before shipping it
#: (locustfiles/spill.py); the runner merges what the master did not get.
ENV_SWARM_SPILL = "EXODUS_SWARM_SPILL"
#: The secret a Locust worker proves it knows before the master answers it (locustfiles/join.py).
ENV_JOIN_TOKEN = "EXODUS_JOIN_TOKEN"
#: Seconds added to every clock reading of a Locust worker (``SwarmWorkerConfig``): plays a
#: worker on a host whose clock is off, so the master's offset estimate can be tested.
ENV_SWARM_CLOCK_SKEW = "EXODUS_SWARM_CLOCK_SKEW"
#: The read end of the runner's go pipe (locustfiles/go.py): Locust starts while the stack
#: comes up and waits there for the target's URL and the run's t0. Set by the runner only.
ENV_SWARM_GO_FD = "EXODUS_SWARM_GO_FD"

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
    ENV_TRACING,
    ENV_TRACE_SAMPLE,
    ENV_BACKEND,
    ENV_TRUST_PROXY,
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


def trust_proxy(raw: str | None) -> str | None:
    """The proxies whose ``X-Forwarded-For`` is believed (``--trust-proxy``): addresses or
    networks, comma-separated; None (the default) believes nobody's.

    Never "any loopback peer" by default: behind a TCP tunnel every phone is loopback, and
    rotating the header would defeat the per-client limits.
    """
    if raw is None or not raw.strip():
        return None
    import ipaddress

    items = [item.strip() for item in raw.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{ENV_TRUST_PROXY}: {item!r} is not an IP address or network "
                              "(e.g. 127.0.0.1 or 10.0.0.0/8)") from None
    return ",".join(items)


_N = TypeVar("_N", int, float)


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    return _env_number(env, name, default, minimum, int, "a whole number")


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    return _env_number(env, name, default, minimum, float, "a number")


def _env_number(env: Mapping[str, str], name: str, default: _N, minimum: _N,
                kind: type[_N], noun: str) -> _N:
    """One reading of a numeric ``EXODUS_*`` setting, so every one fails the same way: the
    name, the value and what it should have been, never a bare ``ValueError``."""
    raw = _get(env, name, str(default))
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {noun}") from None
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
    stream_per_client: int = 3  # of those, per client address (one laptop cannot take all)
    trust_proxy: str | None = None  # whose X-Forwarded-For to believe (see trust_proxy())
    stream_lifetime_s: float = 300.0  # then the browser reconnects (EventSource does it)
    backend: str = "local"  # "aws": claim in the stack's table, enqueue on its SQS queue
    aws: AwsConfig | None = None  # with backend "aws": how to reach it, and what it holds
    aws_resources: AwsResources | None = None
    #: shared by the stack's N frontend processes: /metrics sums them (no exemplars then)
    metrics_multiproc_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"{ENV_BACKEND}={self.backend!r}: expected one of "
                              f"{', '.join(BACKENDS)}")
        if self.backend == "aws" and (self.aws is None or self.aws_resources is None):
            raise ConfigError("the aws backend needs the stack's resources (exodus up "
                              "--backend aws --stack NAME finds them)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides) -> FrontendConfig:
        flaws = parse_flaws(env.get(ENV_FLAWS))
        backend = _get(env, ENV_BACKEND, "local")
        aws = {"aws": AwsConfig.from_env(env), "aws_resources": AwsResources.from_env(env)} \
            if backend == "aws" else {}
        values = dict(
            backend=backend, **aws,
            state_dir=Path(_get(env, ENV_STATE_DIR, "state")),
            flaws=flaws,
            linger_ms=env_float(env, ENV_LINGER_MS, 2.0),
            presenter_token=env.get(ENV_PRESENTER_TOKEN) or None,
            rate_limit_per_s=env_float(env, ENV_RATE_LIMIT, 0.0),
            queue=QueueConfig.from_env(env, flaws),
            public_url=public_url(env.get(ENV_PUBLIC_URL)),
            trust_proxy=trust_proxy(env.get(ENV_TRUST_PROXY)),
            metrics_multiproc_dir=Path(env[ENV_PROMETHEUS_MULTIPROC])
            if env.get(ENV_PROMETHEUS_MULTIPROC) else None,
        )
        values.update(overrides)
        return cls(**values)


#: The two function roles (parser, pod worker): a poller's ``role`` and its process's KIND.
FUNCTION_ROLES = ("parser", "pod-worker")

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
    trust_proxy: str | None = None  # the frontends believe X-Forwarded-For from these only

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
            trust_proxy=trust_proxy(env.get(ENV_TRUST_PROXY)),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# -- the aws backend ---------------------------------------------------------------------
# The standard AWS settings (AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE,
# credentials) are AWS's own names, honoured as boto3 honours them; Exodus adds only these.
ENV_AWS_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_AWS_REGION = "AWS_REGION"
ENV_AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
ENV_AWS_PROFILE = "AWS_PROFILE"
ENV_AWS_RETRY_MODE = "EXODUS_AWS_RETRY_MODE"
ENV_AWS_MAX_ATTEMPTS = "EXODUS_AWS_MAX_ATTEMPTS"
ENV_AWS_CONNECT_TIMEOUT = "EXODUS_AWS_CONNECT_TIMEOUT"
ENV_AWS_READ_TIMEOUT = "EXODUS_AWS_READ_TIMEOUT"
# Where the aws backend's resources are (set by the template on each Lambda function, or by
# whoever builds an aws backend from a stack's outputs).
ENV_WISHES_QUEUE_URL = "EXODUS_WISHES_QUEUE_URL"
ENV_WISHES_DLQ_URL = "EXODUS_WISHES_DLQ_URL"
ENV_PARSED_QUEUE_URL = "EXODUS_PARSED_QUEUE_URL"
ENV_PARSED_DLQ_URL = "EXODUS_PARSED_DLQ_URL"
ENV_TABLE = "EXODUS_TABLE"
# The SSM parameter a deployed function reads its faults from (set by the template).
ENV_FAULT_PARAMETER = "EXODUS_FAULT_PARAMETER"

AWS_ENV = (
    ENV_AWS_RETRY_MODE, ENV_AWS_MAX_ATTEMPTS, ENV_AWS_CONNECT_TIMEOUT, ENV_AWS_READ_TIMEOUT,
    ENV_WISHES_QUEUE_URL, ENV_WISHES_DLQ_URL, ENV_PARSED_QUEUE_URL, ENV_PARSED_DLQ_URL,
    ENV_TABLE, ENV_FAULT_PARAMETER,
)
ALL_ENV = (*ALL_ENV, *AWS_ENV)

RETRY_MODES = ("legacy", "standard", "adaptive")


@dataclass(frozen=True)
class AwsConfig:
    """How the aws backend's boto3 clients are built: once per process, then injected.

    ``endpoint_url`` None means AWS itself (or whatever boto3's own configuration says);
    ``--aws-endpoint`` / ``AWS_ENDPOINT_URL`` point every client at a local AWS. Timeouts are
    bounded so a hung connection becomes a retryable error, not a stuck poller; the read
    timeout stays above SQS's longest long poll (20 s).
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 3
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 25.0

    def __post_init__(self) -> None:
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(f"{ENV_AWS_RETRY_MODE}={self.retry_mode!r}: expected one of "
                              f"{', '.join(RETRY_MODES)}")
        if self.endpoint_url is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"--aws-endpoint / {ENV_AWS_ENDPOINT}={self.endpoint_url!r} "
                                  "must be an http(s) URL, e.g. http://127.0.0.1:4566")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides) -> AwsConfig:
        values = dict(
            endpoint_url=env.get(ENV_AWS_ENDPOINT) or None,
            region=env.get(ENV_AWS_REGION) or env.get(ENV_AWS_DEFAULT_REGION) or None,
            profile=env.get(ENV_AWS_PROFILE) or None,
            retry_mode=_get(env, ENV_AWS_RETRY_MODE, "standard"),
            max_attempts=env_int(env, ENV_AWS_MAX_ATTEMPTS, 3, minimum=1),
            connect_timeout_s=env_float(env, ENV_AWS_CONNECT_TIMEOUT, 3.0, minimum=0.1),
            read_timeout_s=env_float(env, ENV_AWS_READ_TIMEOUT, 25.0, minimum=0.1),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class AwsResources:
    """Which queues and table the aws backend uses (a stack's outputs, or a test's own)."""

    wishes_queue_url: str
    wishes_dlq_url: str
    parsed_queue_url: str
    parsed_dlq_url: str
    table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AwsResources:
        names = (ENV_WISHES_QUEUE_URL, ENV_WISHES_DLQ_URL, ENV_PARSED_QUEUE_URL,
                 ENV_PARSED_DLQ_URL, ENV_TABLE)
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ConfigError(f"the aws backend needs {', '.join(missing)} (a stack's outputs)")
        return cls(*(env[n] for n in names))

    def as_env(self) -> dict[str, str]:
        return {
            ENV_WISHES_QUEUE_URL: self.wishes_queue_url, ENV_WISHES_DLQ_URL: self.wishes_dlq_url,
            ENV_PARSED_QUEUE_URL: self.parsed_queue_url, ENV_PARSED_DLQ_URL: self.parsed_dlq_url,
            ENV_TABLE: self.table,
        }


@dataclass(frozen=True)
class SwarmWorkerConfig:
    """A Locust worker's own settings (the master sends the run; this is the host's part).

    ``clock_skew_s`` is added to every reading of the worker's clock. Zero on a real host; a
    test sets it to play a host whose clock is off and checks that the master's estimate
    (locustfiles/clock.py) finds it and the ledger's times are corrected onto the master's.
    """

    clock_skew_s: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **overrides) -> SwarmWorkerConfig:
        raw = _get(env, ENV_SWARM_CLOCK_SKEW, "0")
        try:
            skew = float(raw)
        except ValueError:
            raise ConfigError(f"{ENV_SWARM_CLOCK_SKEW}={raw!r} is not a number") from None
        values: dict = {"clock_skew_s": skew}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
