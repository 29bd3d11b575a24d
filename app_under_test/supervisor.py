"""Run the stack's processes and keep them running, like a Kubernetes restart policy.

One listening socket is created here and inherited by every frontend process, so a killed
frontend never takes the port with it and N frontends share the load. A dead component is
restarted with exponential backoff (reset after it has stayed up a while) and its restarts
are counted; ``stack.json`` in the state dir tells other processes what runs where, and
``events.jsonl`` what happened to each process and when (started, exited with its code or
signal, held, resumed, stopped: the "events of a container that kept restarting" a run
report shows next to each fault).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.errors import StateDirError
from exodus2045.app_under_test.lifeline import tethered
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.statedir import StateDir

log = logging.getLogger("exodus.supervisor")

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
HEALTHY_AFTER_S = 10.0  # a component up this long has its backoff reset
STOP_ORDER = ("frontend", "parser", "pod-worker")  # stop intake first, then drain stages
EVENTS = "events.jsonl"  # in the state dir: one line per process event


@dataclass
class Component:
    name: str  # "parser:0"
    kind: str  # "frontend" | "parser" | "pod-worker"
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0
    backoff_s: float = BACKOFF_FIRST_S
    held: bool = False
    reported_exit: bool = False  # its last exit is in events.jsonl
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "pid": self.pid, "restarts": self.restarts,
                "state": "held" if self.held else ("running" if self.pid else "restarting")}


def child_env(config: StackConfig) -> dict[str, str]:
    env = dict(os.environ)
    env[s.ENV_STATE_DIR] = str(config.state_dir.resolve())
    env[s.ENV_FLAWS] = ",".join(sorted(config.flaws))
    if config.presenter_token:
        env[s.ENV_PRESENTER_TOKEN] = config.presenter_token
    env[s.ENV_RATE_LIMIT] = str(config.rate_limit_per_s)
    env[s.ENV_TRUST_PROXY] = config.trust_proxy or ""
    env.pop(s.ENV_PROMETHEUS_MULTIPROC, None)  # ours to set, for N > 1 frontends only
    env["PYTHONUNBUFFERED"] = "1"
    return env


#: ``command(kind) -> argv``: how to run one component of ``kind`` (``frontend``, ``parser``,
#: ``pod-worker``), before its per-instance flags (``--fd N --index I`` for a frontend,
#: ``--index I`` for a function). Whoever builds the stack chooses it: the pipeline's own
#: processes by default, or ones that wrap them (chaos's entry point).
ComponentCommand = Callable[[str], list[str]]
FRONTEND_MODULE = "exodus2045.app_under_test.frontend"
FUNCTIONS_MODULE = "exodus2045.app_under_test.functions"


def pipeline_command(kind: str) -> list[str]:
    """The plain pipeline's processes: nothing but the pipeline."""
    if kind == "frontend":
        return [sys.executable, "-m", FRONTEND_MODULE]
    return [sys.executable, "-m", FUNCTIONS_MODULE, kind]


