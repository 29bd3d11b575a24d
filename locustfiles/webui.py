"""The presenter's console in Locust's web UI: a live Pipeline tab, chaos controls, the verdict.

Locust's extension points (docs/architecture.md "Measured facts"): Flask routes on ``environment.web_ui.app``, an
extra tab through ``template_args`` (``extended_tabs`` / ``extended_tables``) whose rows
ride along on ``/stats/requests`` as ``extended_stats``. Such a tab renders a table and
nothing else, so the controls -- switch a fault on or off, hide a wish, read the verdict --
live on one page of the same web UI, ``/exodus/stage``, linked from the Download Data tab.

The figures and the verdict line come from :mod:`exodus2045.locustfiles.pipeline_view` (state dir or
HTTP); this module is the wiring around them. Chaos and hiding go through the
frontend's presenter routes with the token (``--presenter-token``, a masked field on the
start form, or ``EXODUS_PRESENTER_TOKEN``); the token never appears on a page.

Guards, because this console can break a pipeline: every route sits behind Locust's own
login when ``--web-login`` is on; the write routes refuse cross-site requests (Origin /
Sec-Fetch-Site) and refuse altogether when the UI listens beyond loopback without a login
(docs/architecture.md "Presenter and audience"); and these routes opt out of Locust's allow-all CORS.
Everything shown is escaped, in the tab as well, though React renders it as text.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from locust import events

from exodus2045.app_under_test.runkey import write_key
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.locustfiles.locust_compat import (
    guard_locust_writes,
    hide_form_default,
    same_origin_only,
)
from exodus2045.locustfiles.pipeline_view import REPORT_CSP, PipelineView, verdict_summary
from exodus2045.locustfiles.start_page import start_from_form, start_page
from exodus2045.locustfiles.swarm import install, swarm_for
from exodus2045.locustfiles.verdict_tab import VERDICT_TAB, VERDICT_TABLE, runs_page, verdict_rows
from exodus2045.locustfiles.web_session import install_session, session_of

PREFIX = "/exodus"
TAB = "pipeline"
CONSOLE_CSP = ("default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")
CSS = b"""body{font:16px/1.5 system-ui,sans-serif;margin:1.5rem auto;max-width:60rem;padding:0 1rem}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.2rem .8rem;text-align:left}
form{margin:.6rem 0}input,select,textarea{font:inherit}.bad{color:#b00}.good{color:#070}"""
_INSTALLED: set[int] = set()
TOKEN_FILE = "presenter.token"  # written 0600 by `exodus stage` into its state dir
log = logging.getLogger(__name__)


def _loopback(host: str | None) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def add_arguments(parser: Any) -> None:
    parser.add_argument("--state-dir", default=None, include_in_web_ui=False,
                        help="the stack's state dir (exodus up/stage --state-dir): the Pipeline "
                             "tab reads its queues and store directly")
    parser.add_argument("--presenter-token", default=None, is_secret=True,
                        help="the stack's presenter token, for chaos and hiding wishes "
                             "(exodus stage prints it; default $EXODUS_PRESENTER_TOKEN)")
    parser.add_argument("--run-dir", default=None, include_in_web_ui=False,
                        help="an `exodus run` folder: show its verdict.json and report.html")


#: Start-form fields the console pins at start; stripped from every ``POST /swarm``.
PINNED_FIELDS = frozenset({"host", "state_dir", "run_dir", "presenter_token"})


def pin_options(environment: Any) -> dict[str, Any]:
    """The frontend URL, state dir, run dir and token, as the console was started.

    The token comes from ``--presenter-token``, else ``EXODUS_PRESENTER_TOKEN``, else the
    stage's ``<state-dir>/presenter.token`` file.
    """
    o = environment.parsed_options
    state_dir = getattr(o, "state_dir", None)
    token = getattr(o, "presenter_token", None) or \
        StackConfig.from_env(os.environ).presenter_token or read_token_file(state_dir)
    return {"state_dir": state_dir, "run_dir": getattr(o, "run_dir", None),
            "host": (environment.host or getattr(o, "host", None) or "").rstrip("/"),
            "token": token}


def read_token_file(state_dir: str | None) -> str | None:
    if not state_dir:
        return None
    try:
        return (Path(state_dir) / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


class Console:
    """The routes of one web UI, with what they remember between requests."""

    def __init__(self, environment: Any) -> None:
        self.env = environment
        self.pinned = pin_options(environment)
        self.view = PipelineView(self.options, lambda: swarm_for(environment).snapshot(),
                                 f"{PREFIX}/stage")
        self.last_action = ""

    def options(self) -> dict[str, Any]:
        """What the console was started with: never read back from ``parsed_options``, which
        any ``POST /swarm`` rewrites."""
        return dict(self.pinned)

    def cross_site(self, request: Any) -> str | None:
        """Why a browser request from another site (or origin) must be refused, or None."""
        site = request.headers.get("Sec-Fetch-Site")
        if site not in (None, "same-origin", "none"):
            return "cross-site request refused"
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return "cross-origin request refused"
        return None

    def register_run_key(self, run_id: str, key: bytes) -> None:
        """Tell the frontend a console-started run's key: by the pinned state dir, else the
        presenter-token admin route (docs/architecture.md "Scope of a run")."""
        o = self.pinned
        if o["state_dir"]:
            write_key(Path(o["state_dir"]), run_id, key)
            return
        answer = self.presenter_call("PUT", f"/api/admin/runs/{run_id}/key", {"key": key.hex()})
        if not answer.startswith("done"):
            log.warning("run %s: the frontend was not told its key (%s); its wishes count as "
                        "the audience's", run_id, answer)

    # -- guards ----------------------------------------------------------------------------
    def exposed(self) -> bool:
        """Listening beyond loopback ("" = every interface) without Locust's login."""
        return not _loopback(self.env.web_ui.host) and not self.env.web_ui.web_login

    def refusal(self, request: Any) -> str | None:
        """Why a write request must be refused, or None."""
        if self.exposed():
            return "the web UI listens beyond loopback without --web-login: controls are off"
        if not self.env.web_ui.web_login and not _loopback(urlsplit(f"//{request.host}").hostname):
            return "a loopback console is asked for by a loopback name only (DNS rebinding)"
        return self.cross_site(request)

    # -- calls to the frontend's presenter routes ------------------------------------------
    def presenter_call(self, method: str, path: str, body: Any = None) -> str:
        o = self.options()
        if not o["token"]:
            return "no presenter token: pass --presenter-token or set EXODUS_PRESENTER_TOKEN"
        if urlsplit(o["host"]).scheme not in ("http", "https"):
            return "no stack URL: start Locust with --host"
        try:
            r = requests.request(method, o["host"] + path, json=body, timeout=10.0,
                                 headers={"Authorization": f"Bearer {o['token']}"})
        except requests.RequestException as exc:
            return f"the frontend did not answer: {exc}"
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        if r.status_code >= 400:
            return f"refused ({r.status_code}): {doc.get('detail', r.reason)}"
        if r.status_code == 204:
            return "done"
        self.view.forget()
        return f"done: {json.dumps(doc, sort_keys=True)[:300]}"

    def chaos_from_form(self, form: Any) -> str:
        body: dict[str, Any] = {"fault": form.get("fault", "").strip(),
                                "target": form.get("target", "").strip()}
        if form.get("duration", "").strip():
            body["duration"] = form["duration"].strip()
        try:
            if form.get("probability", "").strip():
                body["probability"] = float(form["probability"])
        except ValueError:
            return "probability must be a number between 0 and 1"
        params = [line.partition("=") for line in form.get("params", "").splitlines() if line.strip()]
        body["params"] = {k.strip(): v.strip() for k, _, v in params}
        return self.presenter_call("POST", "/api/admin/chaos", body)

    # -- the console page ------------------------------------------------------------------
    def page(self) -> str:
        snap = self.view.snapshot()
        rows = "".join(f"<tr><th>{esc(r['measure'])}</th><td>{esc(r['value'])}</td></tr>"
                       for r in self.view.rows(snap))
        faults = "".join(f"<option>{esc(f)}</option>" for f in snap.get("fault_names", []))
        on = "".join(f"<li>{esc(f)}</li>" for f in snap.get("faults", [])) or "<li>none</li>"
        wishes = "".join(
            f'<li><form method="post" action="{PREFIX}/hide"><input type="hidden" name="wish_id" '
            f'value="{esc(w.get("wish_id", ""))}"><button>Hide</button> {esc(w.get("evacuee", ""))}:'
            f' {esc(str(w.get("message", ""))[:160])}</form></li>' for w in snap.get("latest", []))
        verdict = verdict_summary(snap.get("verdict"))
        report = f' <a href="{PREFIX}/report">report.html</a>' if snap.get("report") else ""
        warn = "<p class=bad>This web UI listens beyond loopback without --web-login: " \
               "controls are off.</p>" if self.exposed() else ""
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Exodus 2045 presenter console</title><link rel="stylesheet" href="{PREFIX}/console.css">
</head><body><h1>Exodus 2045: presenter console</h1>{warn}
<p><a href="/?tab={TAB}">Locust UI</a> · <a href="{PREFIX}/stage">Refresh</a> ·
<a href="{PREFIX}/pipeline.json">Pipeline JSON</a></p>
<p>Last action: {esc(self.last_action or "none")}</p>
<h2>Verdict</h2><p>{esc(verdict)}{report}</p>
<h2>Pipeline now</h2><table>{rows}</table>
<h2>Chaos</h2><p>On now:</p><ul>{on}</ul>
<form method="post" action="{PREFIX}/chaos">
<label>Fault <select name="fault">{faults}</select></label>
<label>Target <input name="target" value="parser" size="24"></label>
<label>Duration <input name="duration" value="20s" size="6"></label>
<label>Probability <input name="probability" value="1" size="4"></label><br>
<label>Keys, one key=value a line <textarea name="params" rows="2" cols="30"></textarea></label>
<button>Switch on</button></form>
<form method="post" action="{PREFIX}/chaos/clear"><button>Clear every fault</button></form>
<h2>Newest wishes</h2><ul>{wishes or "<li>none</li>"}</ul></body></html>"""


def _wire(environment: Any) -> None:
    """Register the tab and routes on this environment's web UI."""
    from flask import Response, redirect, request

    web_ui = environment.web_ui
    console = Console(environment)
    app, guard = web_ui.app, web_ui.auth_required_if_enabled
    web_ui.template_args.update(
        extended_tabs=[{"title": "Pipeline", "key": TAB}, VERDICT_TAB],
        # no "name" column: Locust sorts tables by it, and these rows have an order
        extended_tables=[{"key": TAB, "structure": [{"key": "measure", "title": "Pipeline"},
                                                    {"key": "value", "title": "Now"}]},
                         VERDICT_TABLE],
        extended_csv_files=[{"href": f".{PREFIX}/start", "title": "Start an audited run: "
                             "a scenario's load, chaos timeline and SLO"},
                            {"href": f".{PREFIX}/stage", "title": "Presenter console: chaos, "
                             "hide a wish, verdict"},
                            {"href": f".{PREFIX}/runs", "title": "Runs of this session: "
                             "verdicts and report.html"},
                            {"href": f".{PREFIX}/pipeline.json", "title": "Pipeline now (JSON)"}])
    hide_form_default(web_ui, "presenter_token")  # a token given on the command line
    # a console started without --host lets the form name the swarm's target (it has no
    # frontend to protect, and calls none); one started with it keeps it
    strip = PINNED_FIELDS if console.pinned["host"] else PINNED_FIELDS - {"host"}
    guard_locust_writes(app, console.cross_site, strip)
    swarm_for(environment).key_listeners.append(console.register_run_key)

    @app.after_request
    def own_routes(response: Any) -> Any:
        if request.path.startswith(PREFIX):
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        elif request.path.endswith("/stats/requests") and response.status_code == 200 \
                and response.is_json:
            doc = response.get_json()
            rows = [{k: esc(v) for k, v in r.items()}
                    for r in console.view.rows(console.view.snapshot())]
            verdicts = [{k: esc(v) for k, v in r.items()}
                        for r in verdict_rows(session_of(environment), PREFIX)]
            doc["extended_stats"] = [{"key": TAB, "data": rows},
                                     {"key": VERDICT_TAB["key"], "data": verdicts}]
            response.set_data(json.dumps(doc))
        return response

    def page(text: str, media: str = "text/html; charset=utf-8", csp: str = CONSOLE_CSP) -> Any:
        return Response(text, content_type=media, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})

    @app.route(f"{PREFIX}/pipeline.json", endpoint="exodus_pipeline")
    @same_origin_only  # Locust's CORS allows every origin: not here
    @guard
    def pipeline_json() -> Any:
        return page(json.dumps(console.view.snapshot()), "application/json")

    @app.route(f"{PREFIX}/stage", endpoint="exodus_stage")
    @same_origin_only
    @guard
    def stage_page() -> Any:
        return page(console.page())

    @app.route(f"{PREFIX}/console.css", endpoint="exodus_css")
    @same_origin_only
    @guard
    def stage_css() -> Any:
        return page(CSS, "text/css; charset=utf-8")

    @app.route(f"{PREFIX}/report", endpoint="exodus_report")
    @same_origin_only
    @guard
    def report() -> Any:
        path = console.view.report_path()
        if path is None:
            return page("no report.html yet", "text/plain; charset=utf-8")
        return page(path.read_text(encoding="utf-8", errors="replace"), csp=REPORT_CSP)

    @app.route(f"{PREFIX}/runs", endpoint="exodus_runs")
    @same_origin_only
    @guard
    def runs() -> Any:
        return page(runs_page(session_of(environment), PREFIX, f"{PREFIX}/console.css"))

    @app.route(f"{PREFIX}/runs/<run_id>/report.html", endpoint="exodus_run_report")
    @same_origin_only
    @guard
    def run_report(run_id: str) -> Any:
        session = session_of(environment)
        run_dir = session.run_dir_of(run_id) if session else None  # a known run, never a path
        path = run_dir / "report.html" if run_dir else None
        if path is None or not path.is_file():
            return page("no such run in this session", "text/plain; charset=utf-8"), 404
        return page(path.read_text(encoding="utf-8", errors="replace"), csp=REPORT_CSP)

    @app.route(f"{PREFIX}/start", methods=["GET", "POST"], endpoint="exodus_start")
    @same_origin_only
    @guard
    def start() -> Any:
        session = session_of(environment)
        if request.method == "GET":
            return page(start_page(session, request.args.get("scenario", ""), PREFIX))
        refusal = console.refusal(request)
        if refusal:
            return page(refusal, "text/plain; charset=utf-8"), 403
        problem = start_from_form(environment, session, request.form)
        if problem:
            return page(start_page(session, request.form.get("scenario", ""), PREFIX,
                                   problem)), 400
        return redirect("/?tab=verdict", code=303)

    def write(action: Any) -> Any:
        refusal = console.refusal(request)
        if refusal:
            return page(refusal, "text/plain; charset=utf-8"), 403
        console.last_action = f"{time.strftime('%H:%M:%S')} {action()}"
        return redirect(f"{PREFIX}/stage", code=303)

    @app.route(f"{PREFIX}/chaos", methods=["POST"], endpoint="exodus_chaos")
    @same_origin_only
    @guard
    def chaos_on() -> Any:
        return write(lambda: console.chaos_from_form(request.form))

    @app.route(f"{PREFIX}/chaos/clear", methods=["POST"], endpoint="exodus_chaos_clear")
    @same_origin_only
    @guard
    def chaos_clear() -> Any:
        return write(lambda: console.presenter_call("DELETE", "/api/admin/chaos"))

    @app.route(f"{PREFIX}/hide", methods=["POST"], endpoint="exodus_hide")
    @same_origin_only
    @guard
    def hide() -> Any:
        from urllib.parse import quote

        wish_id = quote(request.form.get("wish_id", "")[:200], safe="")
        return write(lambda: console.presenter_call("POST", f"/api/admin/wishes/{wish_id}/hide"))


def install_webui(events_: Any = events) -> None:
    """Install the swarm and this console on a Locust ``events`` object, once."""
    install_session(events_)  # first: its test_start listener must run before the swarm's
    install(events_)
    if id(events_) in _INSTALLED:
        return
    _INSTALLED.add(id(events_))
    events_.init_command_line_parser.add_listener(add_arguments)

    def on_init(environment: Any, **_: Any) -> None:
        if environment.web_ui:
            _wire(environment)

    events_.init.add_listener(on_init)


if __name__ == "exodus2045.locustfiles.webui":
    install_webui(events)
else:  # loaded by path (`locust -f locustfiles/webui.py`): install through the package, once
    import exodus2045.locustfiles.webui  # noqa: F401
