"""``exodus stage`` (or ``exodus up --public``): the pipeline in front of a live audience.

It runs the stack exactly as ``exodus up`` does, plus what a talk needs:

- it binds where ``--host`` says and nowhere else: loopback unless the presenter chooses to
  expose it, because opening a port to a room is a decision, not a default;
- a presenter token (``EXODUS_PRESENTER_TOKEN`` of at least 128 bits, or a fresh random one)
  guards the admin and chaos routes; it is printed once, on a line of its own (never inside a
  command someone pastes into a shell history), and written to ``<state-dir>/presenter.token``
  (0600), where the presenter's Locust console reads it;
- seeded flaws are refused (``html-api`` on a real stage is stored XSS on the audience's
  phones) unless ``--allow-flaws`` says so, and then loudly;
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
import math
import os
import secrets
import socket
import sys
from pathlib import Path

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.settings import FrontendConfig, StackConfig, public_url
from exodus2045.scenarios.commands.up import add_stack_arguments, stack_config

STAGE_RATE_LIMIT = 1.0  # audience wishes a second per client; the bucket holds two
LOCUSTFILE = "locustfiles/exodus.py"
LOCUST_WEB = "http://127.0.0.1:8089"
WILDCARDS = ("", "0.0.0.0", "::")
TOKEN_BITS_MIN = 128
TOKEN_FILE = "presenter.token"  # the console reads it (locustfiles/webui.py)


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    d = StackConfig.from_env(os.environ)
    parser.add_argument("--public-url", default=None,
                        help="the join link the audience gets, when phones reach this machine "
                             "another way (a tunnel, a DNS name); default: http://HOST:PORT/")
    parser.add_argument("--rate-limit", type=float, default=d.rate_limit_per_s or STAGE_RATE_LIMIT,
                        help="audience wishes a second per client (burst: twice that, at least "
                             "1); 0 = unlimited (default %(default)s)")


def add_allow_flaws(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-flaws", action="store_true",
                        help="run seeded flaws in front of an audience anyway (they include "
                             "stored XSS on the audience's phones)")


def token_bits(token: str) -> float:
    """A generous estimate of a token's strength: length times log2 of the alphabet its
    character classes span; a token of fewer than 10 distinct characters counts as 0."""
    if len(set(token)) < 10:
        return 0.0
    size = sum(n for test, n in ((str.islower, 26), (str.isupper, 26), (str.isdigit, 10))
               if any(test(c) for c in token))
    size += 32 if any(not c.isalnum() for c in token) else 0
    return len(token) * math.log2(max(2, size))


def write_token_file(state_dir: Path, token: str) -> Path:
    """``<state-dir>/presenter.token``, readable by its owner only (the console reads it)."""
    path = state_dir / TOKEN_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return path


def refusal(config: StackConfig, allow_flaws: bool) -> str | None:
    """Why this stage must not start, or None."""
    if config.presenter_token and token_bits(config.presenter_token) < TOKEN_BITS_MIN:
        return (f"{s.ENV_PRESENTER_TOKEN} is too weak for a stage (under {TOKEN_BITS_MIN} bits); "
                "unset it for a fresh random one, or use e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`")
    if config.flaws and not allow_flaws:
        return (f"seeded flaws {', '.join(sorted(config.flaws))} would run in front of an "
                "audience (stored XSS on their phones among them): unset EXODUS_FLAWS / --flaws, "
                "or pass --allow-flaws")
    return None


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stage", help="run the pipeline for a live audience: join link, QR "
                                          "code, projector, presenter token")
    add_stack_arguments(parser)
    add_stage_arguments(parser)
    add_allow_flaws(parser)
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
    import segno

    out = io.StringIO()
    segno.make(url, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    from exodus2045.chaos.stack import chaos_supervisor

    base = stack_config(args)
    why = refusal(base, bool(getattr(args, "allow_flaws", False)))
    if why:
        print(f"exodus stage: {why}", file=sys.stderr, flush=True)
        return 2
    token = base.presenter_token or secrets.token_urlsafe(32)
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
    write_token_file(Path(config.state_dir), token)
    port = int(url.rsplit(":", 1)[1])
    join = join or f"http://{reachable_host(config.host)}:{port}/"
    if config.host in WILDCARDS:  # for this machine's own browser and Locust
        url = f"http://127.0.0.1:{port}"
    _announce(config, url, join, token, rate)
    supervisor.run_forever()
    print("stopped.", flush=True)
    return 0


def _announce(config: StackConfig, url: str, join: str, token: str, rate: float) -> None:
    from rich.console import Console
    from rich.markup import escape

    from exodus2045.app_under_test.frontend.sse import projector_key

    console = Console(highlight=False, soft_wrap=True)
    e = escape
    console.print(f"[bold]Exodus 2045 on stage[/bold] at {e(url)}")
    console.print(f"  join link   [bold]{e(join)}[/bold]   (the audience opens this)")
    print(terminal_qr(join), end="", flush=True)
    key = projector_key(token)
    console.print(f"  projector   {e(url)}/tally?projector={key}   (put it on the big screen; "
                  "the key keeps it a live stream however many phones open theirs)")
    console.print(f"  wall        {e(url)}/wall")
    if rate > 0:
        console.print(f"  rate limit  {rate:g} wish/s per client, burst {max(1.0, 2 * rate):g} "
                      "(then 429 + Retry-After)")
    else:
        console.print("  rate limit  [red]off[/red]")
    if config.trust_proxy:
        console.print(f"  proxy       X-Forwarded-For believed from {e(config.trust_proxy)} only")
    else:
        console.print("  proxy       X-Forwarded-For ignored (behind a proxy: --trust-proxy ADDR)")
    console.print(f"  state dir   {e(str(config.state_dir))}")
    console.print(f"  presenter token  {e(token)}   (keep this terminal off the projector)")
    console.print(f"  token file  {e(str(Path(config.state_dir) / TOKEN_FILE))} (0600)")
    console.print("Presenter console: Locust's web UI, on loopback (it reads the token file):")
    console.print(f"  locust -f {LOCUSTFILE} --host {e(url)} "
                  f"--state-dir {e(str(config.state_dir))} --web-host 127.0.0.1")
    console.print(f"  then open {LOCUST_WEB} (Pipeline tab; chaos and verdict at "
                  f"{LOCUST_WEB}/exodus/stage)")
    if config.host in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]Bound to loopback: only this machine can join. For a room, "
                      "--host 0.0.0.0 (or this machine's LAN address), or a tunnel and "
                      "--public-url.[/yellow]")
    if config.flaws:
        console.print(f"  [bold red]SEEDED FLAWS ON, in front of an audience (--allow-flaws): "
                      f"{e(', '.join(sorted(config.flaws)))}[/bold red]")
    console.print("Ctrl-C stops everything.")
    console.file.flush()
