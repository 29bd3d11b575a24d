"""``exodus bench frontend``: how close accepting a wish comes to answering ``/healthz``.

One real frontend process (``python -m exodus2045.app_under_test.frontend --fd N`` on a socket bound
here, exactly as the supervisor runs it) with its own temporary state dir; one client
process (geventhttpclient, many keep-alive connections) drives it for a fixed time, first
``GET /healthz``, then ``POST /api/wishes`` with distinct valid wishes. The same client in
the same run for both, so the ratio says what accepting costs on this machine, whatever
the machine. A wish counts only when answered 202, i.e. durably enqueued.

The client runs as ``python -m exodus2045.scenarios.benchmarks.frontend --client ...`` and prints one
JSON line; gevent is imported only there, never in ``exodus`` itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.errors import ExodusError

NAME = "frontend"
HELP = "POST /api/wishes accept rate vs /healthz rate, same client, same run"

READY_TIMEOUT_S = 20.0
WARMUP_S = 0.5
RUN_ID = "bench-frontend"


class BenchError(ExodusError):
    """The benchmark could not run (server did not start, client failed)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measured seconds per phase (default 5)")
    parser.add_argument("--connections", type=int, default=48,
                        help="concurrent keep-alive connections (default 48)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate the phases this many times, so a neighbour's load "
                             "drifting during the run weighs on both alike (default 2)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    seconds = max(0.5, float(args.seconds))
    connections = max(1, int(args.connections))
    rounds = max(1, int(getattr(args, "rounds", 2)))
    totals = {phase: Tally() for phase in PHASES}
    with (
        tempfile.TemporaryDirectory(prefix="exodus-bench-frontend-") as tmp,
        FrontendProcess(Path(tmp)) as server,
    ):
        for _ in range(rounds):
            for phase in PHASES:
                cpu_before = server.cpu_seconds()
                result = drive(server.url, phase, seconds / rounds, connections)
                cpu_after = server.cpu_seconds()
                used = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
                totals[phase].add(result, used)
    return figures(totals["healthz"], totals["wishes"], seconds, connections)


PHASES = ("healthz", "wishes")


@dataclass
class Tally:
    """One phase summed over its rounds."""

    ok: int = 0
    errors: int = 0
    answered: int = 0  # including the warm-up, which the server's CPU time also covers
    seconds: float = 0.0
    cpu_s: float | None = 0.0

    def add(self, result: dict[str, Any], cpu_s: float | None) -> None:
        self.ok += result["ok"]
        self.errors += result["errors"]
        self.answered += result["ok"] + result["errors"] + result["warm"]
        self.seconds += result["seconds"]
        self.cpu_s = None if cpu_s is None or self.cpu_s is None else self.cpu_s + cpu_s

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float | None:
        """Server CPU (all threads) per answered request: steadier than a rate on a busy box."""
        if self.cpu_s is None or not self.answered:
            return None
        return round(self.cpu_s / self.answered * 1e6, 1)


def figures(healthz: Tally, accept: Tally, seconds: float, connections: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accept_per_s": round(accept.rate, 1),
        "healthz_per_s": round(healthz.rate, 1),
        "ratio": round(accept.rate / healthz.rate, 3) if healthz.rate else 0.0,
        "seconds": seconds,
        "connections": connections,
        "accept_errors": accept.errors,
        "healthz_errors": healthz.errors,
    }
    if accept.cpu_us and healthz.cpu_us:
        out["accept_server_cpu_us"] = accept.cpu_us
        out["healthz_server_cpu_us"] = healthz.cpu_us
        out["cpu_ratio"] = round(healthz.cpu_us / accept.cpu_us, 3)
    return out


class FrontendProcess:
    """A frontend subprocess on an inherited 127.0.0.1:0 socket; stopped with SIGTERM."""

    def __init__(self, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.url = ""

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server so far (all threads); None once it is gone."""
        import psutil

        if self.process is None:
            return None
        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    def __enter__(self) -> FrontendProcess:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.sock.set_inheritable(True)
        host, port = self.sock.getsockname()[:2]
        env = {k: v for k, v in os.environ.items()
               if k not in s.ALL_ENV and not k.startswith("OTEL_EXPORTER_OTLP")}
        env[s.ENV_STATE_DIR] = str(self.state_dir)
        env.update(self.extra_env)
        fd = self.sock.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exodus2045.app_under_test.frontend", "--fd", str(fd)],
            env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL,
        )
        self.url = f"http://{host}:{port}"
        wait_ready(self.url, self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.sock is not None:
            self.sock.close()


def wait_ready(url: str, process: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the frontend exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise BenchError(f"the frontend at {url} was not ready within {READY_TIMEOUT_S:.0f}s")


def drive(url: str, phase: str, seconds: float, connections: int) -> dict[str, Any]:
    """Run the client process for one phase; its JSON line back as a dict."""
    argv = [sys.executable, "-m", "exodus2045.scenarios.benchmarks.frontend", "--client", url,
            "--phase", phase, "--seconds", str(seconds), "--connections", str(connections)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the {phase} client did not finish") from None
    if done.returncode != 0:
        raise BenchError(f"the {phase} client failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the client process (gevent lives only here) -------------------------------------------
def wish_body(n: int, id_prefix: str) -> bytes:
    """A distinct valid wish, cheaply: the client must not be what the benchmark measures."""
    destination = "mars" if n % 5 < 3 else "jupiter"
    return (
        f'{{"wish_id":"{id_prefix}{n:012x}","evacuee":"Evacuee {n}",'
        f'"destination":"{destination}",'
        f'"message":"Wish number {n}: remember the oceans, and water the plants."}}'
    ).encode("ascii")


def id_prefix() -> str:
    """The first 24 characters of a random UUID: with a 12-hex counter, a valid UUID."""
    return str(uuid.uuid4())[:24]


def client_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", required=True)
    parser.add_argument("--phase", choices=("healthz", "wishes"), required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(hammer(args.client, args.phase, args.seconds, args.connections)))
    return 0


def hammer(url: str, phase: str, seconds: float, connections: int) -> dict[str, Any]:
    """``connections`` greenlets, each one keep-alive connection, until the time is up."""
    import gevent
    from geventhttpclient import HTTPClient
    from geventhttpclient.url import URL

    target = URL(url)
    client = HTTPClient(target.host, target.port, concurrency=connections,
                        connection_timeout=10, network_timeout=30)
    counts = {"ok": 0, "errors": 0, "warm": 0}
    start = time.monotonic()
    measure_from = start + WARMUP_S
    stop_at = measure_from + seconds
    post_headers = {"Content-Type": "application/json", "X-Exodus-Run": RUN_ID}
    expected = 200 if phase == "healthz" else 202

    prefix = id_prefix()

    def worker(index: int) -> None:
        n = index
        while time.monotonic() < stop_at:
            try:
                if phase == "healthz":
                    response = client.get("/healthz")
                else:
                    response = client.post("/api/wishes", body=wish_body(n, prefix), headers=post_headers)
                    n += connections
                response.read()
                ok = response.status_code == expected
            except Exception:  # a benchmark counts failures, it does not stop on them
                ok = False
            if time.monotonic() < measure_from:
                counts["warm"] += 1
            else:
                counts["ok" if ok else "errors"] += 1

    gevent.joinall([gevent.spawn(worker, i) for i in range(connections)],
                   timeout=seconds + WARMUP_S + 30)
    client.close()
    return {"phase": phase, "seconds": seconds, **counts}


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1:]))
