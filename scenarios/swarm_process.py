"""Start the Locust swarm as a subprocess and follow its ledger while it runs.

Locust runs in its own process (gevent monkey-patches everything it imports, which must not
leak into the runner's threads and subprocess handling). The runner talks to it through the
command line and reads what it writes: ``ledger.jsonl``, ``swarm.json``, the CSV stats.
Nothing else reaches it: it starts isolated from the user's own Locust configuration
(:mod:`exodus2045.scenarios.locust_isolation`), so every path it is given is absolute.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exodus2045 import locustfiles
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.lifeline import tethered
from exodus2045.app_under_test.settings import ENV_SWARM_GO_FD
from exodus2045.locustfiles.go import MAX_LINE, READY, go_line, parse_answer
from exodus2045.locustfiles.percentiles import percentile
from exodus2045.scenarios.locust_isolation import isolate
from exodus2045.scenarios.scenario import Scenario, available

LOCUSTFILE = Path(locustfiles.__file__).resolve().parent / "exodus.py"
READY_WITHIN_S = 120.0  # Locust's load on a machine busy with the stack and a CI run


class SwarmFailed(ExodusError):
    """The swarm could not start (Locust exited or hung before its first evacuee)."""


def locust_command(scenario: Scenario, url: str | None, run_id: str, run_dir: Path,
                   extra: Sequence[str] = ()) -> list[str]:
    """The headless Locust command line; without ``url`` the target comes with the runner's
    go (:class:`SwarmProcess` ``wait_for_go``)."""
    load = scenario.load
    run_dir = run_dir.resolve()  # Locust starts in a folder of its own
    users = max(1, load.max_in_flight)
    bound_s = int(scenario.swarm_seconds * 1.5 + 60)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), *(("--host", url) if url else ()),
        "--run-time", f"{bound_s}s", "--stop-timeout", "10",
        "--csv", str(run_dir / "locust"), "--csv-full-history", "--only-summary",
        "--loglevel", "WARNING",
        "--run-id", run_id, "--ledger", str(run_dir / "ledger.jsonl"),
    ]
    return cmd + load_options(scenario) + list(extra)


def load_options(scenario: Scenario) -> list[str]:
    """The locustfile's options for a scenario's ``[load]`` and seed: one spelling for the
    headless run and the web UI's prefilled form."""
    load = scenario.load
    cmd = ["--evacuees", str(load.evacuees), "--mars-share", str(load.mars_share),
           "--infiltrator-share", str(load.infiltrator_share), "--seed", str(scenario.seed)]
    if scenario.name in available():  # the web UI's dropdown lists only bundled scenarios
        cmd += ["--scenario", scenario.name]
    else:  # a team's own file, or a capacity step: recorded by name all the same
        cmd += ["--scenario-name", scenario.name]
    if load.stages:
        cmd += ["--exodus-stages",
                json.dumps([{"duration_s": s.duration_s, "rate": s.rate} for s in load.stages])]
    else:
        cmd += ["--arrival-rate", str(load.arrival_rate)]
    return cmd


