"""Start the Locust swarm as a subprocess and follow its ledger while it runs.

Locust runs in its own process (gevent monkey-patches everything it imports, which must not
leak into the runner's threads and subprocess handling). The runner talks to it through the
command line and reads what it writes: ``ledger.jsonl``, ``swarm.json``, the CSV stats.
Nothing else reaches it: it starts isolated from the user's own Locust configuration
(:mod:`exodus2045.scenarios.locust_isolation`), so every path it is given is absolute.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exodus2045 import locustfiles
from exodus2045.app_under_test.lifeline import tethered
from exodus2045.locustfiles.percentiles import percentile
from exodus2045.scenarios.locust_isolation import isolate
from exodus2045.scenarios.scenario import Scenario, available

LOCUSTFILE = Path(locustfiles.__file__).resolve().parent / "exodus.py"


def locust_command(scenario: Scenario, url: str, run_id: str, run_dir: Path,
                   extra: Sequence[str] = ()) -> list[str]:
    load = scenario.load
    run_dir = run_dir.resolve()  # Locust starts in a folder of its own
    users = max(1, load.max_in_flight)
    bound_s = int(scenario.swarm_seconds * 1.5 + 60)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "--host", url,
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
    """Locust, started isolated; ``ignored`` names the user's Locust config it did not read."""

    def __init__(self, cmd: list[str], log_path: Path,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.cmd = cmd
        self.home = Path(tempfile.mkdtemp(prefix="exodus-locust-"))
        isolation = isolate(self.home)
        self.ignored = isolation.ignored
        self.log = log_path.open("ab")
        self.log.write(f"exodus: {isolation.summary()}\n".encode())
        self.log.flush()
        if isolation.ignored:
            print(f"exodus: {isolation.summary()}", file=sys.stderr, flush=True)
        try:
            self.proc = subprocess.Popen(  # own session, tethered: it dies with the runner
                cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=isolation.cwd,
                **tethered({**isolation.env, **(extra_env or {})}, death_signal=signal.SIGTERM))
        except BaseException:
            self.log.close()
            shutil.rmtree(self.home, ignore_errors=True)
            raise

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    def poll(self) -> int | None:
        return self.proc.poll()

    def interrupt(self, grace_s: float = 15.0) -> None:
        """Ask Locust to stop and flush (SIGINT), then make sure it is gone."""
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
