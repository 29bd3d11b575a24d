"""``exodus run --workers N``: Locust's own distributed mode on this machine, kept exact.

A Locust master (headless, bound to loopback on a free port, waiting for N workers) plus N
worker processes, each started like the single swarm (isolated, tethered to the runner). The
master mints the run and leases evacuee numbers; workers carry them and ship their ledger
lines to it (:mod:`exodus2045.locustfiles.messages`). Each local worker also writes every line
to ``workers/<node>.jsonl`` in the run folder before shipping it
(:mod:`exodus2045.locustfiles.spill`); after the swarm, :func:`merge_spills` appends to
``ledger.jsonl`` every line the master never got (a worker killed -9 between shipments, a
Ctrl-C that closed the master's ledger before the last shipment), so nothing a worker wrote
is lost. A worker that dies is noticed by heartbeat and ends the run unproven
(:mod:`exodus2045.locustfiles.worker_watch`).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.settings import ENV_JOIN_TOKEN, ENV_SWARM_SPILL
from exodus2045.scenarios.scenario import Scenario
from exodus2045.scenarios.swarm_process import LOCUSTFILE, SwarmProcess, locust_command

SPILL_DIR = "workers"
MIN_TOKEN_CHARS = 16  # a join token shorter than this is refused
MAX_LOCAL_WORKERS = 64


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def worker_command(master_host: str, master_port: int) -> list[str]:
    """A Locust worker of the Exodus locustfile; the master sends it everything else."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", master_host, "--master-port", str(master_port),
            "--loglevel", "WARNING"]


@dataclass(frozen=True)
class SwarmLayout:
    """Where the swarm runs: ``workers`` local worker processes, ``remote`` more expected from
    other hosts (``exodus swarm worker``), the master bound to ``bind_host:bind_port``."""

    workers: int = 0
    remote: int = 0
    bind_host: str = "127.0.0.1"
    bind_port: int = 0

    @property
    def distributed(self) -> bool:
        return bool(self.workers or self.remote)

    def check(self) -> SwarmLayout:
        if not 0 <= self.workers <= MAX_LOCAL_WORKERS:
            raise ConfigError(f"--workers must be 0..{MAX_LOCAL_WORKERS}, got {self.workers}")
        if self.remote < 0:
            raise ConfigError(f"--expect-workers must be 0 or more, got {self.remote}")
        if not 0 <= self.bind_port <= 65535:
            raise ConfigError(f"--master-bind-port must be 0..65535, got {self.bind_port}")
        return self


def join_token(layout: SwarmLayout, environ: Mapping[str, str]) -> str:
    """The swarm's join token: ``EXODUS_JOIN_TOKEN`` (required when workers come from other
    hosts: they must be given it too), else a fresh one only this run's processes know."""
    token = environ.get(ENV_JOIN_TOKEN, "")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{ENV_JOIN_TOKEN} must be at least {MIN_TOKEN_CHARS} characters")
    if not token and layout.remote:
        raise ConfigError(f"--expect-workers needs {ENV_JOIN_TOKEN} set (the same secret on "
                          "the master and every `exodus swarm worker`): Locust's channel has "
                          "no authentication of its own")
    return token or secrets.token_urlsafe(32)


class DistributedSwarm:
    """A master and its workers (local ones started here); the face of :class:`SwarmProcess`."""

    def __init__(self, scenario: Scenario, url: str | None, run_id: str, run_dir: Path,
                 layout: SwarmLayout, env: Mapping[str, str] | None = None) -> None:
        layout.check()
        run_dir = run_dir.resolve()
        host = layout.bind_host
        port = layout.bind_port or _free_port(host)
        self.address = f"{host}:{port}"
        token = {ENV_JOIN_TOKEN: join_token(layout, os.environ)}
        self.spill_dir = run_dir / SPILL_DIR
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self.master = SwarmProcess(
            locust_command(scenario, url, run_id, run_dir, extra=[
                "--master", "--expect-workers", str(layout.workers + layout.remote),
                "--master-bind-host", host, "--master-bind-port", str(port)]),
            run_dir / "locust.log", extra_env={**token, **(env or {})}, wait_for_go=url is None)
        self.ignored = self.master.ignored
        self.workers: list[SwarmProcess] = []
        try:
            for i in range(layout.workers):
                self.workers.append(SwarmProcess(
                    worker_command(host, port), run_dir / f"locust-worker-{i}.log",
                    extra_env={ENV_SWARM_SPILL: str(self.spill_dir), **token}))
        except BaseException:
            self.interrupt()
            raise

    def wait_ready(self) -> None:
        self.master.wait_ready()

    def go(self, host: str, t0: float) -> float | None:
        """The master's go (its workers join meanwhile); it mints its own t0 once they are
        in, a lead later, and answers with it: when the first evacuee is due."""
        return self.master.go(host, t0)

    def wait(self, timeout: float | None = None) -> int:
        return self.master.wait(timeout=timeout)

    def poll(self) -> int | None:
        return self.master.poll()

    def interrupt(self, grace_s: float = 15.0) -> None:
        """Stop the master (it tells its workers to quit), then make sure every worker is gone."""
        self.master.interrupt(grace_s)
        for worker in self.workers:
            worker.interrupt(grace_s)

    close = interrupt


def merge_spills(run_dir: Path) -> int:
    """Append to ``ledger.jsonl`` every spilled worker line it lacks; returns how many.

    Lines are compared as written (a line is the same bytes on the worker and the master). A
    last line cut short by a kill has no newline and is left out: that attempt was not
    answered when the worker died, so its evacuee counts as not sent.
    """
    spill_dir, ledger = run_dir / SPILL_DIR, run_dir / "ledger.jsonl"
    if not spill_dir.is_dir():
        return 0
    have = set(ledger.read_bytes().splitlines(keepends=True)) if ledger.is_file() else set()
    missing: list[bytes] = []
    for spill in sorted(spill_dir.glob("*.jsonl")):
        for line in spill.read_bytes().splitlines(keepends=True):
            if line.endswith(b"\n") and line not in have:
                have.add(line)
                missing.append(line)
    if missing:
        with ledger.open("ab") as f:
            f.writelines(missing)
    return len(missing)


def start_swarm(scenario: Scenario, url: str | None, run_id: str, run_dir: Path,
                layout: SwarmLayout | None = None,
                env: Mapping[str, str] | None = None) -> SwarmProcess | DistributedSwarm:
    """The single Locust process, or a master and its workers (``layout``). ``env`` goes to
    the process that mints the run (the master): the run key travels to workers only by a
    Locust message, never through their environment or arguments. Without ``url`` the swarm
    loads and then waits for its ``go(url, t0)`` (:mod:`exodus2045.locustfiles.go`)."""
    if layout is not None and layout.distributed:
        return DistributedSwarm(scenario, url, run_id, run_dir, layout, env)
    return SwarmProcess(locust_command(scenario, url, run_id, run_dir), run_dir / "locust.log",
                        extra_env=env, wait_for_go=url is None)


def settle(swarm: SwarmProcess | DistributedSwarm | None, run_dir: Path) -> int:
    """After the swarm: every process gone, spilled lines merged (how many were missing)."""
    if not isinstance(swarm, DistributedSwarm):
        return 0
    swarm.interrupt()
    return merge_spills(run_dir)
