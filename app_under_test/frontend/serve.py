"""Run the frontend under uvicorn: on an inherited listening socket, or on host:port.

The supervisor binds one socket and passes its fd to N frontend processes, which all
``accept()`` on it: a killed frontend never takes the port with it. uvicorn runs with
httptools and no access log (a log line per wish would cost more than the wish), and
handles SIGTERM by finishing in-flight requests before the lifespan closes the backend.
"""

from __future__ import annotations

import logging
import logging.config
import socket
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from exodus2045.app_under_test.frontend.app import NO_HOOKS, create_app
from exodus2045.app_under_test.frontend.hooks import FrontendHooks
from exodus2045.app_under_test.frontend.uvicorn_compat import bounded_httptools
from exodus2045.app_under_test.settings import FrontendConfig
from exodus2045.app_under_test.tracing_sdk import configure as configure_tracing

GRACEFUL_SHUTDOWN_S = 10
log = logging.getLogger("exodus.frontend")
#: A request must arrive whole (headers and body) this soon after its first byte, and the
#: first request this soon after the connection opened (slowloris; uvicorn_compat).
REQUEST_RECEIVE_S = 10.0
#: Connections plus running requests before uvicorn answers 503 (streams count too).
LIMIT_CONCURRENCY = 1000


def build_server(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 8045,
    receive_s: float = REQUEST_RECEIVE_S, limit_concurrency: int = LIMIT_CONCURRENCY,
    trust_proxy: str | None = None, log_config: dict[str, Any] | None = None,
) -> uvicorn.Server:
    """The one uvicorn configuration every frontend (process, test, benchmark) runs with.

    ``log_config`` (the frontend process's :func:`log_config`) replaces uvicorn's own
    logging setup; in-process servers (tests, benchmarks) keep uvicorn's default.
    """
    config = uvicorn.Config(
        app,
        **({"log_config": log_config} if log_config is not None else {}),
        host=host,
        port=port,
        http=bounded_httptools(receive_s),
        limit_concurrency=limit_concurrency,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise; behind a
        # tunnel every phone is loopback, so only a proxy named by --trust-proxy is believed
        proxy_headers=trust_proxy is not None,
        forwarded_allow_ips=trust_proxy or "",
        loop="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        backlog=2048,
    )
    return uvicorn.Server(config)


def log_config(component: str) -> dict[str, Any]:
    """Every line the frontend process writes (its own and uvicorn's) starts with its UTC
    time, as the pollers' do (app_under_test/functions.py): the run's evidence collector
    keeps the log, and a report places each line by that time (the +-3 s panel around a
    fault); a line without a time cannot be placed."""
    stamped = {"format": f"%(asctime)s {component} %(levelname)s %(message)s"}
    stderr = {"class": "logging.StreamHandler", "formatter": "stamped",
              "stream": "ext://sys.stderr"}
    own = {"handlers": ["stderr"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"stamped": stamped},
        "handlers": {"stderr": stderr},
        "loggers": {"uvicorn": own, "uvicorn.access": own},
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }


def inherited_socket(fd: int) -> socket.socket:
    """Adopt a listening socket fd; family and type are read from the fd itself."""
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        raise OSError(f"fd {fd} is not a stream socket")
    return sock


def serve(
    config: FrontendConfig,
    *,
    fd: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8045,
    component: str = "frontend:0",
    hooks: FrontendHooks = NO_HOOKS,
) -> None:
    """Serve until SIGTERM/SIGINT; blocks. ``fd`` wins over ``host``/``port``."""
    logging.Formatter.converter = time.gmtime  # UTC: a run report places lines by their time
    logs = log_config(component)
    logging.config.dictConfig(logs)
    log.info("%s: tracing %s", component, configure_tracing(component, config.state_dir))
    app = create_app(config, component=component, hooks=hooks)
    server = build_server(app, host=host, port=port, trust_proxy=config.trust_proxy,
                          log_config=logs)
    if fd is None:
        server.run()
    else:
        server.run(sockets=[inherited_socket(fd)])
