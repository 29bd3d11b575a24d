"""The pipeline a run drives, from up to down: its own stack, an attached one, a deployed
AWS stack or a bare URL (:class:`RunStack`), and taking it down in the background while the
audit judges (:class:`BackgroundTeardown`).

The runner (:mod:`exodus2045.scenarios.runner`) and the web session
(:mod:`exodus2045.scenarios.web_run`) both drive a run through these.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test.errors import StateDirError
from exodus2045.app_under_test.settings import ENV_PRESENTER_TOKEN, AwsConfig, StackConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.stack import chaos_supervisor

if TYPE_CHECKING:  # the evidence (httpx with it) loads once the stack has been started
    from exodus2045.scenarios.adapter.translator import Translator
    from exodus2045.scenarios.evidence import EvidenceConfig, HttpSourceConfig
    from exodus2045.scenarios.evidence.stack_files import SpanCopy
    from exodus2045.scenarios.runner import RunOptions


class RunStack:
    """The pipeline a run drives: its own embedded stack, an attached one, a deployed AWS stack
    (with a frontend of the run's own unless ``--target`` names one), or a bare URL."""

    def __init__(self, options: RunOptions, run_dir: Path | None = None) -> None:
        self.options = options
        self.run_dir = run_dir
        self.supervisor = None
        self.frontend = None
        self.deployed = None  # scenarios.aws_stack.DeployedStack with ``--stack``
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.url = ""
        self.state: StateDir | None = None
        self.spans_to: tuple[Path, str] | None = None  # (run folder, run id) to copy spans to
        self.span_copy: SpanCopy | None = None  # the copy done while the run goes, if any
        self.since = 0.0  # the run's start: events from then on are the run's
        self.spans = 0
        self.events = 0
        self.translator: Translator | None = None
        self.listing_token: str | None = None
        self.run_key: tuple[str, bytes] | None = None  # (run id, key): the evidence signs reads

    def follow_spans(self, run_dir: Path, run_id: str) -> SpanCopy | None:
        """Copy the run's spans into ``run_dir`` at teardown; the :class:`SpanCopy` returned
        (None without a state dir) may be stepped meanwhile, so little is left by then."""
        from exodus2045.scenarios.evidence.stack_files import SpanCopy

        self.spans_to = (run_dir, run_id)
        if self.state is not None:
            self.span_copy = SpanCopy(self.state.root, run_dir, run_id)
        return self.span_copy

    def open_translator(self, run_dir: Path) -> None:
        """With an adapter, the swarm and the evidence talk to a translator in front of the
        team's target (:mod:`exodus2045.scenarios.adapter.translator`)."""
        adapter = self.options.adapter
        if adapter is None:
            return
        from exodus2045.scenarios.adapter.translator import Translator

        self.listing_token = secrets.token_urlsafe(24) if (
            adapter.listing or adapter.evidence) else None
        self.translator = Translator(adapter, self.url, run_dir / "target-ids.jsonl",
                                     token=self.listing_token or secrets.token_urlsafe(24))
        self.translator.__enter__()
        self.url = self.translator.url

    def http_config(self) -> HttpSourceConfig:
        from exodus2045.scenarios.evidence import HttpSourceConfig

        adapter = self.options.adapter
        if adapter is None:
            run_id, key = self.run_key or (None, None)
            return HttpSourceConfig(presenter_token=presenter_token(self), run_id=run_id,
                                    run_key=key)
        return HttpSourceConfig(presenter_token=self.listing_token, metrics_path=None,
                                page_paths=adapter.pages, wish_pages=0)

    def __enter__(self) -> RunStack:
        o, spec = self.options, self.options.scenario.stack
        if o.stack:
            from exodus2045.scenarios.aws_stack import AwsFrontend, find_stack

            self.deployed = find_stack(o.stack, o.aws or AwsConfig.from_env(os.environ))
            if o.target:
                self.url = o.target.rstrip("/")
            else:
                log = self.run_dir / "logs" / "frontend.log" if self.run_dir else None
                if log:
                    log.parent.mkdir(parents=True, exist_ok=True)
                self.frontend = AwsFrontend(self.deployed, host=o.host, log=log)
                self.url = self.frontend.start()
        elif o.target:
            self.url = o.target.rstrip("/")
            self.state = StateDir(o.state_dir) if o.state_dir else None
        elif o.state_dir:
            self.state = StateDir(o.state_dir)
            stack = self.state.read_stack()
            if stack.get("stopped") or not stack.get("url"):
                raise StateDirError(f"{o.state_dir}: the stack there is stopped; run "
                                    f"`exodus up --state-dir {o.state_dir}` first")
            self.url = stack["url"]
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="exodus-stack-")
            config = StackConfig.from_env(
                os.environ, state_dir=Path(self._tmp.name), host=o.host, port=0,
                frontends=spec.frontends, parsers=spec.parsers, pod_workers=spec.pod_workers,
                flaws=spec.flaws)
            self.state = StateDir(config.state_dir)
            self.supervisor = chaos_supervisor(config)
            self.url = self.supervisor.start()
            try:
                self.supervisor.wait_ready()
            except BaseException:
                self.supervisor.stop()
                raise
        return self

    def evidence_config(self) -> EvidenceConfig:
        from exodus2045.scenarios.evidence import EvidenceConfig

        d = self.deployed
        team = {} if d else self._team_aws()
        http = self.http_config()
        if self.options.adapter is not None:  # the translator's routes, as the adapter has them
            from exodus2045.scenarios.adapter.evidence_routes import http_paths

            http = http_paths(http, self.options.adapter)
        return EvidenceConfig(url=self.url, state_dir=self.state.root if self.state else None,
                              http=http,
                              aws=d.config if d else team.get("aws"),
                              aws_resources=d.resources if d else None,
                              stack=d.name if d else None, team_aws=team.get("team_aws"))

    def _team_aws(self) -> dict[str, Any]:
        """An adapter's ``[evidence.aws]``: the team's table and queues, read through boto3
        (endpoint and credentials from the environment or ``--aws-endpoint``)."""
        adapter, t = self.options.adapter, self.translator
        if adapter is None or t is None or adapter.evidence is None or not adapter.evidence.aws:
            return {}
        from exodus2045.scenarios.evidence.aws_team import TeamAws

        return {"aws": self.options.aws or AwsConfig.from_env(os.environ),
                "team_aws": TeamAws(adapter.evidence.aws, t.claim, adapter.our_destination)}

    def __exit__(self, *exc: object) -> None:
        if self.frontend:
            self.frontend.stop()
        if self.translator:
            self.translator.__exit__()
        if self.supervisor:
            self.supervisor.stop()  # its processes flush their last spans on the way out
        if self.state and self.spans_to:
            from exodus2045.scenarios.evidence.stack_files import copy_events, copy_logs, copy_spans

            run_dir, run_id = self.spans_to
            self.spans = (self.span_copy.finish() if self.span_copy is not None
                          else copy_spans(self.state.root, run_dir, run_id))
            self.events = copy_events(self.state.root, run_dir, self.since, time.time())
            if self._tmp:  # the run's own stack: its logs are all the run's
                copy_logs(self.state.root, run_dir)
        if self._tmp:
            self._tmp.cleanup()


