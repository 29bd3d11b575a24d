"""The runner's go: Locust starts while the stack comes up, and waits for the word.

Starting Locust costs about a second (the interpreter, Locust's imports, the Faker pools),
and so does bringing the stack up; one after the other they are two seconds of every run's
wall time in which no evacuee leaves. So ``exodus run`` starts Locust first, holding one end
of a socket pair (``EXODUS_SWARM_GO_FD``), and brings the stack up meanwhile. This ``init``
listener, registered after the swarm's own (pools drawn, lifeline watched), says ``ready``
on it and then waits, before Locust's headless start; the runner, once the stack answers
and Locust is ready (whichever comes last), writes one JSON line:

    {"host": "http://127.0.0.1:PORT", "t0": 1796052052.16}

``host`` is the target (unknown while the stack binds port 0), ``t0`` the run's time zero on
the runner's clock: the first evacuee is due then. A master uses ``host`` only: it mints its
own t0 once its workers are in (a lead later, for their pools). Either way the swarm answers
on the same socket, when its run begins, with the t0 it runs on (:func:`answer_go`):

    {"t0": 1796052052.16}

and the runner's chaos schedule counts from that instant, so a fault ``at = "10s"`` lands ten
seconds into the arrivals, not ten seconds after the stack came up (docs/architecture.md
"Data flow of a run").

The runner picks t0 only after ``ready``: a go that came while Locust was still loading
would leave the first evacuees late by however long that took. End of file before a whole
line means the runner gave up (the stack did not come up, or the
runner died): Locust exits at once, having sent nothing. A process started without the fd (by
hand, the web UI, a worker) never waits.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

from exodus2045.app_under_test.settings import ENV_SWARM_GO_FD

#: Where the go line's t0 is kept for :func:`exodus2045.locustfiles.run.begin_run`.
GO_T0 = "exodus_go_t0"
#: Where the go socket is kept until :func:`answer_go` says which t0 the swarm runs on.
GO_ANSWER = "exodus_go_answer_fd"
MAX_LINE = 4096  # a go line is a URL and a number


class NoGo(SystemExit):
    """The runner closed the go socket without a go (or sent something that is not one)."""


def go_fd(environ: dict[str, str] | None = None) -> int | None:
    """The inherited end of the go socket, taken out of the environment (Locust's own
    children must not see a name whose fd they do not have); None when started without one."""
    raw = (os.environ if environ is None else environ).pop(ENV_SWARM_GO_FD, None)
    return int(raw) if raw is not None and raw.isdigit() else None


READY = b"ready\n"


def read_go(fd: int) -> dict[str, Any]:
    """Say ready, then wait (cooperatively: the lifeline and a master's worker channel keep
    running) for the go line; raises :class:`NoGo` on end of file or a line that is not a go
    (the socket closed). On a go the socket stays open for :func:`answer_go`."""
    from gevent.socket import wait_read  # here: the runner imports this module's protocol

    buf = b""
    try:
        try:
            os.write(fd, READY)
        except OSError as exc:  # the runner is gone already
            raise NoGo(f"exodus: the runner's go socket is closed ({exc}): not started") from None
        while b"\n" not in buf:
            wait_read(fd)
            try:
                chunk = os.read(fd, MAX_LINE)
            except BlockingIOError:
                continue
            if not chunk:
                raise NoGo(f"exodus: the runner closed the go socket ({len(buf)} bytes): "
                           "not started")
            buf += chunk
            if len(buf) > MAX_LINE:
                raise NoGo("exodus: the go line is longer than a go")
        return parse_go(buf.split(b"\n", 1)[0])
    except BaseException:
        os.close(fd)
        raise


def answer_go(parsed_options: Any, t0: float) -> bool:
    """Tell the runner the t0 this run is on, once, and close the go socket (a process that
    had no go has nothing to answer). A runner gone meanwhile is not this run's problem."""
    fd = getattr(parsed_options, GO_ANSWER, None)
    if fd is None:
        return False
    setattr(parsed_options, GO_ANSWER, None)
    try:
        os.write(fd, json.dumps({"t0": t0}).encode() + b"\n")
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def go_line(host: str, t0: float) -> bytes:
    """The runner's go, as :func:`parse_go` reads it."""
    return json.dumps({"host": host, "t0": t0}).encode() + b"\n"


def _time(value: Any) -> float | None:
    """A t0 if ``value`` is one (a finite number, not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def parse_go(line: bytes) -> dict[str, Any]:
    try:
        go = json.loads(line)
    except ValueError as exc:
        raise NoGo(f"exodus: the go line is not JSON ({exc})") from None
    host = go.get("host") if isinstance(go, dict) else None
    t0 = go.get("t0") if isinstance(go, dict) else None
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise NoGo(f"exodus: the go line has no http(s) host: {line[:200]!r}")
    if t0 is not None and _time(t0) is None:
        raise NoGo(f"exodus: the go line's t0 is not a time: {t0!r}")
    return {"host": host, "t0": _time(t0)}


def parse_answer(line: bytes) -> float | None:
    """The t0 of the swarm's answer (:func:`answer_go`), or None if it is not one: the runner
    then keeps its own."""
    try:
        answer = json.loads(line)
    except ValueError:
        return None
    return _time(answer.get("t0")) if isinstance(answer, dict) else None


def wait_for_go(environment: Any, **_: Any) -> bool:
    """An ``events.init`` listener: block Locust's start until the runner's go (if it has a
    go socket), then aim every evacuee at the host it names. Returns whether it waited."""
    fd = go_fd()
    if fd is None:
        return False
    try:
        go = read_go(fd)
    except NoGo as stop:
        print(stop.code, file=sys.stderr, flush=True)
        raise NoGo(2) from None
    environment.host = go["host"]
    options = environment.parsed_options
    if options is None:
        os.close(fd)
    else:
        options.host = go["host"]
        setattr(options, GO_T0, go["t0"])
        setattr(options, GO_ANSWER, fd)  # answered when the run begins (run.begin_run)
    return True
