"""``exodus run SCENARIO``: drive, drain, audit, report; exit with the verdict's code.

0 sound; 1 unsound or unproven (a core check could not be judged, e.g. ``--target`` without
a state dir); 2 could not run or interrupted. ``--allow-partial`` makes an unproven verdict
exit 0 under the headline PARTIAL (the verdict still says ``sound: false``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.app_under_test.settings import DEFAULT_TRACE_SAMPLE, ENV_RUNS_DIR


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", help="drive and audit this pipeline URL (HTTP only)")
    parser.add_argument("--adapter", type=Path,
                        help="an adapter file mapping Exodus's wish onto the target's own API "
                             "(with --target; see README 'Audit your own pipeline')")
    parser.add_argument("--state-dir", type=Path,
                        help="a stack started by `exodus up --state-dir DIR`: drive it and read "
                             "its store and queues directly")
    from exodus2045.scenarios.commands.deploy import stack_name

    parser.add_argument("--stack", type=stack_name, help="a stack deployed by `exodus deploy`: drive it through a "
                             "local frontend (or --target's) and audit its table and queues")
    parser.add_argument("--aws-endpoint", metavar="URL",
                        help="a local AWS for --stack (default: $AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<UTC>-<scenario>)")
    parser.add_argument("--runs-dir", type=Path,
                        default=Path(os.environ.get(ENV_RUNS_DIR) or "runs"),
                        help="where run folders go (default $EXODUS_RUNS_DIR or runs)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--evacuees", type=int, help="override [load] evacuees")
    parser.add_argument("--arrival-rate", type=float, help="override [load] arrival_rate")
    parser.add_argument("--mars-share", type=float, help="override [load] mars_share")
    parser.add_argument("--infiltrator-share", type=float,
                        help="override [load] infiltrator_share")
    parser.add_argument("--flaws", help="seeded flaws for the run's own stack (e.g. raw-wall)")
    parser.add_argument("--browser", action="store_true", default=None,
                        help="also judge pages in headless Chromium")
    parser.add_argument("--otlp-endpoint", metavar="URL",
                        help="also send the run's spans over OTLP/HTTP to this collector "
                             "(sets OTEL_EXPORTER_OTLP_ENDPOINT for the run's own stack; "
                             "needs the `tracing` extra)")
    parser.add_argument("--tracing", choices=("on", "off"),
                        help="spans from the run's own stack (default on when the `tracing` "
                             "extra is installed); per-hop times are recorded either way")
    parser.add_argument("--trace-sample", type=float, metavar="RATIO",
                        help="keep the spans of this share of wishes, 0..1 (default "
                             f"{DEFAULT_TRACE_SAMPLE:g}, head-sampled so tracing costs under "
                             "10%% of throughput; 1: every span); per-hop times are kept "
                             "for every wish either way")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run the swarm as a Locust master plus N local worker processes")
    parser.add_argument("--expect-workers", type=int, default=0, metavar="N",
                        help="also wait for N workers from other hosts (`exodus swarm worker`; "
                             "needs EXODUS_JOIN_TOKEN)")
    parser.add_argument("--master-bind-host", default="127.0.0.1", metavar="HOST",
                        help="the master's address for workers (a private one: the channel "
                             "is not encrypted)")
    parser.add_argument("--master-bind-port", type=int, default=0, metavar="PORT",
                        help="the master's port (default: a free one)")
    parser.add_argument("--find-capacity", action="store_true",
                        help="raise the arrival rate step by step on one stack (each step an "
                             "audited run) until a step is not sound; capacity.json says where")
    parser.add_argument("--max-rate", type=float, metavar="R",
                        help="with --find-capacity: the highest arrival rate to try")
    parser.add_argument("--allow-partial", action="store_true",
                        help="exit 0 (headline PARTIAL) when nothing failed but a core check "
                             "could not be judged; the verdict stays not sound")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run", help="run a scenario and audit it (exit 0 sound, 1 unsound or unproven)")
    parser.add_argument("scenario", help="a scenario file, or a name from scenarios/")
    add_run_arguments(parser)
    web = parser.add_argument_group("web UI (Locust's, every Start an audited run)")
    web.add_argument("--web", action="store_true",
                     help="open Locust's web UI instead of running headless: each Start is a "
                          "run judged into its own folder, shown in the Verdict tab")
    web.add_argument("--web-host", default="127.0.0.1",
                     help="where the web UI listens (default %(default)s: loopback only)")
    web.add_argument("--web-port", type=int, default=8089, help="default %(default)s")
    web.add_argument("--autostart", action="store_true",
                     help="with --web: start the first run at once")
    parser.set_defaults(func=run)


def options_from(args: argparse.Namespace, scenario_spec: str):
    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.scenarios.runner import RunOptions
    from exodus2045.scenarios.scenario import load_scenario

    scenario = load_scenario(scenario_spec)
    stack = getattr(args, "stack", None)
    if args.flaws and (args.target or args.state_dir or stack):
        raise ConfigError("--flaws applies to the run's own stack; for an attached stack "
                          "start it with `exodus up --flaws ...` (a deployed one with "
                          "`exodus deploy --flaws ...`)")
    if stack and args.state_dir:
        raise ConfigError("--stack and --state-dir name two different pipelines: pick one")
    if getattr(args, "aws_endpoint", None) and not (
            stack or getattr(args, "adapter", None) or scenario.target_adapter):
        raise ConfigError("--aws-endpoint needs --stack (the deployed stack to reach there) "
                          "or an --adapter with [evidence.aws]")
    scenario = scenario.with_overrides(
        seed=args.seed, evacuees=args.evacuees, arrival_rate=args.arrival_rate,
        mars_share=args.mars_share, infiltrator_share=args.infiltrator_share,
        flaws=parse_flaws(args.flaws) if args.flaws else None, browser=args.browser)
    if scenario.browser:
        _browser_or_refuse()
    _tracing_environment(args)
    aws = None
    if stack:
        import os

        from exodus2045.app_under_test.settings import AwsConfig

        aws = AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint)
        if scenario.stack.flaws:
            raise ConfigError(f"scenario {scenario.name} asks for flaws "
                              f"{','.join(sorted(scenario.stack.flaws))}: on AWS they are the "
                              "deployed stack's (`exodus deploy --flaws ...`)")
    elif getattr(args, "aws_endpoint", None):  # for an adapter's [evidence.aws]; see run()
        import os

        from exodus2045.app_under_test.settings import AwsConfig

        aws = AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint)
    adapter = None
    target = args.target or (None if args.state_dir else scenario.target_url)
    adapter_file = getattr(args, "adapter", None) or (
        scenario.target_adapter if target == scenario.target_url else None)
    if adapter_file:
        from exodus2045.scenarios.adapter import load_adapter

        if not target or args.state_dir:
            raise ConfigError("--adapter describes a team's API: it needs --target URL "
                              "(and no --state-dir)")
        adapter = load_adapter(adapter_file)  # validated before anything is sent
        adapter.resolved_headers()  # a credential missing from the environment: say so now
        adapter.resolved_auth()  # [auth] sigv4 without AWS credentials: likewise
    return RunOptions(scenario=scenario, target=target, state_dir=args.state_dir,
                      out=args.out, runs_dir=args.runs_dir, allow_partial=args.allow_partial,
                      stack=stack, aws=aws, adapter=adapter, swarm=_swarm_layout(args))


def _aws_endpoint_is_used(args: argparse.Namespace, options) -> None:
    """``--aws-endpoint`` reaches a deployed stack or an adapter's ``[evidence.aws]``: with
    neither it would be silently ignored, so refuse it."""
    from exodus2045.app_under_test.errors import ConfigError

    adapter = options.adapter
    if getattr(args, "aws_endpoint", None) and not options.stack and not (
            adapter and adapter.evidence and adapter.evidence.aws):
        where = f"{adapter.origin} has" if adapter else "the run has no adapter, so"
        raise ConfigError(f"--aws-endpoint: {where} no [evidence.aws] to read there")


def _tracing_environment(args: argparse.Namespace) -> None:
    """Hand ``--tracing``/``--otlp-endpoint`` to the stack's processes through their
    environment (the supervisor passes it on; the standard OTel variable is what they read)."""
    from urllib.parse import urlsplit

    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.app_under_test.settings import ENV_TRACE_SAMPLE, ENV_TRACING

    endpoint = getattr(args, "otlp_endpoint", None)
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"--otlp-endpoint {endpoint!r}: expected an http(s) URL such as "
                              "http://127.0.0.1:4318")
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    if getattr(args, "tracing", None):
        os.environ[ENV_TRACING] = args.tracing
    sample = getattr(args, "trace_sample", None)
    if sample is not None:
        if not 0.0 <= sample <= 1.0:
            raise ConfigError(f"--trace-sample {sample}: expected a share between 0 and 1")
        os.environ[ENV_TRACE_SAMPLE] = str(sample)


def _swarm_layout(args: argparse.Namespace):
    from exodus2045.scenarios.distributed import SwarmLayout

    return SwarmLayout(workers=args.workers or 0, remote=args.expect_workers or 0,
                       bind_host=args.master_bind_host,
                       bind_port=args.master_bind_port or 0).check()


def _browser_or_refuse() -> None:
    """Refuse a run that asks for the real-browser oracle when there is none, before it starts
    (the ``browser`` extra is optional; without this the run would end in an error)."""
    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.reports.browser_launch import browser_available

    reason = browser_available()
    if reason:
        raise ConfigError(f"the real-browser oracle (--browser / [audit] browser) needs "
                          f"Playwright and Chromium, but {reason}")


def run(args: argparse.Namespace) -> int:
    from exodus2045.scenarios.runner import run_scenario

    options = options_from(args, args.scenario)
    _aws_endpoint_is_used(args, options)
    if args.web:
        from exodus2045.scenarios.web_run import WebOptions, run_web

        return run_web(options, WebOptions(args.web_host, args.web_port, args.autostart))
    if args.autostart:
        from exodus2045.app_under_test.errors import ConfigError

        raise ConfigError("--autostart applies to --web only")
    if getattr(args, "find_capacity", False):
        return _find_capacity(options, args.max_rate)
    result = run_scenario(options)
    import sys  # the terminal's and CI's reporters load with the verdict, after the audit

    from exodus2045.reports.terminal import print_verdict
    from exodus2045.scenarios.ci_output import report_to_ci

    print_verdict(result.verdict, result.run_dir)
    report_to_ci(result.verdict, result.run_dir, os.environ, sys.stdout)
    return result.exit_code


def _find_capacity(options, max_rate: float | None) -> int:
    from exodus2045.scenarios.capacity import find_capacity

    def report(step: dict) -> None:
        failed = f" (failed: {', '.join(step['failed'])})" if step["failed"] else ""
        print(f"rate {step['rate']:>8g}/s  {step['outcome'].upper():<11} p95 "
              f"{step['p95_ms']} ms  throughput {step['throughput']}/s{failed}", flush=True)

    capacity = find_capacity(options, max_rate, report)
    summary = capacity.to_json()
    print(f"highest sound rate: {summary['highest_sound_rate']}/s; first not sound: "
          f"{summary['first_unsound_rate']}/s ({summary['why']})")
    print(f"capacity: {capacity.run_dir / 'capacity.json'}; the knee plotted: "
          f"{capacity.run_dir / 'report.html'}")
    return capacity.exit_code
