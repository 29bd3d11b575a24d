"""``exodus stage`` (or ``exodus up --public``): the pipeline in front of a live audience.

It runs the stack exactly as ``exodus up`` does, plus what a talk needs:

- it binds where ``--host`` says and nowhere else: loopback unless the presenter chooses to
  expose it, because opening a port to a room is a decision, not a default;
- a presenter token (``EXODUS_PRESENTER_TOKEN``, or a fresh random one) guards the admin and
  chaos routes; it is printed once, here, for the presenter's Locust console;
- the audience rate limit is on (``--rate-limit``, default 1 wish a second per client with a
  burst of 2; beyond it 429 + Retry-After), so one phone in a loop cannot fill the wall;
- it prints the join link and its QR code (the audience's only way in), the projector URL,
  and the exact ``locust`` command that opens the presenter's console against this stack.

The join link is what phones can reach: ``--public-url`` (a tunnel, a DNS name), else this
machine's address on the chosen host and port. It is handed to the frontends as
``EXODUS_PUBLIC_URL`` so the projector's QR code shows the same link.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import secrets
import socket

import segno
from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.settings import FrontendConfig, StackConfig, public_url
from exodus2045.scenarios.commands.up import add_stack_arguments, stack_config
from rich.console import Console
from rich.markup import escape

STAGE_RATE_LIMIT = 1.0  # audience wishes a second per client; the bucket holds two
LOCUSTFILE = "locustfiles/exodus.py"
LOCUST_WEB = "http://127.0.0.1:8089"
WILDCARDS = ("", "0.0.0.0", "::")


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    d = StackConfig.from_env(os.environ)
    parser.add_argument("--public-url", default=None,
                        help="the join link the audience gets, when phones reach this machine "
                             "another way (a tunnel, a DNS name); default: http://HOST:PORT/")
    parser.add_argument("--rate-limit", type=float, default=d.rate_limit_per_s or STAGE_RATE_LIMIT,
                        help="audience wishes a second per client (burst: twice that, at least "
                             "1); 0 = unlimited (default %(default)s)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stage", help="run the pipeline for a live audience: join link, QR "
                                          "code, projector, presenter token")
    add_stack_arguments(parser)
    add_stage_arguments(parser)
    parser.set_defaults(func=run)


def reachable_host(host: str) -> str:
    """A host name or address phones can use for ``host`` (a wildcard means "every
    interface": pick this machine's first non-loopback IPv4 address, else its name)."""
    if host not in WILDCARDS:
        return f"[{host}]" if ":" in host else host
    name = socket.gethostname()
    try:
        addresses = socket.gethostbyname_ex(name)[2]
    except OSError:
        return name
    usable = [a for a in addresses if not ipaddress.ip_address(a).is_loopback]
    return usable[0] if usable else name


def join_link(args: argparse.Namespace, host: str, port: int) -> str | None:
    """The join URL, or None when only the bound port will tell (``--port 0``)."""
    configured = public_url(getattr(args, "public_url", None)) or \
        FrontendConfig.from_env(os.environ).public_url
    if configured:
        return configured
    if port == 0:
        return None
    return f"http://{reachable_host(host)}:{port}/"


def terminal_qr(url: str) -> str:
    out = io.StringIO()
    segno.make(url, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    from exodus2045.chaos.stack import chaos_supervisor

    base = stack_config(args)
    token = base.presenter_token or secrets.token_urlsafe(24)
    rate = getattr(args, "rate_limit", None)  # None under `exodus up --public`
    rate = (base.rate_limit_per_s or STAGE_RATE_LIMIT) if rate is None else max(0.0, float(rate))
    config = stack_config(args, presenter_token=token, rate_limit_per_s=rate)
    join = join_link(args, config.host, config.port)
    if join:  # the frontends read it at start; the supervisor hands our environment down
        os.environ[s.ENV_PUBLIC_URL] = join
    supervisor = chaos_supervisor(config)
    url = supervisor.start()
    try:
        supervisor.wait_ready()
    except BaseException:
        supervisor.stop()
        raise
    port = int(url.rsplit(":", 1)[1])
    join = join or f"http://{reachable_host(config.host)}:{port}/"
    if config.host in WILDCARDS:  # for this machine's own browser and Locust
        url = f"http://127.0.0.1:{port}"
    _announce(config, url, join, token, rate)
    supervisor.run_forever()
    print("stopped.", flush=True)
    return 0


def _announce(config: StackConfig, url: str, join: str, token: str, rate: float) -> None:
    console = Console(highlight=False, soft_wrap=True)
    e = escape
    console.print(f"[bold]Exodus 2045 on stage[/bold] at {e(url)}")
    console.print(f"  join link   [bold]{e(join)}[/bold]   (the audience opens this)")
    print(terminal_qr(join), end="", flush=True)
    console.print(f"  projector   {e(url)}/tally   (put it on the big screen)")
    console.print(f"  wall        {e(url)}/wall")
    if rate > 0:
        console.print(f"  rate limit  {rate:g} wish/s per client, burst {max(1.0, 2 * rate):g} "
                      "(then 429 + Retry-After)")
    else:
        console.print("  rate limit  [red]off[/red]")
    console.print(f"  state dir   {e(str(config.state_dir))}")
    console.print(f"  presenter token  {e(token)}   (keep this terminal off the projector)")
    console.print("Presenter console: Locust's web UI, on loopback:")
    console.print(f"  {s.ENV_PRESENTER_TOKEN}={e(token)} locust -f {LOCUSTFILE} --host {e(url)} "
                  f"--state-dir {e(str(config.state_dir))} --web-host 127.0.0.1")
    console.print(f"  then open {LOCUST_WEB} (Pipeline tab; chaos and verdict at "
                  f"{LOCUST_WEB}/exodus/stage)")
    if config.host in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]Bound to loopback: only this machine can join. For a room, "
                      "--host 0.0.0.0 (or this machine's LAN address), or a tunnel and "
                      "--public-url.[/yellow]")
    if config.flaws:
        console.print(f"  [red]seeded flaws on: {e(', '.join(sorted(config.flaws)))}[/red]")
    console.print("Ctrl-C stops everything.")
    console.file.flush()