class Supervisor:
    """Starts the stack, restarts what dies, stops it all in order.

    ``held(name, kind)`` keeps a component down while it says so; ``command`` says what runs
    (see :data:`ComponentCommand`). Both are given by the code that builds the stack.
    """

    def __init__(self, config: StackConfig, held: Callable[[str, str], bool] | None = None,
                 command: ComponentCommand = pipeline_command) -> None:
        self.config = config
        self.state = StateDir(config.state_dir).ensure()
        self.held = held or (lambda name, kind: False)
        self.command = command
        self._lock_fd: int | None = None
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._released = threading.Event()  # set by stop() once every component is gone
        self._idle = threading.Event()  # set by the watcher when it has stopped restarting
        self._thread: threading.Thread | None = None
        self.components: list[Component] = []
        self.url = ""
        self.started_at = time.time()
        self.metrics_dir: Path | None = None  # shared by N > 1 frontends (frontend/metrics.py)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Lock the state dir, bind, start every component; returns the frontend URL."""
        self._lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            self._unlock()
            raise StateDirError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}"
            ) from None
        self._sock.listen(2048)
        self._sock.set_inheritable(True)
        host, port = self._sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        fd = self._sock.fileno()
        if self.config.frontends > 1:  # one /metrics for all of them, counted from zero
            from exodus2045.app_under_test.frontend.metrics import fresh_multiproc_dir

            self.metrics_dir = fresh_multiproc_dir(self.state.root)
        for i in range(self.config.frontends):
            self.components.append(Component(
                f"frontend:{i}", "frontend",
                [*self.command("frontend"), "--fd", str(fd), "--index", str(i)], pass_fds=(fd,)))
        for kind, count in (("parser", self.config.parsers),
                            ("pod-worker", self.config.pod_workers)):
            for i in range(count):
                self.components.append(Component(
                    f"{kind}:{i}", kind, [*self.command(kind), "--index", str(i)]))
        for c in self.components:
            self._spawn(c)
        self._write_stack()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()
        return self.url

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until the frontend answers /healthz (or raise StateDirError)."""
        import httpx  # here: while the components load, not before the supervisor starts them

        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = str(exc)
            dead = [c.name for c in self.components if c.process and c.process.poll() is not None]
            if dead and all(c.restarts >= 3 for c in self.components if c.name in dead):
                raise StateDirError(f"components keep dying: {', '.join(dead)}; see "
                                    f"{self.state.logs}")
            time.sleep(0.05)
        raise StateDirError(f"frontend at {self.url} not ready after {timeout_s:.0f}s ({last})")

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()  # the watcher restarts nothing more, but outlives the components:
        # on Linux a child's death signal fires when the thread that spawned it exits
        if self._thread:
            self._idle.wait(timeout=2)
        for kind in STOP_ORDER:
            group = [c for c in self.components if c.kind == kind and c.pid]
            for c in group:
                c.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for c in group:
                try:
                    c.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    c.process.kill()
                    c.process.wait()
                c.reported_exit = True
                self._event(c, "stopped", code=c.process.returncode)
                if c.kind == "frontend" and self.metrics_dir is not None:
                    from exodus2045.app_under_test.frontend.metrics import process_dead

                    process_dead(self.metrics_dir, c.process.pid)
        for c in self.components:
            if c.process and c.process.poll() is None:  # continued after a pause, say
                c.process.kill()
                c.process.wait()
            if c.log_file:
                c.log_file.close()
        self._released.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self._sock:
            self._sock.close()
        self._write_stack(stopped=True)
        self._unlock()

    def run_forever(self) -> None:
        """Foreground mode for ``exodus up``: until SIGINT/SIGTERM, then stop cleanly."""
        done = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            done.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not done.wait(0.5):
            pass
        self.stop()

    # -- internals -------------------------------------------------------------------------
    def _spawn(self, c: Component) -> None:
        if c.log_file is None:
            c.log_file = open(self.state.logs / f"{c.name.replace(':', '-')}.log", "ab")  # noqa: SIM115
        env = child_env(self.config)
        if c.kind == "frontend" and self.metrics_dir is not None:
            env[s.ENV_PROMETHEUS_MULTIPROC] = str(self.metrics_dir.resolve())
        c.process = subprocess.Popen(  # own session, yet tethered: dies with the supervisor
            c.argv, stdin=subprocess.DEVNULL, stdout=c.log_file, stderr=subprocess.STDOUT,
            start_new_session=True, **tethered(env, c.pass_fds),
        )
        c.started_at = time.monotonic()
        self._event(c, "started" if c.restarts == 0 else "restarted", pid=c.process.pid,
                    restarts=c.restarts)

    def _event(self, c: Component, event: str, **detail: object) -> None:
        """One line in events.jsonl; an event that cannot be written is not worth a crash."""
        line = {"t": time.time(), "component": c.name, "event": event, **detail}
        try:
            with open(self.state.root / EVENTS, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        except OSError as exc:
            log.warning("event not recorded: %s", exc)

    def _exited(self, c: Component) -> None:
        code = c.process.returncode if c.process else None
        if c.kind == "frontend" and self.metrics_dir is not None and c.process is not None:
            from exodus2045.app_under_test.frontend.metrics import process_dead

            process_dead(self.metrics_dir, c.process.pid)
        if code is not None and code < 0:
            self._event(c, "exited", signal=signal.Signals(-code).name, code=None)
        else:
            self._event(c, "exited", code=code, signal=None)

    def _watch(self) -> None:
        self._restart_loop()
        self._idle.set()
        self._released.wait()  # see stop(): components it restarted are tied to this thread

    def _restart_loop(self) -> None:
        while not self._stopping.wait(0.05):
            changed = False
            now = time.monotonic()
            for c in self.components:
                if c.process is not None and not c.reported_exit and c.process.poll() is not None:
                    c.reported_exit = True  # found dead (killed, crashed, or held down)
                    self._exited(c)
                held = self.held(c.name, c.kind)
                if held != c.held:
                    c.held, changed = held, True
                    self._event(c, "held" if held else "resumed")
                    if held and c.pid:
                        c.process.kill()
                        c.process.wait()
                        c.reported_exit = True
                        self._exited(c)
                if held:
                    continue
                if c.process and c.process.poll() is None:
                    if now - c.started_at > HEALTHY_AFTER_S:
                        c.backoff_s = BACKOFF_FIRST_S
                    continue
                if c.next_start_at == 0.0:  # just found dead: schedule with backoff
                    c.next_start_at = now + c.backoff_s
                    c.backoff_s = min(c.backoff_s * 2, BACKOFF_MAX_S)
                    changed = True
                elif now >= c.next_start_at and not self._stopping.is_set():
                    c.next_start_at = 0.0
                    c.restarts += 1
                    c.reported_exit = False
                    self._spawn(c)
                    log.info("restarted %s (restart %d)", c.name, c.restarts)
                    changed = True
            if changed:
                self._write_stack()

    def _write_stack(self, stopped: bool = False) -> None:
        self.state.write_stack({
            "url": self.url, "supervisor_pid": None if stopped else os.getpid(),
            "started_at": self.started_at, "stopped": stopped,
            "flaws": sorted(self.config.flaws),
            "components": [c.describe() for c in self.components],
        })

    def _lock(self) -> None:
        fd = os.open(self.state.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirError(
                f"{self.state.root} is in use by another `exodus up`; stop it first or pick "
                "another --state-dir"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def component_pids(state: StateDir, target: str) -> list[tuple[str, int]]:
    """Resolve a target (``parser`` = all parsers, ``parser:0`` = one) to live pids."""
    stack = state.read_stack()
    out = []
    for c in stack.get("components", []):
        if c.get("pid") and (c["name"] == target or c["kind"] == target):
            out.append((c["name"], int(c["pid"])))
    return out


def is_stack_dir(path: Path) -> bool:
    return StateDir(path).stack_file.exists()
