"""``exodus bench swarm``: what the evacuee's bookkeeping costs, next to a bare Locust user.

The swarm does more per request than a plain load generator (plan the wish, wait for its
intended start, judge the answer, write a ledger line); this measures whether that overhead
matters. Both sides run as real ``locust --headless`` processes, side by side, against the
same tiny HTTP server, which answers 202 to any POST without parsing it (optionally in several
processes sharing one inherited socket), so the client is what is measured:

- ``evacuee``: ``locustfiles/exodus.py`` with an arrival rate far above what one process can
  send, so users never wait for an intended start;
- ``bare``: a FastHttpUser posting a fixed, pre-serialised body of about the evacuees' mean
  size with the same headers, through Locust's ``FastHttpSession`` (``self.client.post``):
  the plainest Locust load generator, which is what the goal compares with.

The evacuee does not send through ``FastHttpSession.request``: it holds geventhttpclient's
``HTTPClient`` itself and reports to Locust's ``request`` event (``locustfiles/sender.py``),
which costs less than the session's per-request layers. So the ratio can exceed 1, and it
says how the swarm's throughput per core compares with a plain Locust user's, not what the
bookkeeping alone costs. ``--bare-client sender`` measures that instead: the bare side then
posts its fixed body through the same sender and reports the same event, so the only
difference left is the evacuee's own work (planning, signing, judging, ledgering).

Kept fair: the same number of users and spawn rate, the same HTTP timeouts, the same server
and the same measuring window (an absolute start time both sides wait for, so they are
measured at the same moment), and by default the same GC settings (the swarm calms the
cyclic GC at test start; ``--bare-gc default`` leaves the bare side on Python's defaults to
see what that alone is worth). The evacuee side also carries what a bare user does not: 5%
infiltrators, whose rejected-on-purpose requests this server answers 202, so Locust counts
them as failures (the slower path).

A Locust process is CPU-bound on one core, so its throughput is requests per second of *its
own CPU time*. That is what is reported (``evacuee_rps``, ``bare_rps``, ``ratio``; goal
>= 0.95): wall-clock rates on a shared machine move with whatever else runs there, CPU-time
rates much less. The wall-clock rates of the same window are reported next to them
(``evacuee_wall_rps``, ``bare_wall_rps``, ``wall_ratio``). A benchmark reports; it does not
fail on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.locustfiles.load import EVACUEES_MAX
from exodus2045.scenarios.locust_isolation import isolate

NAME = "swarm"
HELP = "evacuee requests/s vs a bare FastHttpUser against a minimal server (goal ratio >= 0.95)"

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "exodus.py"
LEAD_S = 4.0  # launch -> window: both sides boot, spawn all users (-r = -u) and draw pools
RESPONSE = (
    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 20\r\n"
    b'\r\n{"status":"queued"}\n'
)
#: The bare side: what a plain FastHttpUser costs for the same request shape. Same HTTP
#: timeouts as ``Evacuee``; a body of about the evacuees' mean size (~270 bytes: a pooled
#: name, and a message of one sentence); the same headers. ``{gc}`` applies the swarm's own
#: GC settings (``exodus2045.locustfiles.run.calm_gc``) at test start, as the evacuee side does, so the
#: ratio measures the evacuee's per-request work, not a process setting (``--bare-gc``).
BARE_LOCUSTFILE = textwrap.dedent(
    '''
    """Baseline for exodus bench swarm: a bare FastHttpUser posting a fixed body."""
    from locust import FastHttpUser, constant, events, task

    BODY = (
        b'{{"wish_id":"0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01","evacuee":"Ada Lovelace",'
        b'"destination":"mars","message":"Water the lemon tree, and tell my sister I said so. '
        b'The key is under the third stone from the gate, the seeds are in the blue tin."}}'
    )
    HEADERS = {{
        "Content-Type": "application/json",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept": "application/json",
        "X-Exodus-Run": "bench",
    }}


    class Bare(FastHttpUser):
        wait_time = constant(0)
        network_timeout = 10.0  # as locustfiles.evacuee.Evacuee
        connection_timeout = 5.0

        @task
        def post(self):
            self.client.post("/api/wishes", data=BODY, headers=HEADERS)


    CLIENT = {client!r}  # "fasthttp": Locust's session; "sender": the evacuee's own send path
    if CLIENT == "sender":
        import time

        from locust.exception import CatchResponseError

        from exodus2045.locustfiles.sender import WishSender

        class Bare(FastHttpUser):  # noqa: F811 - replaces the FastHttpSession one
            wait_time = constant(0)
            network_timeout = 10.0
            connection_timeout = 5.0

            def on_start(self):
                self.sender = WishSender(self.host, "/api/wishes",
                                         connection_timeout=self.connection_timeout,
                                         network_timeout=self.network_timeout)
                self.fire = self.environment.events.request.fire

            @task
            def post(self):
                started, begin = time.time(), time.perf_counter()
                status, response, length = self.sender.post(BODY, dict(HEADERS))
                self.fire(request_type="POST", name="/api/wishes",
                          response_time=(time.perf_counter() - begin) * 1000.0,
                          response_length=length, response=response, context=self.context(),
                          url=self.sender.url, start_time=started,
                          exception=None if 200 <= status < 400
                          else CatchResponseError(f"HTTP {{status}}"))


    GC = {gc!r}  # "swarm": the evacuee side's GC settings; "default": Python's
    if GC == "swarm":
        from exodus2045.locustfiles.run import calm_gc

        @events.test_start.add_listener
        def _same_gc_as_the_swarm(**_):
            calm_gc()
    '''
)
MEASURE_PLUGIN = textwrap.dedent(
    '''
    """Loaded next to either locustfile: requests and CPU time over one window.

    Both sides get the same absolute window (START .. START + SPAN, epoch seconds), so they
    are measured at the same time, under the same load on the machine. A side still booting
    at START (a busy machine) opens its window at its first request instead, and ``late_s``
    says by how much. The window is driven by the requests themselves, not by a timer: users
    that never wait (arrivals far ahead of what the side can send, a server that answers
    before the client reads) keep gevent's callback queue full, and a timer can starve.
    """
    import json
    import time

    from locust import events

    OUT, START, SPAN = {out!r}, {start!r}, {span!r}
    window = {{}}


    @events.request.add_listener
    def _measure(**kw):
        now = time.time()
        if now < START or "done" in window:
            return
        if "w0" not in window:
            window.update(w0=now, c0=time.process_time(), n=0)
            return
        window["n"] += 1
        if now - window["w0"] >= SPAN:
            window["done"] = True
            with open(OUT + ".tmp", "w") as fh:
                json.dump({{"requests": window["n"], "cpu_s": time.process_time() - window["c0"],
                           "wall_s": now - window["w0"], "late_s": window["w0"] - START}}, fh)
            import os

            os.replace(OUT + ".tmp", OUT)
    '''
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=4.0, help="measured window of each side")
    p.add_argument("--users", type=int, default=64, help="Locust users on each side")
    p.add_argument("--rounds", type=int, default=2, help="side-by-side runs, summed")
    p.add_argument("--server-processes", type=int, default=1, help="processes of the target server")
    p.add_argument(
        "--bare-gc", choices=("swarm", "default"), default="swarm",
        help="GC settings of the bare side: the swarm's (same as the evacuee side) or Python's",
    )  # fmt: skip
    p.add_argument(
        "--bare-client", choices=("fasthttp", "sender"), default="fasthttp",
        help="how the bare side sends: Locust's FastHttpSession (the goal's baseline) or the "
        "evacuee's own sender (then the ratio is what the evacuee's bookkeeping costs)",
    )  # fmt: skip


# -- the target: a minimal keep-alive HTTP server that answers 202 to everything ----------------
def serve(fd: int) -> None:
    """Serve on an inherited listening socket until killed.

    The parent binds one socket and hands it to every server process: several processes
    share it without SO_REUSEPORT, which on port 0 could also share a port some other
    program already listens on (and quietly send it part of the benchmark's traffic).
    """
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    import asyncio  # here: `exodus` itself never needs an event loop

    class _Accept(asyncio.Protocol):
        """Answers every request with a fixed 202, honouring Content-Length and keep-alive."""

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                length = 0
                for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                end = head_end + 4 + length
                if len(self.buffer) < end:
                    return
                self.buffer = self.buffer[end:]
                self.transport.write(RESPONSE)

    sock = socket.socket(fileno=fd)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Accept, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


def _start_server(processes: int) -> tuple[int, list[subprocess.Popen]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    code = ("import sys; from exodus2045.scenarios.benchmarks.swarm import serve; "
            "serve(int(sys.argv[1]))")
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(sock.fileno())],
                             pass_fds=(sock.fileno(),))
            for _ in range(max(1, processes))
        ]
        return sock.getsockname()[1], procs
    finally:
        sock.close()  # the children hold it now


# -- the two sides -------------------------------------------------------------------------
def _start_side(
    locustfile: Path,
    extra: list[str],
    common: list[str],
    workdir: Path,
    name: str,
    start: float,
    span: float,
    env: dict[str, str],
) -> tuple[subprocess.Popen, Path]:
    """One headless Locust process with the measuring plugin; where its figures will be."""
    out = workdir / f"{name}.json"
    plugin = workdir / f"measure_{name}.py"
    plugin.write_text(MEASURE_PLUGIN.format(out=str(out), start=start, span=span))
    run_time = f"{int(LEAD_S + span + 60)}s"  # a bound only: the side ends once it measured
    cmd = [
        sys.executable, "-m", "locust", "-f", f"{locustfile},{plugin}", *common, *extra,
        "--headless", "--only-summary", "--run-time", run_time, "--stop-timeout", "0",
    ]  # fmt: skip
    with (workdir / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=log)
    return proc, out


def _until_measured(proc: subprocess.Popen, out: Path, deadline: float) -> None:
    """Wait for a side's figures (or its exit), then end it: nothing runs past its window."""
    while proc.poll() is None and not out.exists() and time.time() < deadline:
        time.sleep(0.05)  # polling a child process's output file, not synchronising a test
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _figures(out: Path, side: str) -> dict[str, float]:
    """A side's figures; a side that never measured is an error, not a rate of 0."""
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        log = out.with_suffix(".log")
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.is_file() else []
        raise ExodusError(f"bench swarm: the {side} side measured nothing: "
                          + (" | ".join(tail) or "no output")) from None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Bare and evacuee side by side for each round; requests per CPU-second of each.

    ``evacuee_rps``/``bare_rps``/``ratio`` are per CPU-second (the contract's figures);
    ``*_wall_rps``/``wall_ratio`` are the same requests per wall-clock second of the same
    window, which a busy machine moves; ``late_s`` is how far the later side's window opened
    after the planned start (0 when both booted within the lead).
    """
    span = max(1.0, float(args.seconds))
    users = str(int(args.users))
    port, servers = _start_server(int(args.server_processes))
    sides = ("evacuee", "bare")
    totals = {side: {"requests": 0, "cpu_s": 0.0, "wall_s": 0.0} for side in sides}
    late = 0.0
    try:
        with tempfile.TemporaryDirectory(prefix="exodus-bench-swarm-") as tmp:
            workdir = Path(tmp)
            bare_file = workdir / "bare_locustfile.py"
            bare_file.write_text(BARE_LOCUSTFILE.format(
                gc=getattr(args, "bare_gc", "swarm"),
                client=getattr(args, "bare_client", "fasthttp"),
            ))
            common = ["-u", users, "-r", users, "--host", f"http://127.0.0.1:{port}"]
            isolation = isolate(workdir)  # both sides: no user Locust config, same for both
            if isolation.ignored:
                print(f"exodus bench swarm: {isolation.summary()}", file=sys.stderr)
            for i in range(max(1, int(args.rounds))):
                # As many evacuees as a load may have, arriving far faster than one process can
                # carry them (hundreds of thousands a second) for longer than the window lasts.
                rate = EVACUEES_MAX / (LEAD_S + span + 10)
                evacuee_extra = [
                    "--evacuees", str(EVACUEES_MAX), "--arrival-rate", f"{rate:.0f}",
                    "--run-id", f"bench-{os.getpid()}-{i}", "--seed", "2045",
                    "--ledger", str(workdir / f"ledger{i}.jsonl"),
                ]  # fmt: skip
                start = time.time() + LEAD_S
                procs = {
                    "bare": _start_side(bare_file, [], common, workdir, f"bare{i}", start, span,
                                        isolation.env),
                    "evacuee": _start_side(
                        LOCUSTFILE, evacuee_extra, common, workdir, f"evacuee{i}", start, span,
                        isolation.env,
                    ),
                }
                for side, (proc, out) in procs.items():
                    _until_measured(proc, out, deadline=time.time() + LEAD_S + span + 90)
                    figures = _figures(out, side)
                    for key in totals[side]:
                        totals[side][key] += figures[key]
                    late = max(late, figures.get("late_s", 0.0))
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()

    def rate(side: str, per: str) -> float:
        t = totals[side]
        return t["requests"] / t[per] if t[per] else 0.0

    cpu = {side: rate(side, "cpu_s") for side in sides}
    wall = {side: rate(side, "wall_s") for side in sides}
    return {
        "evacuee_rps": round(cpu["evacuee"], 1),
        "bare_rps": round(cpu["bare"], 1),
        "ratio": round(cpu["evacuee"] / cpu["bare"], 3) if cpu["bare"] else 0.0,
        "evacuee_wall_rps": round(wall["evacuee"], 1),
        "bare_wall_rps": round(wall["bare"], 1),
        "wall_ratio": round(wall["evacuee"] / wall["bare"], 3) if wall["bare"] else 0.0,
        "late_s": round(late, 3),
        "bare_client": getattr(args, "bare_client", "fasthttp"),
    }