class SwarmProcess:
    """Locust, started isolated; ``ignored`` names the user's Locust config it did not read.

    With ``wait_for_go`` it starts holding one end of a go socket and sends nothing until
    :meth:`go` names the target and the run's t0 (:mod:`exodus2045.locustfiles.go`): the
    runner starts it first, brings the stack up while Locust loads, and waits for Locust's
    ``ready`` (:meth:`wait_ready`) before it picks t0.
    """

    def __init__(self, cmd: list[str], log_path: Path,
                 extra_env: Mapping[str, str] | None = None, *,
                 wait_for_go: bool = False) -> None:
        self.cmd = cmd
        self._go: socket.socket | None = None
        self.home = Path(tempfile.mkdtemp(prefix="exodus-locust-"))
        isolation = isolate(self.home)
        self.ignored = isolation.ignored
        self.log = log_path.open("ab")
        self.log.write(f"exodus: {isolation.summary()}\n".encode())
        self.log.flush()
        if isolation.ignored:
            print(f"exodus: {isolation.summary()}", file=sys.stderr, flush=True)
        env = {**isolation.env, **(extra_env or {})}
        theirs = None
        if wait_for_go:  # non-inheritable (PEP 446): only pass_fds hands their end on
            self._go, theirs = socket.socketpair()
            env[ENV_SWARM_GO_FD] = str(theirs.fileno())
        try:
            self.proc = subprocess.Popen(  # own session, tethered: it dies with the runner
                cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=isolation.cwd,
                **tethered(env, pass_fds=() if theirs is None else (theirs.fileno(),),
                           death_signal=signal.SIGTERM))
        except BaseException:
            self._close_go()
            self.log.close()
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        finally:
            if theirs is not None:
                theirs.close()

    def wait_ready(self, timeout_s: float = READY_WITHIN_S) -> None:
        """Until Locust has loaded and waits for its go; raises :class:`SwarmFailed` if it
        exited (or closed its end) instead, or did not get there within ``timeout_s``."""
        if self._go is None:
            raise RuntimeError("this swarm was not started to wait for a go, or had it")
        self._go.settimeout(timeout_s)
        try:
            got = self._read_line()
        except TimeoutError:
            raise SwarmFailed(f"Locust was not ready within {timeout_s:.0f} s; see "
                              f"{self.log.name}") from None
        except OSError:
            got = b""
        if got != READY:
            try:  # its end closes as it exits: the code is a moment away
                code: int | None = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            raise SwarmFailed(f"Locust exited before its start (exit {code}); see "
                              f"{self.log.name}")

    def go(self, host: str, t0: float) -> float | None:
        """Start the swarm against ``host`` with its first evacuee due at ``t0`` (this
        process's clock); returns the t0 its run is on, once it begins (a master's own,
        later than ``t0``: it waits for its workers), or None if it never began (a Locust
        that died meanwhile is found by :meth:`wait`)."""
        if self._go is None:
            raise RuntimeError("this swarm was not started to wait for a go, or had it")
        try:
            self._go.sendall(go_line(host, t0))
            self._go.settimeout(None)  # a master waits for its workers as long as Locust does
            return parse_answer(self._read_line())
        except OSError:
            return None  # it is gone already: its exit code says why
        finally:
            self._close_go()

    def _read_line(self) -> bytes:
        """One line from Locust's end of the go socket (less at end of file)."""
        got = b""
        while not got.endswith(b"\n") and len(got) <= MAX_LINE:
            chunk = self._go.recv(256)
            if not chunk:
                break
            got += chunk
        return got

    def _close_go(self) -> None:
        """No go, or no more: end of file on the socket (a Locust still waiting exits)."""
        sock, self._go = self._go, None
        if sock is not None:
            sock.close()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    def poll(self) -> int | None:
        return self.proc.poll()

    def interrupt(self, grace_s: float = 15.0) -> None:
        """Ask Locust to stop and flush (SIGINT), then make sure it is gone. One still
        waiting for its go is told by end of file instead: it has nothing to flush."""
        if self._go is not None:
            self._close_go()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def close(self) -> None:
        self.interrupt()


@dataclass
class LedgerTail:
    """Incremental reader of ledger.jsonl: the live view's counts and what the runner needs
    afterwards (acknowledged ids, infiltrators, payload markers), in one pass over the file."""

    path: Path
    offset: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    errors: int = 0
    mars: int = 0
    jupiter: int = 0
    latencies: list[float] = field(default_factory=list)
    markers: set[str] = field(default_factory=set)
    acked_infiltrators: list[str] = field(default_factory=list)
    _acked_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    #: The live view's sampler, the abort watch and the runner's reader-ahead all call read().
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def read(self) -> None:
        with self._lock:
            self._read()

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1  # only whole lines; the rest waits for the next read
        self.offset += end
        for raw in chunk[:end].splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            status = line.get("status", 0)
            if line.get("payload"):
                self.markers.add(line["payload"])
            if line.get("attempt", 1) == 1:
                self.sent += 1
            if status == 202 and line["wish_id"] not in self._acked_ids:
                self._acked_ids[line["wish_id"]] = None
                self.acknowledged += 1
                if line.get("kind") == "infiltrator":
                    self.acked_infiltrators.append(line["wish_id"])
                if line.get("destination") == "mars":
                    self.mars += 1
                elif line.get("destination") == "jupiter":
                    self.jupiter += 1
                self.latencies.append(float(line.get("latency_ms") or 0.0))
            elif 400 <= status < 500:
                self.rejected += 1
            elif status == 0 or status >= 500:
                self.errors += 1

    @property
    def acked_ids(self) -> list[str]:
        return list(self._acked_ids)

    def p95_ms(self) -> float:
        """p95 service time of the newest 2,000 acknowledgements (the audit's percentile)."""
        return percentile(self.latencies[-2000:], 95) or 0.0