def presenter_token(stack: RunStack) -> str | None:
    """The token that opens the target's run listing: the environment's, or the attached
    stack's own file. Held in memory only, never written to the run folder."""
    token = os.environ.get(ENV_PRESENTER_TOKEN)
    if not token and stack.state is not None:
        path = stack.state.root / "presenter.token"
        token = path.read_text().strip() if path.is_file() else None
    return token or None


class BackgroundTeardown:
    """:meth:`RunStack.__exit__` on a thread of its own, started once the evidence is in.

    Stopping the stack is mostly waiting for its processes to flush their spans and exit,
    and the audit never reads what it copies (spans, events, logs: the reports do), so the
    two overlap. :meth:`join` comes before the reports are rendered and re-raises what the
    teardown raised: an error there is still the run's error.
    """

    def __init__(self, stack: RunStack) -> None:
        self.stack = stack
        self.seconds = 0.0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="exodus-teardown", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = time.perf_counter()
        try:
            self.stack.__exit__(None, None, None)
        except BaseException as exc:  # re-raised by join(), on the runner's thread
            self._error = exc
        finally:
            self.seconds = round(time.perf_counter() - tick, 3)

    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        """Wait for the stack to be down; raise what the teardown raised, once."""
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


def tear_down(stack: RunStack) -> None:
    """Take ``stack`` down on this thread after a failure (what ``with`` would have done)."""
    stack.__exit__(*sys.exc_info())
