"""What ``exodus`` imports before it does anything: every command starts fast.

Building the parser registers every subcommand, so a command module's top level (and its
``register``) may import only argparse-level things; the machinery a command needs is
imported when it runs. And ``exodus run`` starts its stack before it needs the audit's, the
stack's or the swarm's code (those run in subprocesses, or after the swarm). Asserted on
the modules a fresh interpreter loads, never on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Loaded by some command when it runs, never by building the parser.
NOT_FOR_PARSING = (
    "asyncio", "boto3", "botocore", "fastapi", "faker", "gevent", "httpx", "locust",
    "opentelemetry", "prometheus_client", "psutil", "rich", "segno", "sqlite3", "starlette",
    "uvicorn",
    "exodus2045.app_under_test.frontend", "exodus2045.app_under_test.supervisor",
    "exodus2045.chaos.stack", "exodus2045.reports.render", "exodus2045.reports.verdict",
    "exodus2045.scenarios.runner",
)

#: Not loaded by the modules ``exodus run`` imports to start its stack: the stack's own code
#: (it runs in subprocesses), Locust and what the swarm draws with (a subprocess), the
#: evidence and its HTTP client (once the stack is starting), an adapter's code, AWS's SDK
#: (a local run), the audit's renderers and the terminal's (after the swarm).
NOT_BEFORE_THE_STACK = (
    "boto3", "botocore", "fastapi", "faker", "gevent", "httpx", "locust", "opentelemetry",
    "prometheus_client", "rich", "segno", "starlette", "uvicorn",
    "exodus2045.app_under_test.frontend", "exodus2045.app_under_test.parser",
    "exodus2045.app_under_test.pod_worker", "exodus2045.chaos.runtime",
    "exodus2045.locustfiles.generate", "exodus2045.reports.render",
    "exodus2045.scenarios.adapter", "exodus2045.scenarios.evidence",
    "exodus2045.scenarios.run_phases",
)


def loaded_by(code: str) -> set[str]:
    """Top-level packages and exodus2045 modules a fresh interpreter loads running ``code``
    (on top of what the interpreter itself loaded before it)."""
    script = ("import json, sys\nbefore = set(sys.modules)\n" + code +
              "\nprint(json.dumps(sorted(set(sys.modules) - before)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    names = json.loads(done.stdout.strip().splitlines()[-1])
    return {n.split(".")[0] for n in names} | {n for n in names if n.startswith("exodus2045.")}


def test_building_the_parser_imports_no_command_machinery() -> None:
    loaded = loaded_by("from exodus2045.scenarios.cli import build_parser\n"
                       "build_parser().parse_args(['run', 'smoke'])")
    assert "exodus2045.scenarios.commands.stage" in loaded, "every command was registered"
    assert "exodus2045.scenarios.benchmarks.recovery" in loaded, "and every benchmark"
    assert sorted(set(NOT_FOR_PARSING) & loaded) == []


def test_run_starts_its_stack_without_the_stack_swarm_or_renderers_code() -> None:
    # the modules `exodus run smoke` imports up to RunStack starting the stack
    loaded = loaded_by(
        "from exodus2045.scenarios.cli import build_parser\n"
        "args = build_parser().parse_args(['run', 'smoke'])\n"
        "from exodus2045.scenarios.commands.run import options_from\n"
        "options = options_from(args, args.scenario)\n"
        "import exodus2045.scenarios.runner\n"
        "from exodus2045.scenarios.run_stack import RunStack\n"
        "RunStack(options)  # built, not entered: nothing started\n")
    assert "exodus2045.chaos.stack" in loaded, "the supervisor is what starts the stack"
    assert sorted(set(NOT_BEFORE_THE_STACK) & loaded) == []
